"""Kafka topics through the AdminClient. Partitions can only grow and replication is not changed
in place: both are refused in the plan with the reason."""

from __future__ import annotations

from typing import Any

from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewPartitions,
    NewTopic,
)

from fraudctl.deploy import diff
from fraudctl.deploy.model import CREATE, DELETE, REFUSED, UPDATE, Change, Resource
from fraudctl.deploy.providers import Progress
from fraudctl.deploy.state import Record


def _flat(spec: dict[str, Any]) -> dict[str, Any]:
    out = {"partitions": spec["partitions"], "replication": spec["replication"]}
    out.update({f"config.{k}": v for k, v in sorted(spec["config"].items())})
    return out


class TopicProvider:
    kind = "topic"

    def __init__(self, admin_config: dict[str, str | int | float | bool], topics: dict[str, dict[str, Any]]) -> None:
        self.admin = AdminClient(dict(admin_config))
        self.topics = topics

    def desired(self) -> dict[str, Resource]:
        return {name: Resource(self.kind, name, _flat(spec)) for name, spec in self.topics.items()}

    def actual(self, desired: dict[str, Resource], records: dict[tuple[str, str], Record]) -> dict[str, Resource]:
        wanted = set(desired) | {name for (kind, name) in records if kind == self.kind}
        metadata = self.admin.list_topics(timeout=15).topics
        present = sorted(n for n in wanted if n in metadata)
        if not present:
            return {}
        resources = [ConfigResource(ConfigResource.Type.TOPIC, n) for n in present]
        configs = {r.name: f.result(timeout=15) for r, f in self.admin.describe_configs(resources).items()}
        out: dict[str, Resource] = {}
        for name in present:
            partitions = metadata[name].partitions
            spec: dict[str, Any] = {
                "partitions": len(partitions),
                "replication": len(next(iter(partitions.values())).replicas),
            }
            # Only the config keys the repo manages are compared; the broker's defaults are not drift.
            keys = [k for k in (desired[name].spec if name in desired else {}) if k.startswith("config.")]
            for key in keys:
                entry = configs[name].get(key.removeprefix("config."))
                spec[key] = entry.value if entry is not None else None
            out[name] = Resource(self.kind, name, spec)
        return out

    def plan(
        self, desired: dict[str, Resource], actual: dict[str, Resource], managed: set[str], prune: bool
    ) -> list[Change]:
        out = []
        for change in diff.compute(self.kind, desired, actual, managed, prune):
            reasons = []
            for f in change.fields:
                if change.op == UPDATE and f.key == "partitions" and f.after < f.before:
                    reasons.append(
                        f"partitions cannot shrink ({f.before} -> {f.after}); create a new topic and migrate"
                    )
                if change.op == UPDATE and f.key == "replication":
                    reasons.append(
                        f"replication {f.before} -> {f.after} needs a partition reassignment "
                        "(kafka-reassign-partitions), which fraudctl does not do"
                    )
            if reasons:
                change = Change(change.kind, change.name, REFUSED, change.fields, "; ".join(reasons), change.desired)
            out.append(change)
        return out

    def apply(self, change: Change) -> None:
        if change.op == CREATE and change.desired is not None:
            spec = change.desired.spec
            config = {k.removeprefix("config."): str(v) for k, v in spec.items() if k.startswith("config.")}
            topic = NewTopic(
                change.name,
                num_partitions=spec["partitions"],
                replication_factor=spec["replication"],
                config=config,
            )
            for created in self.admin.create_topics([topic]).values():
                created.result(timeout=30)
        elif change.op == UPDATE:
            for f in change.fields:
                if f.key == "partitions":
                    for fut in self.admin.create_partitions([NewPartitions(change.name, f.after)]).values():
                        fut.result(timeout=30)
            entries = [
                ConfigEntry(f.key.removeprefix("config."), str(f.after), incremental_operation=AlterConfigOpType.SET)
                for f in change.fields
                if f.key.startswith("config.")
            ]
            if entries:
                resource = ConfigResource(ConfigResource.Type.TOPIC, change.name, incremental_configs=entries)
                for fut in self.admin.incremental_alter_configs([resource]).values():
                    fut.result(timeout=30)
        elif change.op == DELETE:
            for deleted in self.admin.delete_topics([change.name], operation_timeout=30).values():
                deleted.result(timeout=30)

    def wait(self, names: list[str], deadline: float, progress: Progress) -> list[str]:
        return []  # topic operations complete before their futures resolve
