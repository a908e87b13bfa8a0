"""`fraudctl scenarios run --engine flink`: every golden scenario passes on the real Flink cluster,
and a wrong expectation is reported as missing and unexpected alerts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import Endpoints

pytestmark = pytest.mark.stack
ROOT = Path(__file__).resolve().parents[2]


def scenarios_run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fraudctl", "scenarios", "run", *args, "--output", "json"],
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
        cwd=ROOT,
    )


def test_every_scenario_passes_on_flink(local_stack: Endpoints) -> None:
    res = scenarios_run("--engine", "flink")
    data = json.loads(res.stdout)
    failed = [s for s in data["scenarios"] if not s["passed"]]
    assert failed == [] and res.returncode == 0, json.dumps(failed, indent=2)
    files = sorted(p.stem for p in (ROOT / "tests/scenarios").glob("*.yaml"))
    assert sorted(s["name"] for s in data["scenarios"]) == files
    by_name = {s["name"]: s for s in data["scenarios"]}
    assert by_name["clean-traffic"]["rows_evaluated"] >= 1000
    assert by_name["late-event-dropped"]["late"] == ["l5"]
    assert by_name["duplicate-delivery"]["rows_evaluated"] == 2  # both deliveries read, one alert


def test_a_wrong_expectation_fails_with_missing_and_unexpected(local_stack: Endpoints, tmp_path: Path) -> None:
    story = (ROOT / "tests/scenarios/high-value-threshold.yaml").read_text()
    # Claim the wrong payment: h1 (exactly at the threshold) instead of h2.
    (tmp_path / "wrong.yaml").write_text(story.replace("transaction_id: h2}", "transaction_id: h1}"))
    res = scenarios_run(str(tmp_path / "wrong.yaml"))
    assert res.returncode == 1
    outcome = json.loads(res.stdout)["scenarios"][0]
    assert outcome["missing"] == [{"rule": "high_value", "user_id": "U6", "transaction_id": "h1"}]
    assert outcome["unexpected"] == [{"rule": "high_value", "user_id": "U6", "transaction_id": "h2"}]
