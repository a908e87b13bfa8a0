"""Reference data as it changes: a blacklist row inserted in PostgreSQL reaches the Flink detection
through the Debezium CDC source within seconds, an updated row changes the alerts' evidence, and
deleting it stops the alerts (a still-listed user, checked in the same window, proves the
pipeline is live)."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from confluent_kafka import Consumer, Producer

from tests.conftest import Endpoints

pytestmark = pytest.mark.stack
ROOT = Path(__file__).resolve().parents[2]


def _tx(user: str, tid: str) -> bytes:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return json.dumps(
        {
            "transaction_id": tid,
            "user_id": user,
            "amount": 10.0,
            "currency": "EUR",
            "timestamp": now,
            "location": "Paris",
        }
    ).encode()


class Probe:
    """Produces transactions (and background traffic that moves the watermark) and collects the
    blacklisted_account detections."""

    def __init__(self, bootstrap: str) -> None:
        self.producer = Producer({"bootstrap.servers": bootstrap})
        self.consumer = Consumer(
            {"bootstrap.servers": bootstrap, "group.id": f"bl-{uuid.uuid4().hex}", "auto.offset.reset": "latest"}
        )
        self.consumer.subscribe(["detections"])
        self.alerts: set[str] = set()
        self.evidence: dict[str, str] = {}
        self.consumer.poll(2)

    def pay(self, user: str) -> str:
        tid = f"bl-{uuid.uuid4().hex[:8]}"
        self.producer.produce("transactions", key=user, value=_tx(user, tid))
        self.producer.flush(10)
        return tid

    def run_for(self, seconds: float, until: set[str] | None = None) -> None:
        # Background traffic on every partition, as real traffic is: a partition that receives
        # nothing holds the watermark back for stream.partition_idle_timeout (60s).
        partitions = len(self.producer.list_topics("transactions", timeout=10).topics["transactions"].partitions)
        deadline = time.monotonic() + seconds
        tick = 0
        while time.monotonic() < deadline and not (until and until <= self.alerts):
            part = tick % partitions
            tick += 1
            tid = f"bl-bg-{uuid.uuid4().hex[:8]}"
            self.producer.produce(
                "transactions", key=f"U-background-p{part}", value=_tx(f"U-background-p{part}", tid), partition=part
            )
            self.producer.flush(10)
            msg = self.consumer.poll(0.5)
            if msg is not None and not msg.error():
                record = json.loads(msg.value() or b"{}")
                if record.get("rule") == "blacklisted_account":
                    self.alerts.add(str(record["transaction_id"]))
                    self.evidence[str(record["transaction_id"])] = str(record.get("evidence"))


def test_blacklist_changes_reach_detection_within_seconds(applied: Endpoints) -> None:
    local_stack = applied
    removed, kept = f"U-bl-{uuid.uuid4().hex[:6]}", f"U-bl-{uuid.uuid4().hex[:6]}"
    probe = Probe(local_stack.bootstrap)
    with psycopg.connect(local_stack.pg_conninfo, autocommit=True) as conn:
        conn.execute("INSERT INTO blacklist (user_id, reason) VALUES (%s, 'test'), (%s, 'test')", (removed, kept))
        time.sleep(3)  # the CDC source's poll interval
        first = {probe.pay(removed), probe.pay(kept)}
        started = time.monotonic()
        probe.run_for(30, until=first)
        assert first <= probe.alerts, "a newly blacklisted user must raise alerts"
        assert time.monotonic() - started < 30
        assert all(json.loads(probe.evidence[t]) == {"reason": "test"} for t in first)
        conn.execute("UPDATE blacklist SET reason = 'updated: chargeback' WHERE user_id = %s", (kept,))
        time.sleep(3)
        updated = probe.pay(kept)
        probe.run_for(30, until={updated})
        assert json.loads(probe.evidence[updated]) == {"reason": "updated: chargeback"}
        conn.execute("DELETE FROM blacklist WHERE user_id = %s", (removed,))
        time.sleep(3)
        after_removed, after_kept = probe.pay(removed), probe.pay(kept)
        probe.run_for(30, until={after_kept})
        assert after_kept in probe.alerts, "the still-listed user proves the pipeline was live"
        probe.run_for(3)
        assert after_removed not in probe.alerts, "a removed user must not raise alerts any more"
        conn.execute("DELETE FROM blacklist WHERE user_id = %s", (kept,))
    probe.consumer.close()
