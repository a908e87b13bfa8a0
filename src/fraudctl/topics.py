"""Topics declared in topics.yaml, and creating the missing ones on a cluster."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from fraudctl.config.durations import duration_ms
from fraudctl.config.environment import Environment
from fraudctl.paths import repo_root


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    replication: int
    config: dict[str, str]


def load_topics(env: Environment, path: Path | None = None) -> list[TopicSpec]:
    raw = yaml.safe_load((path or repo_root() / "topics.yaml").read_text())["topics"]
    defaults = env.get("topics.defaults") or {}
    overrides = env.get("topics.overrides") or {}
    specs = []
    for name, decl in sorted(raw.items()):
        merged = {**decl, **defaults, **(overrides.get(name) or {})}
        config = {"cleanup.policy": str(merged.get("cleanup_policy", "delete"))}
        if "retention" in merged:
            config["retention.ms"] = str(duration_ms(merged["retention"]))
        specs.append(TopicSpec(name, int(merged["partitions"]), int(merged.get("replication", 1)), config))
    return specs


def create_missing(bootstrap: str, specs: list[TopicSpec]) -> tuple[list[str], list[str]]:
    """Creates the topics that do not exist yet; returns (created, already present)."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    existing = set(admin.list_topics(timeout=10).topics)
    todo = [s for s in specs if s.name not in existing]
    if todo:
        futures = admin.create_topics(
            [
                NewTopic(s.name, num_partitions=s.partitions, replication_factor=s.replication, config=s.config)
                for s in todo
            ]
        )
        for future in futures.values():
            future.result(timeout=30)
    return [s.name for s in todo], sorted(s.name for s in specs if s.name in existing)
