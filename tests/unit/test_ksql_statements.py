"""The ksqlDB deploy logic that needs no server: statements named from the rendered pipeline,
which changes ksqlDB can apply in place, what the plan refuses, and what it re-creates."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import pytest

from fraudctl.config.project import load_project
from fraudctl.deploy.model import CREATE, DELETE, NOOP, REFUSED, REPLACE, UPDATE, Resource
from fraudctl.deploy.providers.ksql_statements import KsqlStatementProvider
from fraudctl.ksqldb.client import KsqlClient
from fraudctl.ksqldb.statements import (
    INSERT,
    QUERY,
    SOURCE,
    change_allowed_in_place,
    dependents,
    normalize,
    parse,
    parse_one,
    settings,
    with_prefix,
)
from fraudctl.render.jinja import _ksql_duration
from fraudctl.render.pipeline import render_sql, sql_context

ROOT = Path(__file__).resolve().parents[2]
RULES = ("rapid_burst", "location_mismatch", "high_value", "blacklisted_account", "new_device")

SQL = """
CREATE STREAM IF NOT EXISTS tx (user_key STRING KEY, amount DOUBLE) WITH (KAFKA_TOPIC = 'tx', VALUE_FORMAT = 'JSON');
CREATE TABLE IF NOT EXISTS counts AS SELECT user_key, COUNT(*) AS n FROM tx
  WINDOW TUMBLING (SIZE 1 HOUR) GROUP BY user_key EMIT CHANGES;
CREATE STREAM IF NOT EXISTS hits (user_key STRING KEY, n BIGINT) WITH (KAFKA_TOPIC = 'hits', VALUE_FORMAT = 'JSON');
INSERT INTO hits SELECT user_key, amount AS n FROM tx WHERE amount > 1000 EMIT CHANGES;
CREATE TABLE IF NOT EXISTS big AS SELECT user_key, n FROM counts WHERE n > 5 EMIT CHANGES;
"""
OTHER = """
CREATE STREAM IF NOT EXISTS exploded AS SELECT user_key, EXPLODE(ARRAY[n, n]) AS n FROM hits WHERE n > 1 EMIT CHANGES;
CREATE STREAM IF NOT EXISTS joined AS SELECT h.user_key, h.n FROM hits h JOIN big b ON h.user_key = b.user_key
  WHERE h.n > 1 EMIT CHANGES;
"""


def _rendered(env: str = "docker") -> str:
    project, problems = load_project(ROOT)
    assert not problems
    return render_sql(project, "ksql", sql_context(project, env))


def test_the_rendered_pipeline_parses_into_named_statements() -> None:
    statements = parse(_rendered())
    names = [s.name for s in statements]
    assert len(names) == len(set(names))
    assert names[:3] == ["transactions", "blacklist", "detections"]
    kinds = {s.name: s.kind for s in statements}
    assert kinds["transactions"] == SOURCE and kinds["rapid_burst_hits"] == QUERY
    assert kinds["insert:detections<-blacklisted_account_hits"] == INSERT
    # One pass-through copy per rule writes detections; each rule's logic is a query of its own.
    inserts = sorted(s.name for s in statements if s.kind == INSERT)
    assert inserts == sorted(f"insert:detections<-{rule}_hits" for rule in RULES)


def test_detections_carry_the_lower_case_names_the_enrichment_step_reads() -> None:
    by_name = {s.name: s for s in parse(_rendered())}
    assert "`alert_id` STRING" in by_name["detections"].sql and "`window_start` STRING" in by_name["detections"].sql
    for rule in RULES:
        hits = by_name[f"{rule}_hits"].sql
        assert "AS `alert_id`" in hits and "AS `event_time`" in hits and "FORMAT_TIMESTAMP(FROM_UNIXTIME(" in hits


def test_a_prefix_renames_every_object_and_created_topic_but_nothing_else() -> None:
    plain = parse(_rendered())
    project, _ = load_project(ROOT)
    prefixed = parse(render_sql(project, "ksql", sql_context(project, "docker", ksql_prefix="run1_")))
    assert [s.name for s in prefixed] == [
        s.name.replace("insert:detections<-", "insert:run1_detections<-run1_") if s.kind == INSERT else f"run1_{s.name}"
        for s in plain
    ]
    by_name = {s.name: s for s in prefixed}
    assert by_name["run1_transactions"].topic == "transactions"  # declared topics keep their names
    assert by_name["run1_user_history"].topic == "run1_fraud_user_history"
    assert by_name["run1_user_history_changes"].topic == "run1_fraud_user_history"
    assert by_name["run1_user_history_changes"].sources == ("run1_user_history",)
    assert "h.entries" in by_name["run1_high_value_hits"].sql  # qualified columns are not objects
    assert with_prefix("SELECT 'user_history' FROM user_history", "p_", {"user_history"}, set()) == (
        "SELECT 'user_history' FROM p_user_history"
    )


def test_a_recorded_statement_without_its_semicolon_parses() -> None:
    [statement] = [s for s in parse(SQL) if s.name == "big"]
    assert parse_one(statement.sql) == statement


def test_a_table_change_stream_reads_the_query_that_writes_its_topic() -> None:
    by_name = {s.name: s for s in parse(_rendered())}
    assert by_name["user_history_changes"].sources == ("user_history",)
    assert by_name["transactions_on_time"].sources == ("transactions_in_time",)
    assert by_name["device_history_changes"].sources == ("device_history",)
    assert dependents(list(by_name.values()))["user_history"] == {"user_history_changes"}


class _Recorder:
    """Stands in for the HTTP client to see what the provider would send; no server logic."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, str]]] = []

    def execute(self, statement: str, properties: dict[str, str] | None = None) -> list[dict[str, Any]]:
        self.sent.append((statement, properties or {}))
        return []


