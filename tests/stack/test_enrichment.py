"""The enrichment step against the local Kafka and a real scoring service process: scores flow,
poison records reach the dead-letter topic with their headers, and killing the service loses and
defaults nothing (at least once: every input at least once; exactly once: exactly once)."""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from fraudctl.kafka_clients import read_to_end
from tests.conftest import Endpoints
from tests.service.conftest import start
from udf_service.enrichment import Enricher, EnrichmentConfig

pytestmark = pytest.mark.stack


def _topics(bootstrap: str) -> dict[str, str]:
    suffix = uuid.uuid4().hex[:8]
    names = {k: f"enrich-{suffix}-{k}" for k in ("detections", "alerts", "dlq")}
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for f in admin.create_topics(
        [NewTopic(n, num_partitions=2, replication_factor=1) for n in names.values()]
    ).values():
        f.result(timeout=30)
    return names


def _detection(i: int) -> dict[str, object]:
    return {
        "alert_id": f"high_value:e{i}",
        "rule": "high_value",
        "rule_id": "FR-003",
        "severity": "medium",
        "user_id": f"U{i % 7}",
        "transaction_id": f"e{i}",
        "amount": 1500.0 + i,
        "currency": "EUR",
        "location": "Paris",
        "event_time": "2024-11-16 14:00:00",
        "window_start": "2024-11-16 14:00:00",
        "window_end": "2024-11-16 14:00:00",
        "evidence": "{}",
    }


def _produce(bootstrap: str, topic: str, values: list[bytes], keys: list[str]) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True})
    for key, value in zip(keys, values, strict=True):
        producer.produce(topic, key=key, value=value)
    assert producer.flush(30) == 0


def _decode(value: bytes) -> dict:  # type: ignore[type-arg]
    try:
        decoded = json.loads(value)
    except ValueError:
        return {"raw": value.decode(errors="replace")}  # a poison record, forwarded as it came
    return decoded if isinstance(decoded, dict) else {"raw": decoded}


def _read_all(bootstrap: str, topic: str) -> list[tuple[dict, dict]]:  # type: ignore[type-arg]
    """Every committed record of the topic's two partitions, with its headers."""
    return [
        (_decode(msg.value() or b""), {k: (v or b"").decode() for k, v in (msg.headers() or [])})
        for msg in read_to_end({"bootstrap.servers": bootstrap}, topic, [0, 1], deadline_s=20)
        if msg.value() is not None
    ]


def _committed(bootstrap: str, group: str, topic: str) -> int:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        tps = consumer.committed([TopicPartition(topic, p) for p in range(2)], timeout=10)
        return sum(max(0, tp.offset) for tp in tps)
    finally:
        consumer.close()


@pytest.mark.parametrize("concurrency", [1, 3], ids=["one-request", "three-in-flight"])
def test_scores_flow_and_poison_goes_to_the_dlq(local_stack: Endpoints, tmp_path: Path, concurrency: int) -> None:
    proc, svc = start(tmp_path)
    try:
        t = _topics(local_stack.bootstrap)
        good = [json.dumps(_detection(i)).encode() for i in range(40)]
        bad = [
            b"{not json",
            json.dumps({**_detection(99), "amount": -1}).encode(),
            json.dumps({**_detection(98), "rule": "no_such_rule"}).encode(),  # the service would refuse it (4xx)
        ]
        _produce(
            local_stack.bootstrap,
            t["detections"],
            good[:20] + bad + good[20:],
            [f"U{i}" for i in range(len(good) + len(bad))],
        )
        config = EnrichmentConfig(
            local_stack.bootstrap,
            svc.url,
            t["detections"],
            t["alerts"],
            t["dlq"],
            group_id=f"g-{uuid.uuid4().hex[:6]}",
            batch_size=16,
            concurrency=concurrency,
            token=svc.token,
        )
        stats = Enricher(config).run(max_seconds=60, idle_exit=3)
        assert stats.consumed == 43 and stats.produced == 40 and stats.dead_lettered == 3
        # With several requests in flight a batch is scored in parts; the outputs are the same.
        assert stats.service_calls > stats.batches if concurrency > 1 else stats.service_calls == stats.batches
        alerts = _read_all(local_stack.bootstrap, t["alerts"])
        assert sorted(a["transaction_id"] for a, _ in alerts) == sorted(f"e{i}" for i in range(40))
        assert all(0 <= a["risk_score"] <= 1 and a["model_version"] for a, _ in alerts)
        dlq = _read_all(local_stack.bootstrap, t["dlq"])
        errors = sorted(h["error"] for _, h in dlq)
        assert errors[0].startswith("Expecting property name") or "JSON" in errors[0] or "Expecting" in errors[0]
        assert errors[1].startswith(
            "violates the scoring context: rules_fired: Value error, unknown rule(s) ['no_such_rule']"
        )
        assert errors[2].startswith("violates the transaction contract: amount: Input should be greater than 0")
        assert {h["source.topic"] for _, h in dlq} == {t["detections"]}
        assert all(h["source.offset"].isdigit() and h["source.partition"].isdigit() for _, h in dlq)
        assert _committed(local_stack.bootstrap, config.group_id, t["detections"]) == 43
    finally:
        proc.terminate()


