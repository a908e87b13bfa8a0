"""`fraudctl bench scoring`: the scoring path, each figure against a baseline run in the same script.

1. Batch endpoint rows/s vs. the same model predicting the same rows in this process (the ratio is
   the cost of HTTP, JSON and validation).
2. Single-request latency p50/p99 at a fixed request rate (one keep-alive connection), beside the
   same connection's GET /healthz (the HTTP floor).
3. The enrichment step's records/s vs. a naive loop that sends one HTTP request per record (what
   the source article's `enrichWithRiskScore(tx)` pseudocode does), over the same records on Kafka."""

from __future__ import annotations

import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import requests
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from fraudctl.contract import Transaction, TransactionContext
from fraudctl.model.dataset import CONTEXT_FIELDS, TX_FIELDS
from fraudctl.model.synth import generate
from udf_service import features
from udf_service.enrichment import Enricher, EnrichmentConfig
from udf_service.model import load

ROOT = Path(__file__).resolve().parents[3]


def _items(n: int) -> list[dict[str, Any]]:
    """Scoring requests from labelled synthetic rows: the contract's fields and the context's."""
    out = []
    for r in generate(n, seed=3):
        tx = {k: r[k] for k in TX_FIELDS if k in r}
        ctx = {k: r[k] for k in CONTEXT_FIELDS if k in r and r[k] not in ("", None)}
        ctx["rules_fired"] = [x for x in str(r["rules_fired"]).split("|") if x]
        out.append({"transaction": tx, "context": ctx})
    return out


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


# The rate the scoring of every transaction must keep up with (issue 16: 1,000 tx/s).
EVERY_RATE = 1000

# The benchmark's own service requires a token as every environment's does (auth is on the hot path).
TOKEN = secrets.token_urlsafe(24)
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _start_service(port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "udf_service",
            "--port",
            str(port),
            "--max-batch",
            "1000",
            "--max-body-bytes",
            "5000000",
        ],
        env={**os.environ, "FRAUD_SCORING_TOKEN": TOKEN},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/readyz", timeout=1).ok:
                return proc
        except requests.RequestException:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("scoring service did not start")


def batch_vs_in_process(url: str, rows: int, batch: int) -> dict[str, Any]:
    items = _items(rows)
    session = requests.Session()
    t0 = time.perf_counter()
    for i in range(0, rows, batch):
        session.post(
            f"{url}/v1/score/batch", json={"transactions": items[i : i + batch]}, headers=AUTH, timeout=60
        ).raise_for_status()
    http_rate = rows / (time.perf_counter() - t0)
    local_rate = _in_process(items, batch)
    return {
        "rows": rows,
        "batch": batch,
        "http_rows_per_s": round(http_rate),
        "in_process_rows_per_s": round(local_rate),
        "ratio_http_to_in_process": round(http_rate / local_rate, 2),
    }


def single_latency(url: str, rate: int, seconds: float) -> dict[str, Any]:
    """POST /v1/score at a fixed rate on one keep-alive connection, and, interleaved on the same
    connection, GET /healthz (a route that does nothing) as the baseline: what the client, the
    loopback and the HTTP server cost, measured in the same seconds on this noisy machine. The
    client is http.client with pre-encoded bodies: `requests` alone costs milliseconds a call here."""
    import http.client
    from urllib.parse import urlsplit

    host = urlsplit(url)
    conn = http.client.HTTPConnection(host.hostname or "127.0.0.1", host.port or 80, timeout=10)
    bodies = [json.dumps(item).encode() for item in _items(200)]
    headers = {**AUTH, "Content-Type": "application/json"}

    def call(method: str, path: str, body: bytes | None = None) -> float:
        start = time.perf_counter()
        conn.request(method, path, body=body, headers=headers if body is not None else {})
        resp = conn.getresponse()
        resp.read()
        if resp.status != 200:
            raise RuntimeError(f"{method} {path}: HTTP {resp.status}")
        return 1000 * (time.perf_counter() - start)

    scored: list[float] = []
    floor: list[float] = []
    t0 = time.monotonic()
    n = 0
    try:
        while time.monotonic() - t0 < seconds:
            due = t0 + n / rate
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            if n % 2:
                floor.append(call("GET", "/healthz"))
            scored.append(call("POST", "/v1/score", bodies[n % len(bodies)]))
            n += 1
    finally:
        conn.close()
    return {
        "rate_per_s": rate,
        "requests": n,
        "p50_ms": round(_pct(scored, 0.5), 2),
        "p99_ms": round(_pct(scored, 0.99), 2),
        "mean_ms": round(statistics.fmean(scored), 2),
        "baseline_healthz_p50_ms": round(_pct(floor, 0.5), 2),
        "baseline_healthz_p99_ms": round(_pct(floor, 0.99), 2),
    }


