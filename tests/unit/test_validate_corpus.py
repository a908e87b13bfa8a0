"""A corpus of broken repos: each case copies the real repo, makes one mistake, and asserts the
exact problem (file, line, key, message) and exit code 1. The real repo must validate clean."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from fraudctl.config.project import copy_declarations
from fraudctl.config.source import Problem
from fraudctl.validate.run import validate

ROOT = Path(__file__).resolve().parents[2]


def copy_repo(dest: Path) -> Path:
    return copy_declarations(ROOT, dest)


def edit(path: Path, old: str, new: str) -> int:
    """Replaces `old` (which must occur once) and returns the 1-based line where it started."""
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in {path}"
    line = text[: text.index(old)].count("\n") + 1
    path.write_text(text.replace(old, new))
    return line


def line_of(path: Path, needle: str) -> int:
    text = path.read_text()
    return text[: text.index(needle)].count("\n") + 1


@dataclass(frozen=True)
class Case:
    name: str
    mistake: Callable[[Path], Problem]  # makes the mistake in a repo copy, returns the problem it must cause
    envs: tuple[str, ...] | None = None


def _bad_yaml(root: Path) -> Problem:
    line = edit(root / "connectors/alerts-search.yaml", "topics: [fraud-alerts]", "topics: [fraud-alerts")
    # The parser notices on the next line, where the unclosed list meets the next key.
    return Problem("connectors/alerts-search.yaml", line + 1, "", "invalid YAML: expected ',' or ']', but got ':'")


def _unknown_key(root: Path) -> Problem:
    line = edit(root / "connectors/alerts-search.yaml", "format: json", "format: json\nfromat: json")
    return Problem(
        "connectors/alerts-search.yaml",
        line + 1,
        "fromat",
        "unknown key (allowed: description, enabled, errors, fields, flush, format, key, kind, name, overrides, "
        "retention, target, tasks, time_field, topics)",
    )


def _missing_required(root: Path) -> Problem:
    edit(root / "connectors/alerts-search.yaml", "kind: search-alerts\n", "")
    return Problem("connectors/alerts-search.yaml", 1, "kind", "missing required key")


def _wrong_type(root: Path) -> Problem:
    line = edit(root / "detections/rapid_burst.yaml", "min_count: 5", "min_count: five")
    return Problem("detections/rapid_burst.yaml", line, "params.min_count", "expected an integer, got 'five'")


def _undeclared_topic(root: Path) -> Problem:
    line = edit(root / "connectors/alerts-search.yaml", "topics: [fraud-alerts]", "topics: [fraud-alertz]")
    return Problem(
        "connectors/alerts-search.yaml",
        line,
        "topics[0]",
        "topic 'fraud-alertz' is not declared in topics.yaml",
    )


def _duplicate_connector(root: Path) -> Problem:
    shutil.copy2(root / "connectors/alerts-search.yaml", root / "connectors/alerts-search-copy.yaml")
    return Problem(
        "connectors/alerts-search.yaml",
        1,
        "name",
        "duplicate connector name (also in connectors/alerts-search-copy.yaml)",
    )


def _plaintext_password(root: Path) -> Problem:
    line = edit(
        root / "environments/staging.yaml",
        "password: ${file:/etc/fraud/secrets.properties:postgres.password}",
        "password: hunter2",
    )
    return Problem(
        "environments/staging.yaml",
        line,
        "postgres.password",
        "plaintext secret: must be a ${env:NAME} or ${file:PATH:KEY} reference",
    )


def _plaintext_in_override(root: Path) -> Problem:
    line = edit(
        root / "connectors/alerts-postgres.yaml",
        "errors:",
        "overrides:\n  oss:\n    connection.password: s3cr3t\nerrors:",
    )
    return Problem(
        "connectors/alerts-postgres.yaml",
        line + 2,
        "overrides.oss.connection.password",
        "plaintext secret: must be a ${env:NAME} or ${file:PATH:KEY} reference",
    )


def _missing_dlq(root: Path) -> Problem:
    path = root / "connectors/alerts-postgres.yaml"
    line = line_of(path, "errors:")
    edit(path, "  dlq_topic: dlq-sinks\n", "")
    return Problem(
        "connectors/alerts-postgres.yaml",
        line,
        "errors.dlq_topic",
        "every sink needs a dead-letter topic, unless another reader dead-letters its topics' "
        "bad records (topics.yaml: dead_letters)",
    )


def _second_dead_letter(root: Path) -> Problem:
    path = root / "connectors/transactions-s3-archive.yaml"
    edit(path, "  tolerance: all\n", "  tolerance: all\n  dlq_topic: dlq-sinks\n")
    return Problem(
        "connectors/transactions-s3-archive.yaml",
        line_of(path, "dlq_topic:"),
        "errors.dlq_topic",
        "bad records of 'transactions' are dead-lettered in 'dlq-stream' (topics.yaml: dead_letters); "
        "a second dead letter here would count each twice: remove errors.dlq_topic",
    )


def _undefined_template_variable(root: Path) -> Problem:
    path = root / "templates/connect/oss/search-alerts.yaml.j2"
    line = edit(path, "index: {{ c.target.index | tojson }}", "index: {{ c.target.indx | tojson }}")
    return Problem(
        "templates/connect/oss/search-alerts.yaml.j2",
        line,
        "indx",
        "undefined variable: 'dict object' has no attribute 'indx'",
    )


def _unknown_environment(root: Path) -> Problem:
    known = ", ".join(sorted(p.stem for p in (root / "environments").glob("*.yaml")))
    return Problem("environments/nope.yaml", None, "", f"unknown environment 'nope' (known: {known})")


def _unknown_kind(root: Path) -> Problem:
    line = edit(root / "connectors/alerts-search.yaml", "kind: search-alerts", "kind: kafka-to-mars")
    return Problem(
        "connectors/alerts-search.yaml",
        line,
        "kind",
        "expected one of s3-archive, search-alerts, postgres-upsert, postgres-reference-source; got 'kafka-to-mars'",
    )


def _sql_undefined_stream(root: Path) -> Problem:
    edit(
        root / "templates/flink/state/features.sql.j2",
        "FROM transactions_unique AS u",
        "FROM transactionz AS u",
    )
    rendered = _rendered_line(root, "flink", "FROM transactionz AS u")
    return Problem(
        "rendered/local/flink/pipeline.sql",
        rendered,
        "transactionz",
        "references a stream/table that is not defined before this statement",
    )


def _sql_unterminated(root: Path) -> Problem:
    edit(  # the last statement of the rendered file
        root / "templates/flink/state/user_profiles.sql.j2",
        "FROM transaction_hits;",
        "FROM transaction_hits",
    )
    text = _render_text(root, "flink")
    return Problem(
        "rendered/local/flink/pipeline.sql",
        text.rstrip().count("\n") + 1,
        "",
        "statement not terminated with ';': " + repr(_last_statement(text)[:60]),
    )


def _env_name_mismatch(root: Path) -> Problem:
    line = edit(root / "environments/local.yaml", "name: local", "name: locale")
    return Problem("environments/local.yaml", line, "name", "must equal the file name 'local', got 'locale'")


def _unknown_rule_param_in_env(root: Path) -> Problem:
    line = edit(
        root / "environments/local.yaml",
        "rapid_burst: {min_count: 5, window: 60s}",
        "rapid_burst: {min_cnt: 5, window: 60s}",
    )
    return Problem(
        "environments/local.yaml",
        line,
        "detections.rapid_burst.min_cnt",
        "unknown parameter of rule rapid_burst (allowed: min_count, window)",
    )


def _bad_duration(root: Path) -> Problem:
    line = edit(root / "detections/new_device.yaml", "lookback: 30d", "lookback: 30")
    return Problem(
        "detections/new_device.yaml",
        line,
        "params.lookback",
        "expected a duration such as 30s, 10m, 2h or 7d, got 30",
    )


def _missing_engine_template(root: Path) -> Problem:
    (root / "templates/ksql/rules/new_device.sql.j2").unlink()
    return Problem("detections/new_device.yaml", 1, "rule", "no ksql template: templates/ksql/rules/new_device.sql.j2")


def _unknown_class_key_in_override(root: Path) -> Problem:
    line = edit(
        root / "connectors/alerts-postgres.yaml",
        "errors:",
        "overrides:\n  oss:\n    batch.sizee: 500\nerrors:",
    )
    return Problem(
        "connectors/alerts-postgres.yaml",
        line + 2,
        "batch.sizee",
        "unknown key for io.debezium.connector.jdbc.JdbcSinkConnector "
        "(see schemas/connect/oss/io.debezium.connector.jdbc.JdbcSinkConnector.yaml)",
    )


def _bad_enum_in_override(root: Path) -> Problem:
    line = edit(
        root / "connectors/alerts-postgres.yaml",
        "errors:",
        "overrides:\n  oss:\n    insert.mode: merge\nerrors:",
    )
    return Problem(
        "connectors/alerts-postgres.yaml",
        line + 2,
        "insert.mode",
        "expected one of insert, upsert, update; got 'merge'",
    )


def _duplicate_yaml_key(root: Path) -> Problem:
    line = edit(root / "detections/high_value.yaml", "  multiple: 5\n", "  multiple: 5\n  multiple: 6\n")
    return Problem("detections/high_value.yaml", line + 1, "params.multiple", "duplicate key")


def _undeclared_topic_override(root: Path) -> Problem:
    line = edit(root / "environments/prod.yaml", "transactions: {partitions: 24}", "transaction: {partitions: 24}")
    return Problem(
        "environments/prod.yaml", line, "topics.overrides.transaction", "topic is not declared in topics.yaml"
    )


def _unknown_rule(root: Path) -> Problem:
    line = edit(root / "detections/new_device.yaml", "rule: new_device", "rule: new_devise")
    return Problem(
        "detections/new_device.yaml",
        line,
        "rule",
        "unknown rule 'new_devise' (known: blacklisted_account, high_value, location_mismatch, "
        "new_device, rapid_burst)",
    )


def _render_text(root: Path, engine: str) -> str:
    from fraudctl.config.project import load_project
    from fraudctl.render.pipeline import render_environment

    project, _ = load_project(root)
    rendered, _ = render_environment(project, "local")
    return rendered.files[f"{engine}/pipeline.sql"]


def _rendered_line(root: Path, engine: str, needle: str) -> int:
    text = _render_text(root, engine)
    return text[: text.index(needle)].count("\n") + 1


def _last_statement(text: str) -> str:
    from fraudctl.validate.sql import split

    _, rest = split(text)
    assert rest is not None
    return rest


CASES = [
    Case("bad YAML", _bad_yaml),
    Case("unknown key", _unknown_key),
    Case("missing required key", _missing_required),
    Case("wrong type", _wrong_type),
    Case("undeclared topic", _undeclared_topic),
    Case("duplicate connector name", _duplicate_connector),
    Case("plaintext password in an environment", _plaintext_password),
    Case("plaintext password in a connector override", _plaintext_in_override),
    Case("missing DLQ", _missing_dlq),
    Case("a second dead letter for a topic another reader owns", _second_dead_letter),
    Case("template with undefined variable", _undefined_template_variable),
    Case("unknown environment", _unknown_environment, envs=("nope",)),
    Case("unknown connector kind", _unknown_kind),
    Case("SQL referencing an undefined stream", _sql_undefined_stream, envs=("local",)),
    Case("SQL statement not terminated", _sql_unterminated, envs=("local",)),
    Case("environment name differs from its file", _env_name_mismatch),
    Case("unknown rule parameter in an environment", _unknown_rule_param_in_env),
    Case("malformed duration", _bad_duration),
    Case("missing engine template", _missing_engine_template),
    Case("unknown key for the connector class", _unknown_class_key_in_override),
    Case("value outside the class's allowed values", _bad_enum_in_override),
    Case("duplicate YAML key", _duplicate_yaml_key),
    Case("topic override for an undeclared topic", _undeclared_topic_override),
    Case("unknown rule", _unknown_rule),
]


def test_the_real_repo_validates_clean_for_every_environment() -> None:
    report = validate(ROOT)
    assert [p.text() for p in report.problems] == []
    assert report.checked["environments rendered"] == len(list((ROOT / "environments").glob("*.yaml")))


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_broken_repo_reports_the_exact_problem(case: Case, tmp_path: Path) -> None:
    root = copy_repo(tmp_path)
    expected = case.mistake(root)
    report = validate(root, list(case.envs) if case.envs else None)
    assert expected in report.problems, "\n".join(p.text() for p in report.problems)


def test_corpus_has_at_least_fifteen_kinds_of_mistake() -> None:
    assert len(CASES) >= 15


def test_every_problem_of_one_run_is_reported(tmp_path: Path) -> None:
    root = copy_repo(tmp_path)
    expected = [_wrong_type(root), _undeclared_topic(root), _plaintext_password(root), _missing_dlq(root)]
    report = validate(root)
    for problem in expected:
        assert problem in report.problems


def _cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FRAUDCTL_HOME": str(root)}
    return subprocess.run(
        [sys.executable, "-m", "fraudctl", "validate", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


def test_cli_exit_codes_and_output_formats(tmp_path: Path) -> None:
    root = copy_repo(tmp_path)
    ok = _cli(root, "--all-envs", "--output", "json")
    assert ok.returncode == 0, ok.stdout
    assert json.loads(ok.stdout)["ok"] is True

    problem = _wrong_type(root)
    bad = _cli(root, "--output", "json")
    assert bad.returncode == 1
    data = json.loads(bad.stdout)
    assert data["ok"] is False and problem.to_json() in data["errors"]
    assert set(data["checked"]) >= {"environment files", "connector files", "sql statements"}

    text = _cli(root)
    assert text.returncode == 1
    assert problem.text() in text.stdout.splitlines()
    assert text.stdout.strip().splitlines()[-1].startswith("1 error(s) (")

    usage = _cli(root, "--env", "local", "--all-envs")
    assert usage.returncode == 2