@pytest.mark.parametrize("exactly_once", [False, True], ids=["at-least-once", "exactly-once"])
def test_killing_the_service_loses_nothing(local_stack: Endpoints, tmp_path: Path, exactly_once: bool) -> None:
    proc, svc = start(tmp_path)
    t = _topics(local_stack.bootstrap)
    config = EnrichmentConfig(
        local_stack.bootstrap,
        svc.url,
        t["detections"],
        t["alerts"],
        t["dlq"],
        group_id=f"g-{uuid.uuid4().hex[:6]}",
        batch_size=20,
        exactly_once=exactly_once,
        backoff_max=1.0,
        token=svc.token,
    )
    enricher = Enricher(config)
    runner = threading.Thread(target=enricher.run, kwargs={"max_seconds": 120, "idle_exit": 6})
    values = [json.dumps(_detection(i)).encode() for i in range(300)]
    keys = [f"U{i % 7}" for i in range(300)]
    _produce(local_stack.bootstrap, t["detections"], values[:100], keys[:100])
    runner.start()
    time.sleep(2)
    proc.kill()  # the service dies mid-run
    proc.wait()
    _produce(local_stack.bootstrap, t["detections"], values[100:], keys[100:])
    time.sleep(3)
    stalled_at = enricher.stats.produced
    assert enricher.stats.retries > 0, "the step should be retrying while the service is down"
    time.sleep(2)
    assert enricher.stats.produced == stalled_at, "nothing may be produced (or defaulted) without the service"
    proc2, _ = start(tmp_path, port=int(svc.url.rsplit(":", 1)[1]))  # the service comes back on the same port
    try:
        runner.join(90)
        assert not runner.is_alive()
    finally:
        proc2.terminate()
    outputs = Counter(a["transaction_id"] for a, _ in _read_all(local_stack.bootstrap, t["alerts"]))
    assert set(outputs) == {f"e{i}" for i in range(300)}
    if exactly_once:
        assert set(outputs.values()) == {1}
    assert _committed(local_stack.bootstrap, config.group_id, t["detections"]) == 300


def test_sigterm_commits_what_was_processed(local_stack: Endpoints, tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys

    proc, svc = start(tmp_path)
    t = _topics(local_stack.bootstrap)
    group = f"g-{uuid.uuid4().hex[:6]}"
    _produce(
        local_stack.bootstrap,
        t["detections"],
        [json.dumps(_detection(i)).encode() for i in range(50)],
        [f"U{i % 7}" for i in range(50)],
    )
    step = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "udf_service.enrichment",
            "--bootstrap",
            local_stack.bootstrap,
            "--scoring-url",
            svc.url,
            "--source-topic",
            t["detections"],
            "--alerts-topic",
            t["alerts"],
            "--dlq-topic",
            t["dlq"],
            "--enriched-topic",
            "",
            "--risk-threshold",
            "0.8",
            "--group-id",
            group,
            "--token",
            "${env:FRAUD_SCORING_TOKEN}",
        ],
        env={**os.environ, "FRAUD_SCORING_TOKEN": svc.token},
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while _committed(local_stack.bootstrap, group, t["detections"]) < 50 and time.monotonic() < deadline:
            time.sleep(0.5)
        step.send_signal(signal.SIGTERM)
        assert step.wait(30) == 0, step.stderr.read() if step.stderr else ""
    finally:
        proc.terminate()
    assert _committed(local_stack.bootstrap, group, t["detections"]) == 50
    assert len(_read_all(local_stack.bootstrap, t["alerts"])) == 50


