"""The ksqlDB deploy provider against a real ksqlDB server: the rendered pipeline is created
statement by statement and runs; a second plan changes nothing and a second apply sends nothing; a
rule parameter that lives in a filter is a CREATE OR REPLACE; a change ksqlDB cannot upgrade in place
is refused with the reason, and re-created on request with its readers; a destroy drops exactly what
was recorded, readers first. The run's objects and topics are its own (prefix, fresh topics)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from fraudctl.config.project import load_project
from fraudctl.deploy.model import CREATE, DELETE, NOOP, REFUSED, REPLACE, UPDATE, Change
from fraudctl.deploy.providers.ksql_statements import KsqlStatementProvider
from fraudctl.deploy.state import Record
from fraudctl.ksqldb.client import KsqlClient
from fraudctl.render.pipeline import render_sql, sql_context
from fraudctl.scenarios import topics as scenario_topics
from tests.ksqldb.conftest import Ksql, sweep, unique_prefix

pytestmark = pytest.mark.ksqldb
ROOT = Path(__file__).resolve().parents[2]
TOPICS = ["transactions", "blacklist", "detections", "fraud-alerts"]


def _apply(provider: KsqlStatementProvider, changes: list[Change], records: dict[tuple[str, str], Record]) -> None:
    for change in changes:
        provider.apply(change)
        if change.op == DELETE:
            records.pop((provider.kind, change.name), None)
        elif change.desired is not None and change.op != NOOP:
            records[(provider.kind, change.name)] = Record(
                provider.kind, change.name, change.desired.checksum, change.desired.spec, 1, datetime.now(UTC)
            )


def _plan(ksqldb: Ksql, sql: str, records: dict[tuple[str, str], Record], **kw: str) -> tuple[
    KsqlStatementProvider, list[Change]
]:  # fmt: skip
    provider = KsqlStatementProvider(KsqlClient(ksqldb.url), sql, kw.get("recreate_from"))
    desired = {} if kw.get("destroy") else provider.desired()
    managed = {name for (_k, name) in records}
    return provider, provider.plan(desired, provider.actual(desired, records), managed, bool(kw.get("destroy")))


def _writes(changes: list[Change]) -> list[tuple[str, str]]:
    return [(c.name, c.op) for c in changes if c.op != NOOP]


def test_pipeline_deploys_and_changes_the_way_ksqldb_allows(ksqldb: Ksql) -> None:
    admin = AdminClient({"bootstrap.servers": ksqldb.bootstrap})
    topics = scenario_topics.fresh(TOPICS)
    for f in admin.create_topics(
        [NewTopic(t, num_partitions=6, replication_factor=1) for t in topics.values()]
    ).values():
        f.result(timeout=60)
    prefix = unique_prefix()
    project, problems = load_project(ROOT)
    assert not problems
    sql = render_sql(project, "ksql", sql_context(project, "local-ksqldb", topic_names=topics, ksql_prefix=prefix))
    records: dict[tuple[str, str], Record] = {}
    try:
        provider, changes = _plan(ksqldb, sql, records)
        assert {c.op for c in changes} == {CREATE}
        _apply(provider, changes, records)
        assert provider.wait([c.name for c in changes], time.monotonic() + 180, lambda *_: None) == []

        again, changes = _plan(ksqldb, sql, records)
        assert _writes(changes) == []
        _apply(again, changes, records)
        assert again.writes == 0  # a second apply sends nothing

        # high_value's threshold is a filter of its own hits query: replaced in place.
        raised = sql.replace("h.amount > 1000", "h.amount > 1500")
        assert raised != sql
        in_place, changes = _plan(ksqldb, raised, records)
        assert _writes(changes) == [(f"{prefix}high_value_hits", UPDATE)]
        assert "CREATE OR REPLACE" in changes[[c.name for c in changes].index(f"{prefix}high_value_hits")].note
        _apply(in_place, changes, records)
        assert in_place.wait([f"{prefix}high_value_hits"], time.monotonic() + 120, lambda *_: None) == []
        assert _writes(_plan(ksqldb, raised, records)[1]) == []

        # rapid_burst's count is inside a table function: refused, then re-created with its readers.
        burst = raised.replace(
            "ARRAY_LENGTH(ARRAY_DISTINCT(h.entries)) >= 5", "ARRAY_LENGTH(ARRAY_DISTINCT(h.entries)) >= 6"
        )
        assert burst != raised
        refused = [c for c in _plan(ksqldb, burst, records)[1] if c.op == REFUSED]
        assert [c.name for c in refused] == [f"{prefix}rapid_burst_windows"]
        assert "ksqlDB cannot upgrade a query with a table" in refused[0].note
        _, changes = _plan(ksqldb, burst, records, recreate_from="latest")
        # The plan carries what apply needs: a fresh provider (nothing remembered from planning) applies it.
        recreated = KsqlStatementProvider(KsqlClient(ksqldb.url), burst, "latest")
        assert _writes(changes) == [
            (f"{prefix}rapid_burst_windows", REPLACE),
            (f"{prefix}rapid_burst_hits", REPLACE),
            (f"insert:{prefix}detections<-{prefix}rapid_burst_hits", REPLACE),
        ]
        _apply(recreated, changes, records)
        names = [c.name for c in changes if c.op == REPLACE]
        assert recreated.wait(names, time.monotonic() + 120, lambda *_: None) == []
        assert _writes(_plan(ksqldb, burst, records)[1]) == []
        destroy, changes = _plan(ksqldb, sql, records, destroy="yes")
        assert {c.op for c in changes} == {DELETE}
        _apply(destroy, changes, records)
        assert {n for n in KsqlClient(ksqldb.url).sources() if n.startswith(prefix)} == set() and records == {}
    finally:
        assert sweep(ksqldb.url, prefix) == []  # nothing left behind by the destroy (or by a failure)
        created = [t for t in admin.list_topics(timeout=10).topics if t.startswith(prefix)]
        scenario_topics.delete(admin, [*topics.values(), *created])
