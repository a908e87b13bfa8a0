"""Live health of an environment's pipeline: connectors and tasks (with traces of failures), the
Flink job, consumer lag of the pipeline's consumer groups, and whether the live state matches the
repo. Read-only."""

from __future__ import annotations

from typing import Any

import requests
from confluent_kafka import ConsumerGroupTopicPartitions
from confluent_kafka.admin import AdminClient

from fraudctl.config.settings import Settings
from fraudctl.deploy.engine import Deployment, kafka_admin_config
from fraudctl.deploy.providers.connectors import ConnectorProvider, failures
from fraudctl.deploy.providers.flink_jobs import FlinkJobProvider
from fraudctl.deploy.providers.ksql_statements import KsqlStatementProvider
from fraudctl.deploy.state import StateStore
from fraudctl.kafka_clients import readable_ends
from fraudctl.render.pipeline import STREAM_RUN


def consumer_lag(env: Settings, groups: list[str]) -> dict[str, int | None]:
    """Total lag per group (None when the group has committed nothing yet)."""
    config = kafka_admin_config(env)
    admin = AdminClient(config)
    offsets: dict[str, list[tuple[str, int, int]]] = {}
    for group in groups:  # the client lists one group per request
        future = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)])[group]
        try:
            committed = future.result(timeout=15).topic_partitions or []
        except Exception:  # noqa: BLE001 - an unknown group has no offsets
            committed = []
        offsets[group] = [
            (str(tp.topic), int(tp.partition), int(tp.offset))
            for tp in committed
            if tp.offset is not None and tp.offset >= 0
        ]
    # Lag against what a reader can get, not the high watermark (which counts transaction markers).
    ends = readable_ends(config, sorted({(t, p) for rows in offsets.values() for t, p, _ in rows}))
    return {
        group: sum(max(0, ends[(t, p)] - offset) for t, p, offset in rows) if rows else None
        for group, rows in offsets.items()
    }


def collect(dep: Deployment, state: StateStore) -> dict[str, Any]:
    connectors: ConnectorProvider = dep.providers["connector"]  # type: ignore[assignment]
    live = connectors.client.connectors()
    conn_rows: list[dict[str, Any]] = []
    for name in sorted(set(live) | set(connectors.rendered)):
        status = live.get(name, {}).get("status")
        if status is None:
            conn_rows.append(
                {
                    "name": name,
                    "state": "MISSING",
                    "tasks": [],
                    "failures": [],
                    "managed": name in connectors.rendered,
                }
            )
            continue
        conn_rows.append(
            {
                "name": name,
                "state": status["connector"]["state"],
                "tasks": [{"id": t["id"], "state": t["state"], "worker": t.get("worker_id")} for t in status["tasks"]],
                "failures": failures(status),
                "managed": name in connectors.rendered,
            }
        )
    records = state.records()
    sink_groups = sorted(g for c in connectors.rendered.values() if (g := c.consumer_group) is not None)
    if "flink-job" in dep.providers:
        jobs, engine_groups = _flink_jobs(dep, records), [STREAM_RUN["group"]]
    else:
        jobs, engine_groups = _ksql_queries(dep)
    groups = [*engine_groups, *sink_groups]
    plan = dep.plan(state, prune=False)
    healthy = (
        all(
            c["state"] == "RUNNING" and all(t["state"] == "RUNNING" for t in c["tasks"])
            for c in conn_rows
            if c["managed"]
        )
        and bool(jobs)
        and all(j["state"] == "RUNNING" for j in jobs)
    )
    return {
        "env": dep.env_name,
        "engine": "flink" if "flink-job" in dep.providers else "ksqldb",
        "connectors": conn_rows,
        "jobs": jobs,
        "lag": consumer_lag(dep.env, groups),
        "matches_repo": not plan.has_changes,
        "pending_changes": [c.to_json() for c in plan.writes],
        "healthy": healthy,
    }


def _flink_jobs(dep: Deployment, records: dict[Any, Any]) -> list[dict[str, Any]]:
    flink: FlinkJobProvider = dep.providers["flink-job"]  # type: ignore[assignment]
    flink.actual(flink.desired(), records)
    jobs = []
    for name, jid in sorted(flink.jobs.items()):
        job = requests.get(f"{flink.rest}/jobs/{jid}", timeout=15).json()
        jobs.append(
            {
                "name": name,
                "job_id": jid,
                "state": job.get("state"),
                "current": str(job.get("name", "")).endswith(flink.sql_checksum),
            }
        )
    return jobs


def _ksql_queries(dep: Deployment) -> tuple[list[dict[str, Any]], list[str]]:
    """On ksqlDB: the persistent query behind each of the pipeline's statements, and the consumer
    group of each (Kafka Streams' application id: `_confluent-ksql-<service id>query_<query id>`)."""
    ksql: KsqlStatementProvider = dep.providers["ksql-statement"]  # type: ignore[assignment]
    queries = ksql.live_queries([s.name for s in ksql.statements])
    service = str(ksql.client.info().get("ksqlServiceId", ""))
    jobs = [
        {"name": name, "job_id": query_id, "state": state, "current": True}
        for name, (query_id, state) in queries.items()
    ]
    groups = [f"_confluent-ksql-{service}query_{query_id}" for query_id, _s in queries.values() if query_id]
    return jobs, groups


def restart_failed(dep: Deployment) -> list[str]:
    """Restarts only failed connectors and failed tasks; returns what was restarted."""
    connectors: ConnectorProvider = dep.providers["connector"]  # type: ignore[assignment]
    restarted = []
    for name, failed_tasks in connectors.client.failed().items():
        connectors.client.restart_failed(name)
        restarted.append(f"{name} (tasks {failed_tasks})" if failed_tasks else name)
    return restarted
