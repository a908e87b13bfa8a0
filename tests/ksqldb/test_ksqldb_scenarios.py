"""The golden scenarios on a real ksqlDB server (Docker only), through the same runner that
`fraudctl scenarios run --engine ksqldb` uses."""

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
    runner = KsqlScenarioRunner(project, "docker", ksqldb.bootstrap, ksqldb.url)
    outcomes = runner.run([s for s in scenarios if "ksqldb" in s.engines])
    failed = [o.to_json() for o in outcomes if not o.passed]
    assert failed == []
