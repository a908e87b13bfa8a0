"""The golden scenarios on a real ksqlDB server, through the same runner that `fraudctl scenarios
run --engine ksqldb` uses (each scenario under its own prefix and topics, so the server may hold
a deployed pipeline meanwhile)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fraudctl.config.project import load_project
from fraudctl.scenarios.ksqldb_runner import KsqlScenarioRunner
from fraudctl.scenarios.model import load_scenario
from tests.ksqldb.conftest import Ksql

pytestmark = pytest.mark.ksqldb
ROOT = Path(__file__).resolve().parents[2]


def test_every_scenario_passes_on_ksqldb(ksqldb: Ksql) -> None:
    project, problems = load_project(ROOT)
    assert not problems
    scenarios = [load_scenario(p) for p in sorted((ROOT / "tests/scenarios").glob("*.yaml"))]
    runner = KsqlScenarioRunner(project, "local-ksqldb", ksqldb.bootstrap, ksqldb.url)
    selected = [s for s in scenarios if "ksqldb" in s.engines]
    assert len(selected) == len(scenarios)  # no scenario is excluded from ksqlDB today
    outcomes = runner.run(selected)
    failed = [o.to_json() for o in outcomes if not o.passed]
    assert failed == []
