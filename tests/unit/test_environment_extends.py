"""`extends:` in environment files, and scenarios moved near now: pure logic, no services."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from fraudctl.config.environment import load_environment
from fraudctl.config.extends import resolve
from fraudctl.config.project import copy_declarations, load_project
from fraudctl.config.source import Located
from fraudctl.scenarios.model import Scenario, event_ms, shifted_near
from fraudctl.validate.run import validate

ROOT = Path(__file__).resolve().parents[2]


def test_local_ksqldb_is_local_with_another_engine() -> None:
    local, variant = load_environment("local"), load_environment("local-ksqldb")
    assert variant.raw["engine"] == "ksqldb" and local.raw["engine"] == "flink"
    assert variant.raw["name"] == "local-ksqldb" and "extends" not in variant.raw
    assert {k: v for k, v in variant.raw.items() if k not in ("name", "engine")} == {
        k: v for k, v in local.raw.items() if k not in ("name", "engine")
    }
    project, problems = load_project(ROOT)
    assert not problems and project.environments["local-ksqldb"].value == variant.raw


def test_mappings_merge_key_by_key_and_inherited_keys_point_at_the_extends_line() -> None:
    base = Located("a.yaml", {"name": "a", "kafka": {"bootstrap_servers": "h:1", "security_protocol": "SSL"}}, {(): 1})
    child = Located("b.yaml", {"extends": "a", "name": "b", "kafka": {"bootstrap_servers": "h:2"}}, {("extends",): 3})
    merged, problems = resolve({"a": base, "b": child})
    assert not problems
    assert merged["b"].value == {"name": "b", "kafka": {"bootstrap_servers": "h:2", "security_protocol": "SSL"}}
    assert merged["b"].line(("kafka", "security_protocol")) == 3


def test_unknown_and_circular_parents_are_problems_with_file_and_line() -> None:
    a = Located("a.yaml", {"extends": "b"}, {("extends",): 1})
    b = Located("b.yaml", {"extends": "a"}, {("extends",): 2})
    c = Located("c.yaml", {"extends": "nope"}, {("extends",): 5})
    _merged, problems = resolve({"a": a, "b": b, "c": c})
    texts = sorted(p.text() for p in problems)
    assert any(t.startswith("c.yaml:5: extends: unknown environment 'nope'") for t in texts)
    assert any("circular" in t for t in texts)


def test_validate_reports_a_bad_parent(tmp_path: Path) -> None:
    root = copy_declarations(ROOT, tmp_path / "repo")
    path = root / "environments/local-ksqldb.yaml"
    path.write_text(path.read_text().replace("extends: local", "extends: locall"))
    report = validate(root, ["local-ksqldb"])
    assert any(p.key == "extends" and p.file == "environments/local-ksqldb.yaml" for p in report.problems)


def _scenario(times: list[str]) -> Scenario:
    txs = [{"transaction_id": f"t{i}", "user_id": "U", "amount": 1.0, "currency": "EUR", "location": "X",
            "timestamp": t} for i, t in enumerate(times)]  # fmt: skip
    return Scenario("s", "s.yaml", "", {}, [], txs, Counter())


def test_a_scenario_moves_by_whole_days_to_just_before_now_keeping_every_gap() -> None:
    sc = _scenario(["2024-11-16T12:00:00Z", "2024-11-16T12:09:00.250Z", "2024-11-16T11:59:00Z"])
    now = datetime(2026, 12, 1, 11, 0, tzinfo=UTC)
    moved = shifted_near(sc, now)
    before = [event_ms(t["timestamp"]) for t in sc.transactions]
    after = [event_ms(t["timestamp"]) for t in moved.transactions]
    assert {a - b for a, b in zip(after, before, strict=True)} == {(after[0] - before[0])}  # one shift for all
    assert (after[0] - before[0]) % 86_400_000 == 0
    assert 0 <= now.timestamp() * 1000 - max(after) < 86_400_000
    assert moved.transactions[1]["timestamp"].endswith("12:09:00.250Z")
    assert shifted_near(moved, now) == moved  # already near now: unchanged
