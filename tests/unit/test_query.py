"""The query library, parameter binding and the read-only guard: pure logic, no service."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from fraudctl.config.project import load_project
from fraudctl.query import library
from fraudctl.query.guard import ReadOnlyError, check
from fraudctl.query.library import LibraryError, Sort, parse
from fraudctl.query.params import ParamError, Since, bind, parse_pairs
from fraudctl.query.run import apply_sort, prepare

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2024, 11, 16, 14, 0, 0, tzinfo=UTC)
EXAMPLE = {
    "user-activity": {"user_id": "U1"},
    "alerts-for-user": {"user_id": "U1", "since": "2h"},
    "top-alerting-users": {"window": "1h"},
    "blacklist-hits": {"since": "1d"},
    "live-alerts": {},
}
# Queries over what only PostgreSQL holds: Flink text only, run on Flink whatever the engine.
FLINK_ONLY = {"detector-quality": {"since": "7d"}}


def test_the_library_has_the_queries_analysts_need_on_both_engines() -> None:
    queries = library.load(ROOT)
    assert sorted(queries) == sorted({**EXAMPLE, **FLINK_ONLY})
    assert [n for n, q in queries.items() if q.ksql is None] == list(FLINK_ONLY)
    assert all(q.flink is not None for q in queries.values()), "every query has its Flink text"
    assert queries["live-alerts"].kind == "push"
    assert {p.name: (p.type, p.required, p.default) for p in queries["alerts-for-user"].params} == {
        "user_id": ("string", True, None),
        "since": ("duration", False, "24h"),
    }
    assert queries["user-activity"].description.startswith("One user's recent activity: transactions and amount")


@pytest.mark.parametrize("env_name", ["local", "docker"])
@pytest.mark.parametrize("name", sorted(EXAMPLE))
def test_every_query_renders_read_only_for_each_engine(env_name: str, name: str) -> None:
    project, problems = load_project(ROOT)
    assert not problems
    query = library.load(ROOT)[name]
    prepared = prepare(project, env_name, query, None, EXAMPLE[name], False, NOW)
    assert prepared.engine == ("flink" if env_name == "local" else "ksqldb")
    assert prepared.push == (name == "live-alerts")
    assert "{{" not in prepared.sql and "{%" not in prepared.sql
    if "user_id" in EXAMPLE[name]:
        assert "'U1'" in prepared.sql


@pytest.mark.parametrize("env_name", ["local", "local-ksqldb"])
def test_a_query_of_the_analysts_verdicts_runs_on_flink_whatever_the_engine(env_name: str) -> None:
    project, _ = load_project(ROOT)
    query = library.load(ROOT)["detector-quality"]
    assert query.to_json()["engines"] == ["flink"]
    prepared = prepare(project, env_name, query, None, FLINK_ONLY["detector-quality"], False, NOW)
    assert prepared.engine == "flink" and not prepared.push
    assert "disposition = 'fraud'" in prepared.sql and "{{" not in prepared.sql


def test_a_rendered_query_carries_the_look_back_for_its_engine() -> None:
    project, _ = load_project(ROOT)
    query = library.load(ROOT)["alerts-for-user"]
    flink = prepare(project, "local", query, None, {"user_id": "U1", "since": "2h"}, False, NOW).sql
    ksql = prepare(project, "docker", query, None, {"user_id": "U1", "since": "2h"}, False, NOW).sql
    assert "TIMESTAMP '2024-11-16 12:00:00.000'" in flink
    assert str(int(datetime(2024, 11, 16, 12, tzinfo=UTC).timestamp() * 1000)) in ksql


def test_user_activity_has_one_alert_column_per_rule() -> None:
    project, _ = load_project(ROOT)
    sql = prepare(project, "local", library.load(ROOT)["user-activity"], None, {"user_id": "U1"}, False, NOW).sql
    for rule in ("rapid_burst", "location_mismatch", "high_value", "blacklisted_account", "new_device"):
        assert f"alerts_{rule}" in sql


def test_params_are_bound_typed_and_quoted() -> None:
    query = library.load(ROOT)["alerts-for-user"]
    values = bind(query, {"user_id": "O'Brien"}, NOW)
    assert values["user_id"] == "'O''Brien'"  # a quote cannot end the literal
    assert isinstance(values["since"], Since) and values["since"].ms == 86_400_000


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({}, "missing parameter user_id (string) for query alerts-for-user: The user to look at."),
        ({"user_id": "U1", "since": "soon"}, "parameter since of alerts-for-user: expected a duration"),
        (
            {"user_id": "U1", "until": "1h"},
            "unknown parameter 'until' for query alerts-for-user (its parameters: user_id, since)",
        ),
        ({"user_id": ""}, "parameter user_id of alerts-for-user: expected 1 to 200 printable characters"),
        ({"user_id": "a\nb"}, "parameter user_id of alerts-for-user: expected 1 to 200 printable characters"),
    ],
)
def test_a_bad_parameter_is_reported_by_name(given: dict[str, str], message: str) -> None:
    with pytest.raises(ParamError) as info:
        bind(library.load(ROOT)["alerts-for-user"], given, NOW)
    assert str(info.value).startswith(message)


def test_param_pairs() -> None:
    assert parse_pairs(["a=1", "b=x=y"]) == {"a": "1", "b": "x=y"}
    with pytest.raises(ParamError, match="expected NAME=VALUE"):
        parse_pairs(["user_id"])
    with pytest.raises(ParamError, match="given twice"):
        parse_pairs(["a=1", "a=2"])


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM alerts",
        "  select rule, count(*) from alerts group by rule;  ",
        "WITH x AS (SELECT 1 AS n) SELECT n FROM x",
        "SHOW TABLES",
        "DESCRIBE alerts",
        "EXPLAIN SELECT 1",
        "SELECT 'DROP TABLE x; INSERT INTO y' AS text",
        "SELECT 1 -- ; DROP TABLE x",
        "PRINT 'fraud-alerts' FROM BEGINNING",
    ],
)
def test_reading_statements_pass(sql: str) -> None:
    # What is sent is the statement as checked, up to its last token (no ';', no trailing comment).
    assert check(sql) == sql.split("--")[0].strip().rstrip(";").strip()


# Attempts to get a write past the guard: each is refused (comment ends the engines know, hints,
# look-alike characters, write words inside a reading statement, quoting tricks).
BYPASSES = [
    "SELECT 1 --\rINSERT INTO alerts SELECT * FROM alerts",
    "--\rINSERT INTO alerts SELECT * FROM alerts",
    "SELECT 1 //\n; INSERT INTO blacklist VALUES ('u', 'x', NULL)",
    "// comment\nINSERT INTO blacklist SELECT * FROM blacklist",
    "SELECT /*+ OPTIONS('sink.parallelism'='1') */ * FROM alerts",
    "SELECT * FROM alerts /*+ OPTIONS('connector'='jdbc') */",
    "SELECT 1\uff1b INSERT INTO alerts SELECT * FROM alerts",  # fullwidth semicolon
    "SELECT 1;\u2028INSERT INTO alerts SELECT * FROM alerts",
    "SELECT\u00a01; DROP TABLE alerts",
    "SELECT 1 /* unterminated; INSERT INTO alerts SELECT 1",
    "SELECT 'unterminated; INSERT INTO alerts SELECT 1",
    "WITH x AS (SELECT 1) INSERT INTO alerts SELECT * FROM x",
    "EXPLAIN INSERT INTO alerts SELECT * FROM alerts",
    "SELECT 1; SET 'table.dml-sync' = 'true'",
    "SHOW TABLES; DROP TABLE alerts",
    "select 1 --\r\ndelete from fraud_alerts",
    "SELECT `a``;DROP` FROM t; DROP TABLE t",
    "DESCRIBE alerts; CREATE TABLE t (a INT)",
    "SELECT * FROM alerts\r--\nUPDATE alerts SET rule = 'x'",
    "EXECUTE STATEMENT SET BEGIN INSERT INTO a SELECT 1; END",
    "SELECT 1 \u037e DROP TABLE x",  # Greek question mark, a semicolon look-alike
]


@pytest.mark.parametrize("sql", BYPASSES)
def test_every_known_bypass_is_refused(sql: str) -> None:
    with pytest.raises(ReadOnlyError):
        check(sql)


def test_show_create_is_a_listing() -> None:
    assert check("SHOW CREATE TABLE alerts") == "SHOW CREATE TABLE alerts"
    with pytest.raises(ReadOnlyError, match="CREATE"):
        check("SELECT 1 FROM (CREATE TABLE t (a INT))")


@pytest.mark.parametrize(
    ("sql", "first"),
    [
        ("CREATE TABLE x (a INT)", "CREATE"),
        ("drop stream transactions", "DROP"),
        ("INSERT INTO alerts SELECT * FROM alerts", "INSERT"),
        ("TERMINATE ALL", "TERMINATE"),
        ("ALTER TABLE x ADD y INT", "ALTER"),
        ("SET 'ksql.streams.auto.offset.reset' = 'earliest'", "SET"),
        ("RESET 'table.exec.state.ttl'", "RESET"),
        ("/* a comment */ DELETE FROM fraud_alerts", "DELETE"),
        ("EXECUTE STATEMENT SET BEGIN INSERT INTO a SELECT 1; END", None),
    ],
)
def test_statements_that_change_anything_are_refused(sql: str, first: str | None) -> None:
    with pytest.raises(ReadOnlyError) as info:
        check(sql)
    text = str(info.value)
    assert text.startswith("`query` is read-only") or text.startswith("`query` runs one statement at a time")
    if first:
        assert f": {first} statements change the pipeline" in text


def test_more_than_one_statement_is_refused() -> None:
    with pytest.raises(ReadOnlyError, match="one statement at a time"):
        check("SELECT 1; DROP TABLE x")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("-- name: x\n-- kind: pull\nSELECT 1\n", "the header has no `-- description:` line"),
        ("-- name: q\n-- description: d\n-- kind: later\nSELECT 1\n", "kind must be pull or push"),
        ("-- name: q\n-- description: d\n-- kind: pull\n-- colour: red\nSELECT 1\n", "q.sql:4: unknown header key"),
        (
            "-- name: q\n-- description: d\n-- kind: pull\n-- param n: float, required. N.\nSELECT 1\n",
            "q.sql:4: param n",
        ),
        ("-- name: other\n-- description: d\n-- kind: pull\nSELECT 1\n", "q.sql:1: the query is named 'other'"),
    ],
)
def test_a_malformed_library_file_is_reported_with_file_and_line(text: str, message: str) -> None:
    with pytest.raises(LibraryError) as info:
        parse(Path("ksql/queries/q.sql"), text, ROOT)
    assert message in str(info.value)


def test_rows_are_sorted_as_declared() -> None:
    rows = [{"u": "b", "n": 1}, {"u": "a", "n": 1}, {"u": "c", "n": 3}, {"u": "d", "n": None}]
    ordered = apply_sort(rows, (Sort("n", True), Sort("u", False)))
    assert [r["u"] for r in ordered] == ["c", "a", "b", "d"]


def _fraudctl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fraudctl", *args], cwd=ROOT, capture_output=True, text=True)


def test_cli_refusals_exit_2_with_the_reason() -> None:
    res = _fraudctl("query", "--sql", "DROP TABLE alerts")
    assert res.returncode == 2 and "DROP statements change the pipeline" in res.stderr
    res = _fraudctl("query", "no-such-query")
    assert res.returncode == 2
    assert "unknown query 'no-such-query'; the library has: alerts-for-user, blacklist-hits" in res.stderr
    res = _fraudctl("query", "alerts-for-user", "--param", "since=1h")
    assert res.returncode == 2 and "missing parameter user_id" in res.stderr
    res = _fraudctl("query", "--list", "--output", "json")
    assert res.returncode == 0 and "user-activity" in res.stdout
