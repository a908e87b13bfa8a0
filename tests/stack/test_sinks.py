"""The alert sinks as configuration, on the live stack: PostgreSQL upserts by alert_id without
touching the analysts' columns, the search index overwrites by alert_id, and a record neither can
write goes to the sinks' dead-letter topic while the connectors keep running."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import psycopg
import pytest
import requests
import yaml
from confluent_kafka import Consumer, Producer, TopicPartition

from tests.conftest import Endpoints

pytestmark = pytest.mark.stack
ROOT = Path(__file__).resolve().parents[2]
# Every sink that reads the alerts topic (PostgreSQL, search, the compliance archive).
ALERT_SINKS = {
    p.stem for p in (ROOT / "connectors").glob("*.yaml") if "fraud-alerts" in yaml.safe_load(p.read_text())["topics"]
}


def _alert(alert_id: str, risk: float) -> dict[str, object]:
    return {
        "alert_id": alert_id,
        "rule": "high_value",
        "rule_id": "FR-003",
        "severity": "medium",
        "user_id": "U-sink",
        "transaction_id": alert_id.split(":")[1],
        "amount": 4200.5,
        "currency": "EUR",
        "location": "Paris",
        "event_time": "2024-11-16 14:00:00",
        "window_start": "2024-10-17 14:00:00",
        "window_end": "2024-11-16 14:00:00",
        "evidence": "{}",
        "risk_score": risk,
        "model_version": "test",
        "reasons": ["amount_to_user_avg"],
    }


def _send(bootstrap: str, value: bytes) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    producer.produce("fraud-alerts", key="U-sink", value=value)
    assert producer.flush(10) == 0


def _wait(condition, seconds: float = 60) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    raise AssertionError("condition not met in time")


def test_postgres_upserts_by_alert_id_and_keeps_case_columns(applied: Endpoints) -> None:
    alert_id = f"high_value:s-{uuid.uuid4().hex[:8]}"
    with psycopg.connect(applied.pg_conninfo, autocommit=True) as conn:

        def row() -> tuple[object, ...] | None:
            return conn.execute(
                "SELECT risk_score, status, assignee, amount::text FROM fraud_alerts WHERE alert_id = %s", (alert_id,)
            ).fetchone()

        _send(applied.bootstrap, json.dumps(_alert(alert_id, 0.5)).encode())
        _wait(lambda: row() is not None)
        conn.execute(
            "UPDATE fraud_alerts SET status = 'investigating', assignee = 'ana' WHERE alert_id = %s", (alert_id,)
        )
        _send(applied.bootstrap, json.dumps(_alert(alert_id, 0.9)).encode())  # re-delivered, rescored
        _wait(lambda: (r := row()) is not None and r[0] == 0.9)
        assert row() == (0.9, "investigating", "ana", "4200.50")
        count = conn.execute("SELECT count(*) FROM fraud_alerts WHERE alert_id = %s", (alert_id,)).fetchone()
        assert count == (1,)


def test_search_index_overwrites_by_alert_id(applied: Endpoints) -> None:
    alert_id = f"high_value:s-{uuid.uuid4().hex[:8]}"
    for risk in (0.4, 0.7):
        _send(applied.bootstrap, json.dumps(_alert(alert_id, risk)).encode())

    def doc() -> dict | None:  # type: ignore[type-arg]
        resp = requests.get(f"{applied.search_url}/fraud-alerts/_doc/{alert_id}", timeout=10)
        return resp.json().get("_source") if resp.status_code == 200 else None

    _wait(lambda: (d := doc()) is not None and d["risk_score"] == 0.7)
    requests.post(f"{applied.search_url}/fraud-alerts/_refresh", timeout=10)
    query = {"query": {"term": {"alert_id": alert_id}}}  # a keyword field (search/fraud-alerts.json)
    hits = requests.post(f"{applied.search_url}/fraud-alerts/_search", json=query, timeout=10).json()["hits"]
    assert hits["total"]["value"] == 1


def test_unwritable_record_goes_to_the_dlq_and_connectors_keep_running(applied: Endpoints) -> None:
    consumer = Consumer({"bootstrap.servers": applied.bootstrap, "group.id": f"dlq-{uuid.uuid4().hex}"})
    start = consumer.get_watermark_offsets(TopicPartition("dlq-sinks", 0), timeout=10)[1]
    marker = f"not-an-object-{uuid.uuid4().hex[:6]}"
    _send(applied.bootstrap, json.dumps([marker]).encode())  # valid JSON, but not an alert object
    consumer.assign([TopicPartition("dlq-sinks", 0, start)])
    seen: dict[str, dict[str, str]] = {}
    deadline = time.monotonic() + 60
    while len(seen) < len(ALERT_SINKS) and time.monotonic() < deadline:
        msg = consumer.poll(0.5)
        if msg is None or msg.error() or marker.encode() not in (msg.value() or b""):
            continue
        headers = {k: (v or b"").decode(errors="replace") for k, v in (msg.headers() or [])}
        seen[headers.get("__connect.errors.connector.name", "?")] = headers
    consumer.close()
    assert set(seen) == ALERT_SINKS
    for headers in seen.values():
        assert headers["__connect.errors.topic"] == "fraud-alerts"
        assert headers["__connect.errors.exception.class.name"] == "org.apache.kafka.connect.errors.DataException"
    for name in ALERT_SINKS:
        status = requests.get(f"{applied.connect_url}/connectors/{name}/status", timeout=10).json()
        assert [t["state"] for t in status["tasks"]] == ["RUNNING"]


def test_an_alert_missing_a_not_null_column_is_dead_lettered_and_the_next_one_written(applied: Endpoints) -> None:
    """Issue 15: an alert without `rule` (NOT NULL in fraud_alerts) failed the PostgreSQL sink's
    task on the insert. Now the sink's SMT dead-letters it, naming the field, and a valid control
    alert sent after it reaches the table."""
    consumer = Consumer({"bootstrap.servers": applied.bootstrap, "group.id": f"dlq-{uuid.uuid4().hex}"})
    start = consumer.get_watermark_offsets(TopicPartition("dlq-sinks", 0), timeout=10)[1]
    run = uuid.uuid4().hex[:8]
    bad = {**_alert(f"high_value:nn-{run}", 0.5), "rule": None}
    control = _alert(f"high_value:ok-{run}", 0.5)
    _send(applied.bootstrap, json.dumps(bad).encode())
    _send(applied.bootstrap, json.dumps(control).encode())
    consumer.assign([TopicPartition("dlq-sinks", 0, start)])
    reason: dict[str, str] = {}

    def dead_lettered() -> bool:
        msg = consumer.poll(0.5)
        if msg is not None and not msg.error() and f"nn-{run}".encode() in (msg.value() or b""):
            headers = {k: (v or b"").decode(errors="replace") for k, v in (msg.headers() or [])}
            if headers.get("__connect.errors.connector.name") == "alerts-postgres":
                reason.update(headers)
        return bool(reason)

    try:
        _wait(dead_lettered)
    finally:
        consumer.close()
    assert "field 'rule' is required" in reason["__connect.errors.exception.message"]

    def written() -> bool:
        with psycopg.connect(applied.pg_conninfo) as conn:
            row = conn.execute("SELECT count(*) FROM fraud_alerts WHERE alert_id = %s", (control["alert_id"],))
            return row.fetchone() == (1,)

    _wait(written)
    status = requests.get(f"{applied.connect_url}/connectors/alerts-postgres/status", timeout=10).json()
    assert [t["state"] for t in status["tasks"]] == ["RUNNING"]
