"""The transaction record is defined once (fraudctl.contract.Transaction): both engines' column
lists, the checks of required fields and bounds, and the dead-letter payload are rendered from it.
Adding an optional field is a one-place change: a copy of the model with one more field renders
into every artifact that lists the record's columns."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fraudctl import contract
from fraudctl.config.project import copy_declarations, load_project
from fraudctl.render.pipeline import render_environment
from fraudctl.validate.run import validate

ROOT = Path(__file__).resolve().parents[2]


def _block(sql: str, start: str) -> str:
    i = sql.index(start)
    return sql[i : sql.index(";", i)]


def test_both_engines_declare_exactly_the_contracts_columns() -> None:
    project, _ = load_project(ROOT)
    rendered, problems = render_environment(project, "local")
    assert not problems
    cols = contract.records().transaction
    # Flink reads optional numbers as text (a value of the wrong type must be seen, not nulled).
    for file, start, want in (
        ("flink/pipeline.sql", "CREATE TABLE IF NOT EXISTS transactions (", [(c.quoted, c.source_type) for c in cols]),
        ("ksql/pipeline.sql", "CREATE STREAM IF NOT EXISTS transactions (", [(c.quoted, c.sql_type) for c in cols]),
    ):
        block = _block(rendered.files[file], start)
        got = re.findall(r"^\s+(`?\w+`?) ([A-Z]+(?:\(\d+, \d+\))?),?$", block, re.MULTILINE)
        assert [g for g in got if g[0] not in ("src_partition", "src_offset")] == want, file


def test_required_fields_and_bounds_become_the_engines_rejections() -> None:
    project, _ = load_project(ROOT)
    sql = render_environment(project, "local")[0].files["flink/pipeline.sql"]
    case = _block(sql, "CREATE TEMPORARY VIEW transactions_checked")
    for c in contract.records().transaction_required:
        assert f"WHEN {c.checked_as} IS NULL THEN '{c.when_null}'" in case
    assert "WHEN amount <= 0 THEN 'amount must be greater than 0'" in case
    assert "lat IS NULL" not in case  # optional fields are never a reason
    # Every constraint of the contract (lengths, bounds, pattern, choices, the type of an
    # optional number) is a reason, worded once in contract.Column.checks.
    for c in contract.records().transaction:
        for condition, reason in c.checks():
            assert f"WHEN {condition} THEN '{reason}'" in case, (c.name, reason)
    assert "WHEN CHAR_LENGTH(location) > 128 THEN 'location longer than 128 characters'" in case
    assert "WHEN channel NOT IN ('pos', 'ecom', 'atm')" in case
    assert "TRY_CAST(lat AS DOUBLE) AS lat" in case


def test_a_new_optional_field_is_one_change(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    class WithLoyalty(contract.Transaction):
        loyalty_tier: str | None = None

    monkeypatch.setattr(contract, "Transaction", WithLoyalty)
    home = copy_declarations(ROOT, tmp_path / "repo")
    project, _ = load_project(home)
    rendered, problems = render_environment(project, "local")
    assert not problems
    flink, ksql = rendered.files["flink/pipeline.sql"], rendered.files["ksql/pipeline.sql"]
    assert "loyalty_tier STRING" in _block(flink, "CREATE TABLE IF NOT EXISTS transactions (")
    assert "loyalty_tier STRING" in _block(ksql, "CREATE STREAM IF NOT EXISTS transactions (")
    assert "loyalty_tier, event_time" in _block(flink, "CREATE TEMPORARY VIEW transactions_unique")
    assert "'loyalty_tier' VALUE loyalty_tier" in flink  # dead letters keep what was read
    assert "WHEN loyalty_tier" not in _block(flink, "CREATE TEMPORARY VIEW transactions_checked")  # no rule
    # And the whole repo still validates with it (SQL split, objects defined before use, ...).
    report = validate(home, ["local"])
    assert not report.problems, [p.text() for p in report.problems]


def test_every_place_that_stores_alerts_agrees_with_the_alert_record() -> None:
    import json

    import yaml

    def in_postgres(f: object) -> bool:
        extra = getattr(f, "json_schema_extra", None)
        return not (isinstance(extra, dict) and extra.get("stored_in_postgres") is False)

    stored = [n for n, f in contract.Alert.model_fields.items() if in_postgres(f)]
    # The PostgreSQL sink writes exactly the stored fields, with types the record implies.
    sink = yaml.safe_load((ROOT / "connectors/alerts-postgres.yaml").read_text())
    assert list(sink["fields"]) == stored
    kinds = {
        c.name: ("float64" if c.sql_type in ("DOUBLE", "DECIMAL(18, 2)") else "string")
        for c in contract.columns(contract.Alert)
    }
    assert sink["fields"] == {n: kinds[n] for n in stored}
    # The table has a column for each (and the analysts' own columns besides).
    ddl = (ROOT / "postgres/002_fraud_alerts.sql").read_text()
    table = ddl[ddl.index("CREATE TABLE IF NOT EXISTS public.fraud_alerts") :].split(");", 1)[0]
    columns = re.findall(r"^\s+(\w+)\s+\w", table, re.MULTILINE)
    assert columns[: len(stored)] == stored
    assert set(columns) - set(stored) == {"status", "assignee", "disposition", "notes", "created_at"}
    # The search index maps every field of the alert record, and nothing else.
    mapping = json.loads((ROOT / "search/fraud-alerts.json").read_text())["template"]["mappings"]["properties"]
    assert list(mapping) == list(contract.Alert.model_fields)


def test_the_engines_write_the_detection_record() -> None:
    project, _ = load_project(ROOT)
    rendered, _ = render_environment(project, "local")
    want = list(contract.RuleHit.model_fields)
    # Flink's hits carry the transaction and its context as well (nested rows); ksqlDB's do not yet.
    flink = _block(rendered.files["flink/pipeline.sql"], "CREATE TABLE IF NOT EXISTS detections (")
    assert re.findall(r"^\s+`?(\w+)`? [A-Z]", flink, re.MULTILINE) == list(contract.Detection.model_fields)
    ksql = _block(rendered.files["ksql/pipeline.sql"], "CREATE STREAM IF NOT EXISTS detections (")
    assert re.findall(r"^\s+`(\w+)` [A-Z]", ksql, re.MULTILINE) == want
    assert list(contract.Alert.model_fields)[: len(want)] == want


def test_the_enriched_record_is_the_contract() -> None:
    """The engine's enriched transaction declares every field of the transaction and of its
    context, by the contract's names and in its order: what the model reads is what the engine
    emits (the expressions are rendered per name; a context field without one fails rendering)."""
    project, _ = load_project(ROOT)
    rendered, _ = render_environment(project, "local")
    table = _block(rendered.files["flink/pipeline.sql"], "CREATE TABLE IF NOT EXISTS transactions_enriched (")
    rows = dict(re.findall(r"`(\w+)` ROW<(.*)>", table))
    assert list(rows) == list(contract.EnrichedTransaction.model_fields)
    names = {k: re.findall(r"(?:^|, )`?(\w+)`? [A-Z]", v) for k, v in rows.items()}
    assert names["transaction"] == list(contract.Transaction.model_fields)
    assert names["context"] == list(contract.TransactionContext.model_fields)


def test_the_model_reads_every_context_field_the_engine_emits() -> None:
    """Each field of the context changes the feature vector: none is emitted and then ignored."""
    from udf_service import features

    tx = contract.Transaction.model_validate(
        {
            "transaction_id": "t",
            "user_id": "u",
            "amount": 50.0,
            "currency": "EUR",
            "timestamp": "2024-11-16T14:00:00Z",
            "location": "Paris",
        }
    )
    plain = features.compute(tx, contract.TransactionContext())
    changed = {
        "rules_fired": ["high_value"],
        "txn_count_1h": 4,
        "amount_sum_1h": 300.0,
        "txn_count_24h": 9,
        "amount_sum_24h": 900.0,
        "history_count": 12,
        "user_avg_amount": 20.0,
        "seconds_since_previous": 60.0,
        "distance_from_previous_km": 300.0,
        "speed_from_previous_kmh": 1200.0,
        "distance_from_usual_km": 450.0,
        "new_device": True,
        "new_merchant": True,
    }
    assert set(changed) == set(contract.TransactionContext.model_fields)
    for name, value in changed.items():
        ctx = contract.TransactionContext.model_validate({name: value})
        assert features.compute(tx, ctx) != plain, f"{name} does not reach the model's features"
