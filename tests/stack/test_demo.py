"""The pipeline end to end on the local stack, through the command a new user runs first.

`fraudctl demo` streams generated traffic with injected fraud of every rule's kind; every
rule-based case must raise its alert, every alert must be in PostgreSQL and the search index once,
and the S3 archive must hold every transaction once. Then the alert sinks are made to read the
whole alerts topic again (offsets reset through Connect's REST API): the counts must not move."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests
from confluent_kafka import Consumer, ConsumerGroupTopicPartitions
from confluent_kafka.admin import AdminClient

from fraudctl.config.project import load_project
from fraudctl.demo import sinks
from fraudctl.generate.traffic import RULE_KINDS
from fraudctl.kafka_clients import readable_ends
from fraudctl.objectstore import s3_client
from fraudctl.render.context import env_view
from tests.conftest import Endpoints

pytestmark = pytest.mark.stack
ROOT = Path(__file__).resolve().parents[2]
ALERT_SINKS = ("alerts-postgres", "alerts-search")


@pytest.fixture(scope="module")
def demo_run(local_stack: Endpoints) -> dict[str, Any]:
    res = subprocess.run(
        [sys.executable, "-m", "fraudctl", "demo", "--output", "json", "--rate", "40", "--duration", "50"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    summary: dict[str, Any] = json.loads(res.stdout)
    assert res.returncode == (0 if summary.get("ok") else 1), res.stderr[-2000:]
    return summary


def test_every_injected_rule_fraud_raises_its_alert(demo_run: dict[str, Any]) -> None:
    s = demo_run
    # 40/s for 50 s of ordinary payments, plus two stories of each kind: a burst of min_count (5),
    # two payments for location, high value, new device and model-only, one blacklisted payment.
    assert s["transactions_sent"] == 40 * 50 + 2 * (5 + 2 + 2 + 2 + 2 + 1)
    for kind in RULE_KINDS:
        assert s["injected"][kind] == 2
        assert s["caught"][kind] == 2, (kind, s["missed"])
    assert s["false_alerts"] == 0, s["false_alert_ids"]
    assert set(s["alerts_by_rule"]) == set(RULE_KINDS)
    assert s["latency_ms"]["count"] == s["alerts"] and s["latency_ms"]["p50"] > 0


def test_every_alert_is_in_postgres_and_the_index_once_and_every_transaction_archived_once(
    demo_run: dict[str, Any],
) -> None:
    s = demo_run
    assert s["sinks"]["postgres"] == {"records": s["alerts"], "distinct": s["alerts"]}
    assert s["sinks"]["search"] == {"records": s["alerts"], "distinct": s["alerts"]}
    assert s["sinks"]["s3"] == {"records": s["transactions_sent"], "distinct": s["transactions_sent"]}
    assert s["sinks"]["compliance"] == {"records": s["alerts"], "distinct": s["alerts"]}
    assert s["ok"] is True


def test_the_compliance_archive_has_its_retention_rule(local_stack: Endpoints) -> None:
    project, _ = load_project(ROOT)
    env = env_view(project, "local")
    rules = s3_client(env).get_bucket_lifecycle_configuration(Bucket=env.need("s3").bucket)["Rules"]
    ours = [r for r in rules if r["ID"] == "fraudctl:suspicious-events-s3-archive"]
    assert [(r["Filter"]["Prefix"], r["Expiration"]["Days"], r["Status"]) for r in ours] == [
        ("compliance/suspicious-events/", 2555, "Enabled")
    ]


def _group_caught_up(bootstrap: str, group: str, topic: str) -> bool:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    committed = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)])[group].result()
    have = {tp.partition: tp.offset for tp in committed.topic_partitions if tp.topic == topic}
    probe = Consumer({"bootstrap.servers": bootstrap, "group.id": "fraudctl-test-probe"})
    try:
        parts = probe.list_topics(topic, timeout=10).topics[topic].partitions
    finally:
        probe.close()
    # The end a read_committed reader reaches: the enrichment step writes in transactions, and the
    # commit marker after each takes an offset no consumer ever receives.
    ends = readable_ends({"bootstrap.servers": bootstrap}, [(topic, p) for p in parts])
    return all(have.get(p, -1) >= end for (_t, p), end in ends.items() if end > 0)


def test_redelivering_the_alerts_changes_no_count(local_stack: Endpoints, demo_run: dict[str, Any]) -> None:
    connect = local_stack.connect_url
    for name in ALERT_SINKS:
        assert requests.put(f"{connect}/connectors/{name}/stop", timeout=30).status_code in (202, 204)
    deadline = time.monotonic() + 60
    while any(
        requests.get(f"{connect}/connectors/{n}/status", timeout=10).json()["connector"]["state"] != "STOPPED"
        for n in ALERT_SINKS
    ):
        assert time.monotonic() < deadline, "sinks did not stop"
        time.sleep(0.5)
    for name in ALERT_SINKS:
        # KIP-875: a stopped sink's offsets can be deleted; it then reads the topic from the start.
        resp = requests.delete(f"{connect}/connectors/{name}/offsets", timeout=60)
        assert resp.status_code == 200, resp.text
        assert not _group_caught_up(local_stack.bootstrap, f"connect-{name}", "fraud-alerts")
    for name in ALERT_SINKS:
        assert requests.put(f"{connect}/connectors/{name}/resume", timeout=30).status_code == 202
    deadline = time.monotonic() + 120
    while not all(_group_caught_up(local_stack.bootstrap, f"connect-{n}", "fraud-alerts") for n in ALERT_SINKS):
        assert time.monotonic() < deadline, "the sinks did not read the alerts topic again within 120 s"
        time.sleep(1)
    project, _ = load_project(ROOT)
    env = env_view(project, "local")
    run_id, alerts = demo_run["run_id"], demo_run["alerts"]
    assert sinks.postgres_alerts(env, "fraud_alerts", run_id).to_json() == {"records": alerts, "distinct": alerts}
    assert sinks.search_alerts(env, "fraud-alerts", run_id).to_json() == {"records": alerts, "distinct": alerts}
    for name in ALERT_SINKS:
        state = requests.get(f"{connect}/connectors/{name}/status", timeout=10).json()
        assert state["connector"]["state"] == "RUNNING"
        assert [t["state"] for t in state["tasks"]] == ["RUNNING"]


def test_training_data_comes_from_the_archive_and_the_analysts_verdicts(
    local_stack: Endpoints, demo_run: dict[str, Any], tmp_path: Path
) -> None:
    run_id = demo_run["run_id"]
    with psycopg.connect(local_stack.pg_conninfo, autocommit=True) as conn:
        # An analyst confirms the run's alerts as fraud (the case-work column the pipeline never writes).
        conn.execute("UPDATE fraud_alerts SET disposition = 'fraud' WHERE transaction_id LIKE %s", (run_id + "-%",))
        confirmed = {
            r[0]
            for r in conn.execute(
                "SELECT DISTINCT transaction_id FROM fraud_alerts WHERE transaction_id LIKE %s", (run_id + "-%",)
            )
        }
    out = tmp_path / "training.csv"
    res = subprocess.run(
        [sys.executable, "-m", "fraudctl", "model", "export", "--env", "local", "--out", str(out), "-o", "json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    with open(out, newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["transaction_id"].startswith(run_id + "-")]
    assert len(rows) == len({r["transaction_id"] for r in rows}) == demo_run["transactions_sent"]
    assert {r["transaction_id"] for r in rows if r["is_fraud"] == "1"} == confirmed
    assert len(confirmed) >= demo_run["rule_based_caught"]  # every caught story's trigger, at least
