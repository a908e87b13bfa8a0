"""`fraudctl query` on the local stack (Flink): after a small story with known transactions has
been streamed through the pipeline, every library query returns exactly the rows it implies, in
table, JSON and CSV output; `live-alerts` shows a new alert within seconds and stops at --limit."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from confluent_kafka import Producer

from tests.conftest import Endpoints
from tests.stack.clock import Clock, stamp

pytestmark = pytest.mark.stack
ROOT = Path(__file__).resolve().parents[2]
RULES = ("rapid_burst", "location_mismatch", "high_value", "blacklisted_account", "new_device")


def fraudctl(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fraudctl", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="module")
def story(applied: Endpoints) -> dict[str, Any]:
    local_stack = applied
    run = "q" + uuid.uuid4().hex[:8]
    a, b, bl = f"{run}-A", f"{run}-B", f"{run}-BL"
    with psycopg.connect(local_stack.pg_conninfo, autocommit=True) as conn:
        conn.execute("INSERT INTO blacklist (user_id, reason) VALUES (%s, 'test: stolen card')", (bl,))
    time.sleep(3)  # CDC: the row reaches the blacklist topic before the payments' event time
    t0 = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)
    rows = [
        (0, a, 10.0, "Paris", "d-a"),
        (1, b, 50.0, "Berlin", "d-b"),
        (1, a, 20.0, "Paris", "d-a"),
        (2, a, 30.0, "Paris", "d-a"),
        (2, bl, 15.0, "Rome", "d-bl"),
        (3, a, 5000.0, "Paris", "d-a"),  # high_value
        (4, bl, 25.0, "Rome", "d-bl"),
    ]
    producer = Producer({"bootstrap.servers": local_stack.bootstrap, "acks": "all", "enable.idempotence": True})
    txs = []
    for n, (dt, user, amount, city, device) in enumerate(rows):
        tx = {
            "transaction_id": f"{user}-{n}",
            "user_id": user,
            "amount": amount,
            "currency": "EUR",
            "timestamp": stamp(t0 + timedelta(seconds=dt)),
            "location": city,
            "device_id": device,
        }
        txs.append(tx)
        producer.produce("transactions", key=user, value=json.dumps(tx))
    producer.flush(10)
    clock = Clock(producer, run)
    deadline = time.monotonic() + 120
    with psycopg.connect(local_stack.pg_conninfo, autocommit=True) as conn:
        while True:
            clock.tick()
            alerts = conn.execute("SELECT count(*) FROM fraud_alerts WHERE user_id LIKE %s", (run + "-%",)).fetchone()
            profile = conn.execute("SELECT txn_count_1h FROM user_profiles WHERE user_id = %s", (a,)).fetchone()
            others = conn.execute("SELECT count(*) FROM user_profiles WHERE user_id IN (%s, %s)", (b, bl)).fetchone()
            if alerts == (3,) and profile == (4,) and others == (2,):
                break
            assert time.monotonic() < deadline, f"pipeline did not settle: alerts {alerts}, profile {profile}"
            time.sleep(1)
    return {"run": run, "a": a, "b": b, "bl": bl, "t0": t0, "txs": txs}


def _json(*args: str) -> dict[str, Any]:
    """Runs a query in all three output formats; checks that CSV and the table show the rows the
    JSON document holds, and returns that document."""
    res = fraudctl("query", "--env", "local", *args, "--output", "json")
    assert res.returncode == 0, res.stdout + res.stderr
    out: dict[str, Any] = json.loads(res.stdout)
    res = fraudctl("query", "--env", "local", *args, "--output", "csv")
    assert res.returncode == 0, res.stderr
    reader = csv.reader(io.StringIO(res.stdout))
    assert next(reader) == out["columns"]
    as_text = [["" if row[c] is None else str(row[c]) for c in out["columns"]] for row in out["rows"]]
    assert list(reader) == as_text
    res = fraudctl("query", "--env", "local", *args, "--output", "table")
    assert res.returncode == 0, res.stderr
    assert f"({len(out['rows'])} row(s))" in res.stdout
    for row in as_text:
        assert row[0][:10] in res.stdout  # the first column, as far as a narrow cell shows it
    return out


def _sql_time(when: datetime) -> str:
    return when.strftime("%Y-%m-%d %H:%M:%S")


def test_user_activity_returns_the_profile_and_alert_counts(story: dict[str, Any]) -> None:
    a, t0 = story["a"], story["t0"]
    expected = {
        "user_id": a,
        "txn_count_1h": 4,
        "amount_1h": 5060.0,
        "txn_count_24h": 4,
        "amount_24h": 5060.0,
        "last_transaction_id": f"{a}-5",
        "last_location": "Paris",
        "last_device_id": "d-a",
        "last_event_time": _sql_time(t0 + timedelta(seconds=3)),
        "alerts": 1,
        **{f"alerts_{r}": int(r == "high_value") for r in RULES},
    }
    out = _json("user-activity", "--param", f"user_id={a}")
    assert out["columns"] == list(expected)
    assert [{k: (float(v) if k.startswith("amount") else v) for k, v in r.items()} for r in out["rows"]] == [expected]


def test_alerts_for_user(story: dict[str, Any]) -> None:
    a = story["a"]
    out = _json("alerts-for-user", "--param", f"user_id={a}", "--param", "since=1h")
    assert out["columns"] == [
        "alert_id", "rule", "transaction_id", "amount", "currency", "location", "event_time", "risk_score"
    ]  # fmt: skip
    [row] = out["rows"]
    assert 0 <= row.pop("risk_score") <= 1
    assert row == {
        "alert_id": f"high_value:{a}-5",
        "rule": "high_value",
        "transaction_id": f"{a}-5",
        "amount": 5000.0,
        "currency": "EUR",
        "location": "Paris",
        "event_time": _sql_time(story["t0"] + timedelta(seconds=3)),
    }
    assert _json("alerts-for-user", "--param", f"user_id={story['b']}")["rows"] == []


def test_top_alerting_users(story: dict[str, Any]) -> None:
    out = _json("top-alerting-users", "--param", "window=1h")
    ours = [
        {k: v for k, v in r.items() if k != "max_risk_score"}
        for r in out["rows"]
        if r["user_id"].startswith(story["run"])
    ]
    assert ours == [
        {"user_id": story["bl"], "alerts": 2, "rules": 1},
        {"user_id": story["a"], "alerts": 1, "rules": 1},
    ]
    counts = [r["alerts"] for r in out["rows"]]
    assert counts == sorted(counts, reverse=True)


def test_blacklist_hits(story: dict[str, Any]) -> None:
    out = _json("blacklist-hits", "--param", "since=1d")
    ours = [r for r in out["rows"] if r["user_id"].startswith(story["run"])]
    t0 = story["t0"]
    assert ours == [
        {
            "user_id": story["bl"],
            "hits": 2,
            "first_hit": _sql_time(t0 + timedelta(seconds=2)),
            "last_hit": _sql_time(t0 + timedelta(seconds=4)),
            "reason": "test: stolen card",
        }
    ]


def test_live_alerts_shows_a_new_alert_within_seconds_and_stops_at_the_limit(
    local_stack: Endpoints, story: dict[str, Any]
) -> None:
    producer = Producer({"bootstrap.servers": local_stack.bootstrap, "acks": "all"})
    clock = Clock(producer, story["run"] + "-live")
    for _ in range(8):  # flush anything still behind the watermark before listening
        clock.tick()
        time.sleep(0.5)
    proc = subprocess.Popen(
        [sys.executable, "-m", "fraudctl", "query", "--env", "local", "live-alerts", "--limit", "2", "-o", "csv"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None and proc.stdout is not None
        line = proc.stderr.readline()
        assert "live-alerts: streaming rows" in line, line
        time.sleep(2)  # the query's Kafka source takes the topic's end offsets as it starts
        user = story["run"] + "-L"
        sent = time.monotonic()
        # A first payment of 4,000 on a new device: two alerts (high_value and new_device).
        tx = {
            "transaction_id": f"{user}-1",
            "user_id": user,
            "amount": 4000.0,
            "currency": "EUR",
            "timestamp": stamp(datetime.now(UTC)),
            "location": "Oslo",
            "device_id": "d-l",
        }
        producer.produce("transactions", key=user, value=json.dumps(tx))
        producer.flush(10)
        while proc.poll() is None:
            assert time.monotonic() - sent < 60, "live-alerts did not show both alerts within 60 s"
            clock.tick()
            time.sleep(1)
        seen = time.monotonic() - sent
        out = proc.stdout.read()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 2, out  # stopped at --limit by itself
    assert {(r["rule"], r["transaction_id"]) for r in rows} == {
        ("high_value", f"{user}-1"),
        ("new_device", f"{user}-1"),
    }
    print(f"live-alerts: both alerts shown {seen:.1f} s after the payments were produced")
    assert seen < 30


@pytest.mark.parametrize("table", ["user_profiles", "alerts", "blacklist", "fraud_alerts_stream"])
def test_show_create_table_prints_no_secret(applied: Endpoints, table: str) -> None:
    """The query session's tables carry the PostgreSQL password in their options; what an analyst
    sees of them is masked (the option is there, its value is not)."""
    from fraudctl.localstack import secrets
    from fraudctl.localstack.layout import Layout

    res = fraudctl("query", "--sql", f"SHOW CREATE TABLE {table}", "--output", "json")
    assert res.returncode == 0, res.stderr
    [row] = json.loads(res.stdout)["rows"]
    assert f"`{table}`" in row["result"]
    for name, value in secrets.load_or_create(Layout.default().secrets_file).items():
        assert value not in res.stdout + res.stderr, f"{name} printed by SHOW CREATE TABLE {table}"


def test_the_analysts_login_cannot_write_even_without_the_guard(applied: Endpoints) -> None:
    """Read-only by credentials: the tables a query session defines log in as the analysts' role,
    so an INSERT that the guard would refuse fails at PostgreSQL with a permission error when it is
    sent straight to the session (the guard skipped), and on a direct connection as that login."""
    from fraudctl.config.project import load_project
    from fraudctl.config.secrets import resolve_embedded
    from fraudctl.flink.gateway import FlinkSession, job_root_cause
    from fraudctl.query.run import FLINK_TABLES
    from fraudctl.render import jinja
    from fraudctl.render.pipeline import sql_context
    from fraudctl.validate.sql import split

    project, _ = load_project(ROOT)
    settings = project.settings("local")
    analyst = settings.need("postgres").login("analyst")
    assert analyst.user != settings.need("postgres").user
    marker = f"guardless-{uuid.uuid4().hex[:8]}"
    conninfo = settings.need("postgres").conninfo("analyst", "test")
    with psycopg.connect(conninfo, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) >= 0 FROM fraud_alerts").fetchone() == (True,)
        for statement in (
            "INSERT INTO fraud_alerts (alert_id, rule, rule_id, severity, user_id, transaction_id) "
            f"VALUES ('{marker}', 'r', 'r', 'low', 'u', 't')",
            f"UPDATE fraud_alerts SET notes = '{marker}'",
            f"INSERT INTO blacklist (user_id, reason) VALUES ('{marker}', 'x')",
            "DELETE FROM user_profiles",
            "CREATE TABLE public.analyst_was_here (x int)",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)

    context = sql_context(project, "local")
    tables = [resolve_embedded(s.text)[0] for s in split(jinja.render(project.templates, FLINK_TABLES, context))[0]]
    with FlinkSession(settings.need("flink").sql_gateway_url, {"execution.runtime-mode": "batch"}) as session:
        for statement in tables:
            session.execute(statement)
        job = session.execute(
            f"INSERT INTO alerts (alert_id, rule, user_id, transaction_id) VALUES ('{marker}', 'high_value', 'u', 't')"
        ).job_id
    assert job
    rest = settings.need("flink").rest_url.rstrip("/")
    deadline = time.monotonic() + 120
    import requests

    while (state := requests.get(f"{rest}/jobs/{job}", timeout=10).json()["state"]) not in ("FAILED", "FINISHED"):
        assert time.monotonic() < deadline, f"the guardless INSERT job is still {state}"
        time.sleep(1)
    assert state == "FAILED", "an INSERT through the analysts' session must not succeed"
    cause = job_root_cause(rest, job)
    assert "permission denied" in cause.lower(), cause
    with psycopg.connect(applied.pg_conninfo, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM fraud_alerts WHERE alert_id = %s", (marker,)).fetchone() == (0,)


def test_the_analysts_kafka_principal_can_only_consume(applied: Endpoints) -> None:
    """The query session's Kafka table logs in as the analysts' principal, whose ACLs (kept by
    `fraudctl apply`) allow reading only: a producer with exactly the session's credentials is
    refused by the broker; a consumer reads the topic the session reads and nothing else.

    Not done here: sending a Flink INSERT into the session's Kafka table. Flink 2.2's KafkaSink
    writer that fails on authorization can take the whole TaskManager down (a FATAL NullPointerException
    in the task's exception handler, seen on this stack), which would stop every later test."""
    from confluent_kafka import Consumer

    from fraudctl.config.project import load_project
    from fraudctl.query.run import FLINK_TABLES
    from fraudctl.render import jinja
    from fraudctl.render.pipeline import sql_context

    project, _ = load_project(ROOT)
    settings = project.settings("local")
    analyst = settings.kafka.connection("analyst")
    assert analyst.sasl is not None and analyst.bootstrap_servers != settings.kafka.bootstrap_servers
    # The session's Kafka table logs in with exactly this principal.
    tables = jinja.render(project.templates, FLINK_TABLES, sql_context(project, "local"))
    assert f'username="{analyst.sasl.username}"' in tables
    assert f"'properties.bootstrap.servers' = '{analyst.bootstrap_servers}'" in tables
    conf = analyst.librdkafka()
    producer = Producer({**conf, "message.timeout.ms": 10_000})
    errors: list[str] = []
    producer.produce("fraud-alerts", value=b"{}", on_delivery=lambda err, _m: errors.append(str(err)))
    producer.flush(20)
    assert errors and "TOPIC_AUTHORIZATION_FAILED" in errors[0], errors
    consumer = Consumer({**conf, "group.id": f"fraudctl-query-test-{uuid.uuid4().hex[:6]}"})
    try:
        metadata = consumer.list_topics("fraud-alerts", timeout=20)
        assert metadata.topics["fraud-alerts"].error is None
        other = consumer.list_topics("transactions", timeout=20).topics["transactions"]
        assert other.error is not None, "the analysts' principal may describe only the topics it reads"
    finally:
        consumer.close()
