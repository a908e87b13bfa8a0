"""Poison records on the transactions topic: the deployed Flink job keeps running, each one lands
on the dead-letter topic with the reason, source topic, partition and offset in headers, and good
records around them are still evaluated."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
from confluent_kafka import Producer

from fraudctl.demo.watch import TopicWatcher
from tests.conftest import Endpoints
from tests.stack.clock import Clock, stamp

pytestmark = pytest.mark.stack
ROOT = Path(__file__).resolve().parents[2]


def _job(flink_rest: str) -> tuple[str, int]:
    jobs = requests.get(f"{flink_rest}/jobs/overview", timeout=10).json()["jobs"]
    [job] = [j for j in jobs if j["name"].startswith("fraudctl:local:detections") and j["state"] == "RUNNING"]
    metric = requests.get(f"{flink_rest}/jobs/{job['jid']}/metrics", params={"get": "numRestarts"}, timeout=10)
    return str(job["jid"]), int(metric.json()[0]["value"])


def test_poison_records_reach_the_dead_letter_topic_and_the_job_keeps_running(applied: Endpoints) -> None:
    local_stack = applied
    job_before = _job(local_stack.flink_rest)
    run = "p" + uuid.uuid4().hex[:8]
    now = stamp(datetime.now(UTC))
    good = {"user_id": f"{run}-U", "currency": "EUR", "location": "Paris", "timestamp": now}
    poison = {
        b"this is not json": "not a JSON object",
        b"[1, 2, 3]": "not a JSON object",
        json.dumps({**good, "transaction_id": f"{run}-no-user", "user_id": None}).encode(): "missing user_id",
        json.dumps({**good, "transaction_id": f"{run}-neg", "amount": -5}).encode(): "amount must be greater than 0",
        json.dumps({**good, "transaction_id": f"{run}-text-amount", "amount": "lots"}).encode(): (
            "missing or non-numeric amount"
        ),
        json.dumps({**good, "transaction_id": f"{run}-when", "amount": 5, "timestamp": "yesterday"}).encode(): (
            "timestamp missing or not an RFC 3339 UTC time"
        ),
    }
    dlq = TopicWatcher({"bootstrap.servers": local_stack.bootstrap}, "dlq-stream")
    detections = TopicWatcher({"bootstrap.servers": local_stack.bootstrap}, "detections")
    producer = Producer({"bootstrap.servers": local_stack.bootstrap, "acks": "all"})
    try:
        for value in poison:
            producer.produce("transactions", key=f"{run}-U".encode(), value=value)
        # A good record right after the poison: a first payment of 3,000 (high_value, new_device).
        producer.produce(
            "transactions",
            key=f"{run}-U".encode(),
            value=json.dumps({**good, "transaction_id": f"{run}-good", "amount": 3000.0, "device_id": "d1"}).encode(),
        )
        producer.flush(10)
        clock = Clock(producer, run)
        letters: dict[bytes, dict[str, str]] = {}
        rules: set[str] = set()
        deadline = time.monotonic() + 90
        while len(letters) < len(poison) or len(rules) < 2:
            assert time.monotonic() < deadline, f"dead letters {len(letters)}/{len(poison)}, alerts {rules}"
            clock.tick()
            for msg in dlq.consumer.consume(100, 1.0):
                if msg.error() is None and (run.encode() in (msg.value() or b"") or msg.value() in poison):
                    letters[msg.value() or b""] = {k: v.decode() for k, v in (msg.headers() or [])}
            for _key, value in detections.poll(0.5):
                if value and value.get("transaction_id") == f"{run}-good":
                    rules.add(str(value["rule"]))
    finally:
        dlq.close()
        detections.close()
    assert rules == {"high_value", "new_device"}
    # Records that were JSON come back as what the engine read; the others verbatim.
    by_reason = sorted(h["error"] for h in letters.values())
    assert by_reason == sorted(poison.values())
    for headers in letters.values():
        assert headers["source.topic"] == "transactions" and headers["stage"] == "stream-engine"
        assert int(headers["source.partition"]) >= 0 and int(headers["source.offset"]) >= 0
    assert b"this is not json" in letters and b"[1, 2, 3]" in letters
    job_after = _job(local_stack.flink_rest)
    assert job_after == job_before, "the detection job restarted or was replaced"