def _detections(n: int) -> list[bytes]:
    return [
        json.dumps(
            {
                "alert_id": f"high_value:b{i}",
                "rule": "high_value",
                "rule_id": "FR-003",
                "severity": "medium",
                "user_id": f"U{i % 97}",
                "transaction_id": f"b{i}",
                "amount": 1500.0 + i % 100,
                "currency": "EUR",
                "location": "Paris",
                "event_time": "2024-11-16 14:00:00",
            }
        ).encode()
        for i in range(n)
    ]


def _fresh_topics(bootstrap: str, prefix: str, roles: tuple[str, ...]) -> tuple[AdminClient, dict[str, str]]:
    """A throw-away topic per role (3 partitions), created; the caller deletes them."""
    topics = {k: f"{prefix}-{k}" for k in roles}
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for f in admin.create_topics(
        [NewTopic(t, num_partitions=3, replication_factor=1) for t in topics.values()]
    ).values():
        f.result(timeout=30)
    return admin, topics


def enrichment_vs_naive(bootstrap: str, url: str, records: int) -> dict[str, Any]:
    suffix = uuid.uuid4().hex[:8]
    admin, topics = _fresh_topics(bootstrap, f"bench-enrich-{suffix}", ("in", "out", "dlq"))
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 20})
    for i, value in enumerate(_detections(records)):
        producer.produce(topics["in"], key=f"U{i % 97}", value=value)
    producer.flush(60)
    try:
        config = EnrichmentConfig(
            bootstrap,
            url,
            topics["in"],
            topics["out"],
            topics["dlq"],
            group_id=f"bench-{suffix}",
            batch_size=500,
            linger_ms=20,
            token=TOKEN,
        )
        t0 = time.perf_counter()
        stats = Enricher(config).run(max_seconds=600, idle_exit=2)
        step_s = time.perf_counter() - t0 - 2  # minus the idle wait that ends the run
        naive = _naive(bootstrap, url, topics, suffix, records)
        return {
            "records": records,
            "step_records_per_s": round(stats.produced / step_s),
            "naive_records_per_s": round(naive),
            "ratio_step_to_naive": round((stats.produced / step_s) / naive, 1),
            "step_service_calls": stats.service_calls,
        }
    finally:
        admin.delete_topics(list(topics.values()), operation_timeout=30)


