"""Topics declared in topics.yaml, and creating the missing ones on a cluster."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from fraudctl.config.environment import Environment
from fraudctl.paths import repo_root

_DURATION = re.compile(r"^(\d+)(ms|s|m|h|d)$")
_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}


def duration_ms(text: str) -> int:
    match = _DURATION.match(str(text).strip())
    if not match:
        raise ValueError(f"expected a duration such as 30s, 10m, 2h or 7d, got {text!r}")
    return int(match.group(1)) * _UNIT_MS[match.group(2)]


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
                NewTopic(
                    s.name, num_partitions=s.partitions, replication_factor=s.replication, config=s.config
                )
                for s in todo
            ]
        )
        for future in futures.values():
            future.result(timeout=30)
    return [s.name for s in todo], sorted(s.name for s in specs if s.name in existing)
