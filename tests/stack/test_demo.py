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
from fraudctl.config.targets import SCORED, sink_targets
from fraudctl.contract import MODEL_RULE
from fraudctl.demo import sinks
from fraudctl.generate.traffic import MODEL_ONLY, RULE_KINDS
from fraudctl.kafka_clients import read_to_end, readable_ends
from fraudctl.model.dataset import load as load_dataset
from fraudctl.objectstore import s3_client
from fraudctl.render.context import env_view
from tests.cli import fraudctl
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
    # Every rule fired; the model alerted on its own stories at least (model-only, and rule
    # frauds it scores as high).
    assert set(s["alerts_by_rule"]) - {MODEL_RULE} == set(RULE_KINDS)
    assert s["caught"][MODEL_ONLY] == s["injected"][MODEL_ONLY] == 2, s["missed"]
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
    # Exactly the run's scored transactions (the scored archive is the training set), each once.
    scored = set(_wait_archived(local_stack.bootstrap, run_id))
    out = _export(tmp_path)
    with open(out, newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["transaction_id"].startswith(run_id + "-")]
    assert len(rows) == len({r["transaction_id"] for r in rows}) == len(scored)
    assert {r["transaction_id"] for r in rows} == scored
    assert {r["transaction_id"] for r in rows if r["is_fraud"] == "1"} == confirmed & scored
    assert len(confirmed) >= demo_run["rule_based_caught"]  # every caught story's trigger, at least


def _export(tmp_path: Path) -> Path:
    """`fraudctl model export` of the local archive, as a user runs it."""
    out = tmp_path / "training.csv"
    res = fraudctl("model", "export", "--env", "local", "--out", str(out), "-o", "json", timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    return out


def _scored_ids(bootstrap: str, run_id: str) -> list[str]:
    return [
        str(v["transaction"]["transaction_id"])
        for v in (json.loads(m.value()) for m in read_to_end({"bootstrap.servers": bootstrap}, SCORED))
        if str(v["transaction"]["transaction_id"]).startswith(run_id + "-")
    ]


def _wait_archived(bootstrap: str, run_id: str) -> dict[str, list[float]]:
    """The archived vectors of the run, once the archive holds exactly the run's scored transactions
    (the sink writes every 10 s)."""
    wanted = set(_scored_ids(bootstrap, run_id))
    project, _ = load_project(ROOT)
    env = env_view(project, "local")
    client, bucket = s3_client(env), env.need("s3").bucket
    prefix = f"{sink_targets(project).scored_prefix}{SCORED}/"
    deadline = time.monotonic() + 90
    served = _archived_scored(client, bucket, prefix, run_id)
    while set(served) != wanted and time.monotonic() < deadline:
        time.sleep(2)
        served = _archived_scored(client, bucket, prefix, run_id)
    assert set(served) == wanted, f"{len(wanted - set(served))} scored transaction(s) not archived after 90 s"
    return served


def _archived_scored(client: Any, bucket: str, prefix: str, run_id: str) -> dict[str, list[float]]:
    """The vector the service scored for each of the run's transactions, from the S3 scored archive."""
    out: dict[str, list[float]] = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            for line in client.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read().decode().splitlines():
                record = json.loads(line)
                if str(record["transaction"]["transaction_id"]).startswith(run_id + "-"):
                    out[str(record["transaction"]["transaction_id"])] = record["features"]
    return out


def test_training_recomputes_the_vectors_serving_scored(
    local_stack: Endpoints, demo_run: dict[str, Any], tmp_path: Path
) -> None:
    """Training/serving skew: what the service computed for live transactions (kept with each scored
    transaction) equals what the training path computes from the archive (export, then the
    dataset reader), within float32 tolerance."""
    import numpy as np

    run_id = demo_run["run_id"]
    served = _wait_archived(local_stack.bootstrap, run_id)
    wanted = set(served)
    assert len(wanted) >= demo_run["scored"] > 0
    out = _export(tmp_path)
    data = load_dataset(out, "is_fraud", "timestamp")
    with open(out, newline="") as f:
        ids = [r["transaction_id"] for r in csv.DictReader(f)]
    mine = [i for i, t in enumerate(ids) if t in wanted]
    assert len(mine) == len(wanted)
    trained = data.X[mine]
    scored = np.asarray([served[ids[i]] for i in mine], dtype=np.float32)
    assert trained.shape == scored.shape
    worst = np.unravel_index(np.argmax(np.abs(trained - scored)), trained.shape)
    assert np.allclose(trained, scored, rtol=1e-5, atol=1e-4), (
        f"feature {data.features[worst[1]]} of {ids[mine[worst[0]]]}: "
        f"training {trained[worst]}, serving {scored[worst]}"
    )


def test_detector_quality_counts_the_analysts_verdicts_per_detector(local_stack: Endpoints) -> None:
    """`fraudctl query detector-quality` against the same counts computed here from the alert rows
    (after the test above confirmed the run's alerts as fraud, one is set to not fraud)."""
    with psycopg.connect(local_stack.pg_conninfo, autocommit=True) as conn:
        conn.execute(
            "UPDATE fraud_alerts SET disposition = 'not_fraud' WHERE alert_id = "
            "(SELECT min(alert_id) FROM fraud_alerts WHERE rule = 'new_device' AND disposition = 'fraud')"
        )
        rows = conn.execute(
            "SELECT rule, transaction_id, disposition, risk_score FROM fraud_alerts "
            "WHERE CAST(event_time AS timestamp) >= now() AT TIME ZONE 'UTC' - interval '30 days'"
        ).fetchall()
    project, _ = load_project(ROOT)
    threshold = env_view(project, "local").need("scoring").risk_threshold
    verdict: dict[str, str] = {}
    for _rule, tx, disposition, _score in rows:
        if disposition == "fraud" or (disposition == "not_fraud" and verdict.get(tx) != "fraud"):
            verdict[tx] = disposition
    flagged: dict[str, set[str]] = {}
    for rule, tx, _disposition, score in rows:
        if rule != MODEL_RULE:
            flagged.setdefault(rule, set()).add(tx)
        if score is not None and score >= threshold:
            flagged.setdefault(MODEL_RULE, set()).add(tx)
    fraud = {t for t, v in verdict.items() if v == "fraud"}
    expected = []
    for detector in sorted(flagged):
        txs = flagged[detector]
        tp = len(txs & fraud)
        fp = sum(1 for t in txs if verdict.get(t) == "not_fraud")
        expected.append(
            {
                "detector": detector,
                "flagged": len(txs),
                "true_positives": tp,
                "false_positives": fp,
                "undecided": len(txs) - tp - fp,
                "false_negatives": len(fraud - txs),
                "precision": round(tp / (tp + fp), 4) if tp + fp else None,
            }
        )
    res = fraudctl("query", "--env", "local", "detector-quality", "--output", "json", timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    got = json.loads(res.stdout)["rows"]
    assert got == expected
    assert any(r["false_positives"] == 1 for r in got if r["detector"] == "new_device")
