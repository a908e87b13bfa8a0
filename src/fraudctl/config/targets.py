"""Where the pipeline's data ends up, read from the connector intents (connectors/*.yaml), so
tools that read the sinks back (the demo's checks, training from the archive) never restate a
table, index or prefix."""

from __future__ import annotations

from dataclasses import dataclass

from fraudctl.config.project import Project

TRANSACTIONS, ALERTS, SCORED = "transactions", "fraud-alerts", "transactions-scored"


class TargetError(Exception):
    pass


@dataclass(frozen=True)
class SinkTargets:
    alerts_table: str  # PostgreSQL table the alerts are upserted into
    alerts_index: str  # search index of the alerts
    raw_prefix: str  # S3 prefix of the archive of every transaction
    compliance_prefix: str  # S3 prefix of the archive of alerts (suspicious events)
    scored_prefix: str  # S3 prefix of the archive of scored transactions (training data)


def sink_targets(project: Project) -> SinkTargets:
    found: dict[str, str] = {}
    for doc in project.connectors:
        value = doc.value or {}
        if value.get("enabled", True) is False:
            continue
        kind, topics, target = value.get("kind"), value.get("topics") or [], value.get("target") or {}
        if kind == "postgres-upsert" and ALERTS in topics:
            found["alerts_table"] = str(target["table"])
        elif kind == "search-alerts" and ALERTS in topics:
            found["alerts_index"] = str(target["index"])
        elif kind == "s3-archive" and TRANSACTIONS in topics:
            found["raw_prefix"] = str(target["prefix"])
        elif kind == "s3-archive" and ALERTS in topics:
            found["compliance_prefix"] = str(target["prefix"])
        elif kind == "s3-archive" and SCORED in topics:
            found["scored_prefix"] = str(target["prefix"])
    missing = sorted({"alerts_table", "alerts_index", "raw_prefix", "compliance_prefix", "scored_prefix"} - set(found))
    if missing:
        raise TargetError(f"no enabled connector writes: {', '.join(missing)} (see connectors/)")
    return SinkTargets(**found)