def test_the_pipeline_settings_go_with_every_statement_and_are_not_statements() -> None:
    sql = _rendered()
    assert settings(sql) == {"ksql.streams.cache.max.bytes.buffering": "0"}
    assert not any(s.sql.upper().startswith("SET") for s in parse(sql))
    recorder = _Recorder()
    provider = KsqlStatementProvider(cast(KsqlClient, recorder), sql)
    for change in provider.plan(provider.desired(), {}, set(), False):
        provider.apply(change)
    assert len(recorder.sent) == len(provider.statements)
    assert all(props["ksql.streams.cache.max.bytes.buffering"] == "0" for _, props in recorder.sent)
    assert all(props["ksql.streams.auto.offset.reset"] == "earliest" for _, props in recorder.sent)


def test_the_rules_are_rendered_per_row_from_the_same_parameters() -> None:
    """The ksqlDB rendering of the rules the Flink one has: per-row sliding burst, the multiple of
    the user's average, lateness as the windows' grace, all from the scenario's parameters."""
    project, _ = load_project(ROOT)
    params = {
        "rapid_burst": {"min_count": 3, "window": "10s"},
        "high_value": {"threshold": 700, "multiple": 4, "history": "2d"},
        "new_device": {"lookback": "7d", "min_amount": 150},
    }
    sql = render_sql(project, "ksql", sql_context(project, "local", params))
    assert "HOPPING" not in sql  # no window approximates the sliding one
    assert "GENERATE_SERIES(3, " in sql and "[i - 2]" in sql and "- 10000 <= h.event_ms" in sql
    assert "h.amount > 700" in sql and "h.amount * ARRAY_LENGTH(" in sql and "> 4 * REDUCE(" in sql
    assert "h.event_ms - 172800000" in sql  # the average looks back two days
    assert "d.amount >= 150" in sql and "d.event_ms - 604800000" in sql
    lateness = sql_context(project, "local")["stream"]["allowed_lateness"]
    assert f"GRACE PERIOD {_ksql_duration(lateness)}" in sql
    by_name = {s.name: s for s in parse(sql)}
    assert "WINDOW TUMBLING (SIZE 1 MILLISECOND" in by_name["transactions_in_time"].sql


def test_the_edits_the_server_test_makes_exist_in_the_rendering() -> None:
    """tests/ksqldb/test_ksqldb_deploy.py edits the docker rendering; an edit that matched nothing
    would make that test pass vacuously where it runs."""
    sql = _rendered("docker")
    assert "ARRAY_LENGTH(ARRAY_DISTINCT(h.entries)) >= 5" in sql
    assert "h.amount > 1000" in sql
    assert "d.amount >= 200" in sql


def test_normalize_ignores_layout_and_case_but_not_literals() -> None:
    assert normalize("select  a\n from   t") == normalize("SELECT a FROM t")
    assert normalize("SELECT 'x'") != normalize("SELECT 'X'")


def test_or_replace_drops_if_not_exists() -> None:
    [table] = [s for s in parse(SQL) if s.name == "big"]
    assert table.or_replace().startswith("CREATE OR REPLACE TABLE big AS SELECT")