@contextlib.contextmanager
def _watched_step(
    local_stack: Endpoints, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Enricher, threading.Thread, dict[str, str]]]:
    """A step on fresh topics, running in a thread for up to 90 s, with an idle check every 2 s,
    against its own scoring service (stopped at the end)."""
    import udf_service.enrichment as enrichment

    monkeypatch.setattr(enrichment, "STUCK_AFTER_S", 2.0)
    proc, svc = start(tmp_path)
    try:
        t = _topics(local_stack.bootstrap)
        config = EnrichmentConfig(
            local_stack.bootstrap,
            svc.url,
            t["detections"],
            t["alerts"],
            t["dlq"],
            group_id=f"g-{uuid.uuid4().hex[:6]}",
            token=svc.token,
        )
        enricher = Enricher(config)
        runner = threading.Thread(target=enricher.run, kwargs={"max_seconds": 90}, daemon=True)
        runner.start()
        yield enricher, runner, t
    finally:
        proc.terminate()


def test_a_recreated_source_topic_is_followed(
    local_stack: Endpoints, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A redeploy deletes and re-creates `detections`; the running step must read the new topic
    (the client resets to it, or the step's watchdog reconnects when it sees its position beyond
    the topic's end, as happened after `fraudctl destroy` + `apply`)."""
    with _watched_step(local_stack, tmp_path, monkeypatch) as (enricher, runner, t):
        _produce(
            local_stack.bootstrap, t["detections"], [json.dumps(_detection(i)).encode() for i in range(5)], ["U"] * 5
        )
        deadline = time.monotonic() + 30
        while enricher.stats.produced < 5:
            assert time.monotonic() < deadline, "first records not processed"
            time.sleep(0.2)
        admin = AdminClient({"bootstrap.servers": local_stack.bootstrap})
        admin.delete_topics([t["detections"]], operation_timeout=30)[t["detections"]].result(timeout=30)
        while t["detections"] in admin.list_topics(timeout=10).topics:
            time.sleep(0.2)
        time.sleep(8)  # as long as a destroy and an apply take: the client sees the topic gone
        admin.create_topics([NewTopic(t["detections"], num_partitions=2, replication_factor=1)])[
            t["detections"]
        ].result(timeout=30)
        _produce(
            local_stack.bootstrap,
            t["detections"],
            [json.dumps(_detection(i)).encode() for i in range(100, 103)],
            ["U"] * 3,
        )
        deadline = time.monotonic() + 60
        while enricher.stats.produced < 8:
            assert time.monotonic() < deadline, f"records of the re-created topic not processed: {enricher.stats}"
            time.sleep(0.5)
        enricher.stop()
        runner.join(30)
        alerts = _read_all(local_stack.bootstrap, t["alerts"])
        assert {a["transaction_id"] for a, _ in alerts} == {f"e{i}" for i in (0, 1, 2, 3, 4, 100, 101, 102)}


def test_a_consumer_that_stops_fetching_is_replaced(
    local_stack: Endpoints, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a broker restart the client once stopped fetching a partition, silently, with records
    readable past its position (a fault-suite run sat 3 minutes so). Paused partitions are that
    state on purpose: the idle check must see readable records that never arrive and reconnect."""
    with _watched_step(local_stack, tmp_path, monkeypatch) as (enricher, runner, t):
        _produce(
            local_stack.bootstrap, t["detections"], [json.dumps(_detection(i)).encode() for i in range(4)], ["U"] * 4
        )
        deadline = time.monotonic() + 30
        while enricher.stats.produced < 4:
            assert time.monotonic() < deadline, "first records not processed"
            time.sleep(0.2)
        enricher.consumer.pause(enricher.consumer.assignment())
        _produce(
            local_stack.bootstrap,
            t["detections"],
            [json.dumps(_detection(i)).encode() for i in range(200, 203)],
            ["U"] * 3,
        )
        deadline = time.monotonic() + 60
        while enricher.stats.produced < 7:
            assert time.monotonic() < deadline, f"the stopped consumer was not replaced: {enricher.stats}"
            time.sleep(0.5)
        enricher.stop()
        runner.join(30)
        assert enricher.stats.reconnects == 1
        alerts = _read_all(local_stack.bootstrap, t["alerts"])
        assert sorted(a["transaction_id"] for a, _ in alerts) == sorted(f"e{i}" for i in (0, 1, 2, 3, 200, 201, 202))
