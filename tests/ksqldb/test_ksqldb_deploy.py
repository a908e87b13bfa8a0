"""The ksqlDB deploy provider against a real ksqlDB server (Docker only): the rendered pipeline is
created statement by statement and runs; a second plan changes nothing; a changed filter is a
CREATE OR REPLACE; a change ksqlDB cannot apply in place is refused, and re-created on request."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from fraudctl.config.project import load_project
from fraudctl.deploy.model import CREATE, NOOP, REPLACE, UPDATE, Change
from fraudctl.deploy.providers.ksql_statements import KsqlPlanError, KsqlStatementProvider
from fraudctl.deploy.state import Record
from fraudctl.ksqldb.client import KsqlClient
from fraudctl.render.pipeline import render_sql, sql_context
from tests.ksqldb.conftest import Ksql

pytestmark = pytest.mark.ksqldb
ROOT = Path(__file__).resolve().parents[2]


def _sql() -> str:
    project, problems = load_project(ROOT)
    assert not problems
    context = sql_context(project, "docker")
    return render_sql(project, "ksql", context)


def _apply(provider: KsqlStatementProvider, changes: list[Change], records: dict[tuple[str, str], Record]) -> None:
    for change in changes:
        provider.apply(change)
        if change.desired is not None and change.op != NOOP:
            records[(provider.kind, change.name)] = Record(
                provider.kind, change.name, change.desired.checksum, change.desired.spec, 1, datetime.now(UTC)
            )


def test_pipeline_deploys_and_changes_the_way_ksqldb_allows(ksqldb: Ksql) -> None:
    admin = AdminClient({"bootstrap.servers": ksqldb.bootstrap})
    topics = ["transactions", "blacklist", "detections", "fraud-alerts"]
    for f in admin.create_topics([NewTopic(t, num_partitions=6, replication_factor=1) for t in topics]).values():
        f.result(timeout=60)
    sql = _sql()
    records: dict[tuple[str, str], Record] = {}

    provider = KsqlStatementProvider(KsqlClient(ksqldb.url), sql)
    desired = provider.desired()
    changes = provider.plan(desired, provider.actual(desired, records), set(), False)
    assert {c.op for c in changes} == {CREATE}
    _apply(provider, changes, records)
    assert provider.wait([c.name for c in changes], time.monotonic() + 180, lambda *_: None) == []

    again = KsqlStatementProvider(KsqlClient(ksqldb.url), sql)
    desired = again.desired()
    managed = {name for (_k, name) in records}
    assert {c.op for c in again.plan(desired, again.actual(desired, records), managed, False)} == {NOOP}

    filtered = KsqlStatementProvider(
        KsqlClient(ksqldb.url),
        sql.replace("ARRAY_LENGTH(ARRAY_DISTINCT(h.entries)) >= 5", "ARRAY_LENGTH(ARRAY_DISTINCT(h.entries)) >= 6"),
    )
    desired = filtered.desired()
    changes = [c for c in filtered.plan(desired, filtered.actual(desired, records), managed, False) if c.op != NOOP]
    assert [(c.name, c.op) for c in changes] == [("rapid_burst_hits", UPDATE)]
    _apply(filtered, changes, records)

    raised = sql.replace("h.amount > 1000", "h.amount > 1500")
    refused = KsqlStatementProvider(KsqlClient(ksqldb.url), raised)
    with pytest.raises(KsqlPlanError, match="INSERT INTO query has no CREATE OR REPLACE"):
        refused.plan(refused.desired(), refused.actual(refused.desired(), records), managed, False)
    recreated = KsqlStatementProvider(KsqlClient(ksqldb.url), raised, recreate_from="latest")
    desired = recreated.desired()
    changes = [c for c in recreated.plan(desired, recreated.actual(desired, records), managed, False) if c.op != NOOP]
    assert [(c.name, c.op) for c in changes] == [("insert:detections<-user_history_changes", REPLACE)]
    _apply(recreated, changes, records)
    assert recreated.wait([c.name for c in changes], time.monotonic() + 120, lambda *_: None) == []