def _naive(bootstrap: str, url: str, topics: dict[str, str], suffix: str, records: int) -> float:
    """One HTTP request (a new connection) per record, produce, commit per record."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"naive-{suffix}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    consumer.subscribe([topics["in"]])
    done = 0
    t0 = time.perf_counter()
    while done < records:
        msg = consumer.poll(1.0)
        if msg is None or msg.error() or msg.value() is None:
            continue
        d = json.loads(msg.value() or b"{}")
        item = {
            "transaction": {
                "transaction_id": d["transaction_id"],
                "user_id": d["user_id"],
                "amount": d["amount"],
                "currency": d["currency"],
                "timestamp": "2024-11-16T14:00:00Z",
                "location": d["location"],
            },
            "context": {"rules_fired": [d["rule"]]},
        }
        score = requests.post(f"{url}/v1/score", json=item, headers=AUTH, timeout=10).json()
        producer.produce(topics["out"], value=json.dumps({**d, **score}).encode())
        producer.flush(10)
        consumer.commit(message=msg, asynchronous=False)
        done += 1
    elapsed = time.perf_counter() - t0
    consumer.close()
    return done / elapsed


def _in_process(items: list[dict[str, Any]], batch: int) -> float:
    """Records/s of the same model in this process on the same records (parse, features, score)."""
    model = load(ROOT / "udf_service" / "models" / "current")
    t0 = time.perf_counter()
    for i in range(0, len(items), batch):
        vectors = [
            features.compute(
                Transaction.model_validate(c["transaction"]), TransactionContext.model_validate(c["context"])
            )
            for c in items[i : i + batch]
        ]
        model.scores(np.asarray(vectors, dtype=np.float32))
    return len(items) / (time.perf_counter() - t0)


def every_transaction(bootstrap: str, url: str, records: int, rate: int, seconds: float) -> dict[str, Any]:
    """The step scoring enriched transactions (every transaction of the pipeline, with context):
    a backlog of `records` drained, against the same model in process on the same records; then
    `rate` records/s for `seconds` while the step runs, its lag sampled: the first and last third's
    median lag say whether it keeps up."""
    import threading

    suffix = uuid.uuid4().hex[:8]
    admin, topics = _fresh_topics(
        bootstrap, f"bench-every-{suffix}", ("detections", "enriched", "scored", "alerts", "dlq")
    )
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 20})
    items = _items(records)
    config = EnrichmentConfig(
        bootstrap,
        url,
        topics["detections"],
        topics["alerts"],
        topics["dlq"],
        group_id=f"bench-every-{suffix}",
        enriched_topic=topics["enriched"],
        scored_topic=topics["scored"],
        batch_size=500,
        linger_ms=20,
        token=TOKEN,
    )
    try:

        def send(item: dict[str, Any]) -> None:
            producer.produce(topics["enriched"], key=str(item["transaction"]["user_id"]), value=json.dumps(item))

        for item in items:
            send(item)
        producer.flush(60)
        t0 = time.perf_counter()
        stats = Enricher(config).run(max_seconds=600, idle_exit=2)
        step_rate = stats.scored / (time.perf_counter() - t0 - 2)  # minus the idle wait that ends the run
        local_rate = _in_process(items, 500)
        # Paced: the step runs while records arrive at `rate`/s.
        enricher = Enricher(config)
        worker = threading.Thread(target=lambda: enricher.run(max_seconds=seconds + 60, idle_exit=3), daemon=True)
        worker.start()
        lags: list[int] = []
        sent = 0
        start = time.perf_counter()
        while (elapsed := time.perf_counter() - start) < seconds:
            due = int(elapsed * rate)
            while sent < due:
                send(items[sent % len(items)])
                sent += 1
            producer.poll(0)
            lags.append(sent - enricher.stats.consumed)
            time.sleep(0.05)
        producer.flush(30)
        worker.join(seconds + 90)
        third = max(1, len(lags) // 3)
        return {
            "records": records,
            "step_scored_per_s": round(step_rate),
            "in_process_per_s": round(local_rate),
            "ratio_step_to_in_process": round(step_rate / local_rate, 2),
            "paced_rate_per_s": rate,
            "paced_sent": sent,
            "paced_scored": enricher.stats.scored,
            "lag_p50_first_third": statistics.median(lags[:third]),
            "lag_p50_last_third": statistics.median(lags[-third:]),
            "lag_max": max(lags),
        }
    finally:
        admin.delete_topics(list(topics.values()), operation_timeout=30)


def run(bootstrap: str, rows: int, batch: int, rate: int, seconds: float, records: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory():
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        proc = _start_service(port)
        url = f"http://127.0.0.1:{port}"
        try:
            return {
                "batch_endpoint": batch_vs_in_process(url, rows, batch),
                "single_request": single_latency(url, rate, seconds),
                "enrichment": enrichment_vs_naive(bootstrap, url, records),
                "every_transaction": every_transaction(bootstrap, url, records, EVERY_RATE, seconds),
            }
        finally:
            proc.terminate()
            proc.wait(10)
