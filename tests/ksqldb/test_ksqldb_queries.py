"""The query library on a real ksqlDB server: the rendered pipeline deployed with the ksqlDB
provider (objects under a prefix of this test's, on fresh topics), a small story streamed
(transactions, a blacklist row, the scored alerts the enrichment step would write), then the same
library queries as on Flink return the same rows, through `fraudctl query`'s own functions."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from fraudctl.config.project import copy_declarations, load_project
from fraudctl.deploy.providers.ksql_statements import KsqlStatementProvider
from fraudctl.deploy.state import Record
from fraudctl.kafka_clients import PARTITIONER
from fraudctl.ksqldb.client import KsqlClient
from fraudctl.query import library
from fraudctl.query.run import Callbacks, apply_sort, execute, prepare
from fraudctl.render.pipeline import render_sql, sql_context
from fraudctl.scenarios import topics as scenario_topics
from tests.ksqldb.conftest import Ksql, sweep, unique_prefix

pytestmark = pytest.mark.ksqldb
ROOT = Path(__file__).resolve().parents[2]
RULES = ("rapid_burst", "location_mismatch", "high_value", "blacklisted_account", "new_device")


ENV = "local-ksqldb"


def _run(project: Any, name: str, params: dict[str, str]) -> list[dict[str, Any]]:
    query = library.load(project.root)[name]
    prepared = prepare(project, ENV, query, None, params, False, datetime.now(UTC))
    rows: list[dict[str, Any]] = []
    execute(project, ENV, prepared, None, 60, Callbacks(on_row=lambda c, v: rows.append(dict(zip(c, v, strict=False)))))
    return apply_sort(rows, prepared.sort)


def _until(check: Callable[[], bool], what: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds:.0f} s: {what}")
        time.sleep(1)


def test_the_library_returns_the_same_rows_on_ksqldb(ksqldb: Ksql, tmp_path: Path) -> None:
    prefix = unique_prefix()
    home = copy_declarations(ROOT, tmp_path / "repo")
    env_file = home / f"environments/{ENV}.yaml"
    env_file.write_text(
        env_file.read_text()
        + yaml.safe_dump(
            {"kafka": {"bootstrap_servers": ksqldb.bootstrap}, "ksqldb": {"url": ksqldb.url, "prefix": prefix}}
        )
    )
    project, problems = load_project(home)
    assert not problems
    admin = AdminClient({"bootstrap.servers": ksqldb.bootstrap})
    topics = scenario_topics.fresh(["transactions", "blacklist", "detections", "fraud-alerts"])
    for f in admin.create_topics(
        [NewTopic(t, num_partitions=6, replication_factor=1) for t in topics.values()]
    ).values():
        f.result(timeout=60)
    provider = KsqlStatementProvider(
        KsqlClient(ksqldb.url), render_sql(project, "ksql", sql_context(project, ENV, topic_names=topics))
    )
    records: dict[tuple[str, str], Record] = {}
    try:
        _story(project, provider, topics, ksqldb, records)
    finally:
        try:
            for change in provider.plan({}, provider.actual({}, records), {n for _k, n in records}, True):
                provider.apply(change)
        finally:
            sweep(ksqldb.url, prefix)
        created = [t for t in admin.list_topics(timeout=10).topics if t.startswith(prefix)]
        scenario_topics.delete(admin, [*topics.values(), *created])


def _story(
    project: Any,
    provider: KsqlStatementProvider,
    topics: dict[str, str],
    ksqldb: Ksql,
    records: dict[tuple[str, str], Record],
) -> None:
    for change in provider.plan(provider.desired(), provider.actual(provider.desired(), {}), set(), False):
        provider.apply(change)
        assert change.desired is not None
        records[(provider.kind, change.name)] = Record(
            provider.kind, change.name, change.desired.checksum, change.desired.spec, 1, datetime.now(UTC)
        )
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    a, bl = "K-A", "K-BL"
    producer = Producer({"bootstrap.servers": ksqldb.bootstrap, "acks": "all", "partitioner": PARTITIONER})
    producer.produce(topics["blacklist"], key=bl, value=json.dumps({"user_id": bl, "reason": "test: stolen card"}))
    for n, (dt, user, amount) in enumerate(
        [(0, a, 10.0), (1, a, 20.0), (2, a, 30.0), (2, bl, 15.0), (3, a, 5000.0), (4, bl, 25.0)]
    ):
        when = (t0 + timedelta(seconds=dt)).strftime("%Y-%m-%dT%H:%M:%SZ")
        tx = {"transaction_id": f"{user}-{n}", "user_id": user, "amount": amount, "currency": "EUR",
              "timestamp": when, "location": "Paris", "device_id": f"d-{user}"}  # fmt: skip
        producer.produce(topics["transactions"], key=user, value=json.dumps(tx))
    for rule, user, n, dt, amount in (("high_value", a, 4, 3, 5000.0), ("blacklisted_account", bl, 3, 2, 15.0),
                                       ("blacklisted_account", bl, 5, 4, 25.0)):  # fmt: skip
        alert = {"alert_id": f"{rule}:{user}-{n}", "rule": rule, "user_id": user, "transaction_id": f"{user}-{n}",
                 "amount": amount, "currency": "EUR", "location": "Paris", "risk_score": 0.5,
                 "event_time": (t0 + timedelta(seconds=dt)).strftime("%Y-%m-%d %H:%M:%S")}  # fmt: skip
        producer.produce(topics["fraud-alerts"], key=user, value=json.dumps(alert))
    assert producer.flush(30) == 0
    # The tables catch up: wait until the last of the story is in them.
    _until(
        lambda: (
            [(r["last_transaction_id"], r["alerts"]) for r in _run(project, "user-activity", {"user_id": a})]
            == [(f"{a}-4", 1)]
        ),
        "user-activity shows the last transaction and the alert",
    )
    _until(lambda: [r["hits"] for r in _run(project, "blacklist-hits", {"since": "1d"})] == [2], "blacklist-hits")
    [activity] = _run(project, "user-activity", {"user_id": a})
    assert activity == {
        "user_id": a, "txn_count_1h": 4, "amount_1h": 5060.0, "txn_count_24h": 4, "amount_24h": 5060.0,
        "last_transaction_id": f"{a}-4", "last_location": "Paris", "last_device_id": f"d-{a}",
        "last_event_time": (t0 + timedelta(seconds=3)).strftime("%Y-%m-%d %H:%M:%S"), "alerts": 1,
        **{f"alerts_{r}": int(r == "high_value") for r in RULES},
    }  # fmt: skip
    [alert] = _run(project, "alerts-for-user", {"user_id": a, "since": "1h"})
    assert (alert["alert_id"], alert["rule"], alert["amount"]) == (f"high_value:{a}-4", "high_value", 5000.0)
    top = [(r["user_id"], r["alerts"]) for r in _run(project, "top-alerting-users", {"window": "1h"})]
    assert top == [(bl, 2), (a, 1)]
    [hits] = _run(project, "blacklist-hits", {"since": "1d"})
    assert (hits["user_id"], hits["hits"], hits["reason"]) == (bl, 2, "test: stolen card")