@pytest.mark.parametrize(
    ("name", "edit", "reason"),
    [
        ("big", ("n > 5", "n > 7"), None),  # a changed filter: in place
        ("counts", ("SIZE 1 HOUR", "SIZE 2 HOURS"), "its sources, join, grouping, window or partitioning change"),
        ("hits", ("n BIGINT)", "n BIGINT, extra STRING)"), None),  # a column added at the end: in place
        ("hits", ("(user_key STRING KEY, n BIGINT)", "(user_key STRING KEY, m BIGINT)"), "only accepts new columns"),
        ("insert:hits<-tx", ("amount > 1000", "amount > 2000"), "an INSERT INTO query has no CREATE OR REPLACE"),
        ("exploded", ("n > 1", "n > 2"), "a table function (EXPLODE)"),
        ("joined", ("n > 1", "n > 2"), "a join"),
    ],
)
def test_which_changes_ksqldb_applies_in_place(name: str, edit: tuple[str, str], reason: str | None) -> None:
    old = {s.name: s for s in parse(SQL + OTHER)}[name]
    new = {s.name: s for s in parse((SQL + OTHER).replace(*edit))}[name]
    result = change_allowed_in_place(old, new)
    assert result is None if reason is None else (result is not None and reason in result)


def _provider(sql: str, recreate_from: str | None = None) -> KsqlStatementProvider:
    return KsqlStatementProvider(cast(KsqlClient, None), sql, recreate_from)  # plan() is pure


def _state(sql: str) -> tuple[dict[str, Resource], dict[str, Any]]:
    p = _provider(sql)
    applied = p.desired()
    return applied, {s.name: s for s in p.statements}


def test_plan_updates_in_place_and_refuses_what_needs_recreation() -> None:
    actual, recorded = _state(SQL)
    p = _provider(SQL.replace("n > 5", "n > 7"))
    p._recorded = recorded
    changes = {c.name: c for c in p.plan(p.desired(), actual, set(actual), False)}
    assert changes["big"].op == UPDATE and "CREATE OR REPLACE" in changes["big"].note
    assert [c.key for c in changes["big"].fields] == ["checksum"]
    assert {n for n, c in changes.items() if c.op == NOOP} == set(actual) - {"big"}

    p = _provider(SQL.replace("amount > 1000", "amount > 2000"))
    p._recorded = recorded
    refused = [c for c in p.plan(p.desired(), actual, set(actual), False) if c.op == REFUSED]
    # A refusal is an entry of the plan with its reason (the rest of the plan is still shown).
    assert [c.name for c in refused] == ["insert:hits<-tx"]
    assert "an INSERT INTO query has no CREATE OR REPLACE" in refused[0].note
    assert "--recreate-from" in refused[0].note


def test_recreation_takes_every_reader_along_in_dependency_order() -> None:
    actual, recorded = _state(SQL)
    p = _provider(SQL.replace("SIZE 1 HOUR", "SIZE 2 HOURS"), recreate_from="earliest")
    p._recorded = recorded
    changes = p.plan(p.desired(), actual, set(actual), False)
    replaced = [c.name for c in changes if c.op == REPLACE]
    assert replaced == ["counts", "big"]  # big reads counts; file order creates counts first
    assert all("reads again from the earliest offset" in c.note for c in changes if c.op == REPLACE)
    # Each re-creation carries what apply drops first and the offset: the plan is all apply needs.
    for c in (c for c in changes if c.op == REPLACE):
        assert list(c.context["drops"]) == ["counts", "big"] and c.context["offset"] == "earliest"
        assert c.context["drops"]["counts"] == recorded["counts"].sql


def test_new_statements_are_created_and_removed_ones_deleted_readers_first() -> None:
    actual, recorded = _state(SQL)
    smaller = SQL.split("INSERT INTO hits")[0]
    p = _provider(smaller)
    p._recorded = recorded
    changes = p.plan(p.desired(), actual, set(actual), True)
    deletes = [c.name for c in changes if c.op == DELETE]
    assert deletes == ["insert:hits<-tx", "big"]  # the insert (a reader) goes before the table
    assert all(c.context["recorded_sql"] == recorded[c.name].sql for c in changes if c.op == DELETE)
    p = _provider(SQL)
    creates = [c.name for c in p.plan(p.desired(), {}, set(), False) if c.op == CREATE]
    assert creates == ["tx", "counts", "hits", "insert:hits<-tx", "big"]


def test_a_destroy_drops_every_statement_readers_first() -> None:
    actual, recorded = _state(SQL)
    p = _provider(SQL)
    p._recorded = recorded
    deletes = [c.name for c in p.plan({}, actual, set(actual), True) if c.op == DELETE]
    assert deletes == ["big", "insert:hits<-tx", "hits", "counts", "tx"]  # reverse file order
