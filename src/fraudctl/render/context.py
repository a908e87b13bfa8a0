"""What templates see for one environment: `env`, `topics`, `rules`, `stream` (and `c` per connector).
Built from the parsed files only: rendering never calls a live service."""

from __future__ import annotations

from typing import Any

from fraudctl.config.durations import duration_ms
from fraudctl.config.project import Project
from fraudctl.config.rules import RULES

DEFAULT_LATENESS = "5s"
DEFAULT_DEDUP_WINDOW = "1d"


def env_view(project: Project, name: str) -> dict[str, Any]:
    raw = dict(project.environments[name].value or {})
    raw.setdefault("name", name)
    return raw


def topic_views(project: Project, env: dict[str, Any]) -> dict[str, dict[str, Any]]:
    declared = (project.topics.value or {}).get("topics", {}) if project.topics else {}
    topics_cfg = env.get("topics") or {}
    defaults = topics_cfg.get("defaults") or {}
    overrides = topics_cfg.get("overrides") or {}
    out: dict[str, dict[str, Any]] = {}
    for name, decl in sorted(declared.items()):
        merged = {**decl, **defaults, **(overrides.get(name) or {})}
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
    project: Project, env: dict[str, Any], overrides: dict[str, dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """Enabled rules known to the catalogue, sorted by id, with parameters resolved in order:
    detection file, then the environment's `detections:`, then `overrides` (a scenario's `params:`)."""
    env_params = env.get("detections") or {}
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


def replication_of(env: dict[str, Any]) -> int:
    return int(((env.get("topics") or {}).get("defaults") or {}).get("replication", 1))


def stream_view(env: dict[str, Any]) -> dict[str, Any]:
    stream = env.get("stream") or {}
    return {
        "allowed_lateness": stream.get("allowed_lateness", DEFAULT_LATENESS),
        "dedup_window": stream.get("dedup_window", DEFAULT_DEDUP_WINDOW),
    }
