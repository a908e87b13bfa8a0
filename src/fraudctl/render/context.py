"""What templates see for one environment: `env`, `topics`, `rules`, `stream` (and `c` per connector).
Built from the parsed files only: rendering never calls a live service."""

from __future__ import annotations

from typing import Any

from fraudctl.config.durations import duration_ms
from fraudctl.config.project import Project
from fraudctl.config.rules import RULES
from fraudctl.config.settings import Settings


def env_view(project: Project, name: str) -> Settings:
    return project.settings(name)


def topic_views(project: Project, env: Settings) -> dict[str, dict[str, Any]]:
    declared = project.declared_topics()
    defaults = env.topics.defaults.model_dump(exclude_none=True)
    out: dict[str, dict[str, Any]] = {}
    for name, decl in sorted(declared.items()):
        override = env.topics.overrides.get(name)
        merged = {**decl, **defaults, **(override.model_dump(exclude_none=True) if override else {})}
        config = {"cleanup.policy": str(merged.get("cleanup_policy", "delete"))}
        if "retention" in merged:
            config["retention.ms"] = str(duration_ms(merged["retention"]))
        out[name] = {
            "name": name,
            "partitions": int(merged["partitions"]),
            "replication": int(merged.get("replication", 1)),
            "config": config,
        }
    return out


def rule_views(
    project: Project, env: Settings, overrides: dict[str, dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """Enabled rules known to the catalogue, sorted by id, with parameters resolved in order:
    detection file, then the environment's `detections:`, then `overrides` (a scenario's `params:`)."""
    env_params = env.detections
    out = []
    for doc in project.detections:
        d = doc.value or {}
        name = d.get("rule")
        if name not in RULES or d.get("enabled", True) is False:
            continue
        params = {
            **(d.get("params") or {}),
            **(env_params.get(name) or {}),
            **((overrides or {}).get(name) or {}),
        }
        out.append(
            {
                "name": name,
                "id": d.get("id"),
                "severity": d.get("severity"),
                "description": d.get("description"),
                "params": params,
            }
        )
    return sorted(out, key=lambda r: str(r["id"]))


def replication_of(env: Settings) -> int:
    return env.topics.defaults.replication


def stream_view(env: Settings) -> dict[str, Any]:
    return env.stream.model_dump()
