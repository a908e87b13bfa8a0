"""The benchmark commands work end to end (their figures are read from the command's output, never
asserted here: speed is measured by `fraudctl bench`, not by tests). What is asserted is correctness:
no alert lost, every backlog row evaluated, both repos valid."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import Endpoints

ROOT = Path(__file__).resolve().parents[2]


def _bench(*args: str) -> dict:  # type: ignore[type-arg]
    res = subprocess.run(
        [sys.executable, "-m", "fraudctl", "bench", *args, "--output", "json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    return dict(json.loads(res.stdout))


def test_bench_validate_runs_both_repos() -> None:
    result = _bench("validate", "--factor", "2", "--rounds", "1")
    assert result["real"]["valid"] and result["generated"]["valid"]
    assert result["generated"]["work_units"] > result["real"]["work_units"]


@pytest.mark.stack
def test_bench_detections_loses_no_alert(local_stack: Endpoints) -> None:
    result = _bench("detections", "--seconds", "5", "--rate", "100", "--backlog", "2000", "--partitions", "2")
    for kind in ("baseline", "rules"):
        latency, throughput = result[kind]["latency"], result[kind]["throughput"]
        assert latency["triggers"] > 0 and latency["alerts_seen"] == latency["triggers"], result[kind]
        assert throughput["evaluated"] == throughput["backlog"], result[kind]


@pytest.mark.stack
def test_bench_scoring_runs_every_comparison(local_stack: Endpoints) -> None:
    result = _bench(
        "scoring",
        "--rows",
        "500",
        "--batch",
        "100",
        "--rate",
        "50",
        "--seconds",
        "2",
        "--records",
        "300",
        "--bootstrap",
        local_stack.bootstrap,
    )
    assert result["batch_endpoint"]["rows"] == 500 and result["batch_endpoint"]["http_rows_per_s"] > 0
    assert result["single_request"]["requests"] >= 50
    assert result["enrichment"]["records"] == 300 and result["enrichment"]["step_service_calls"] >= 1
    every = result["every_transaction"]
    assert every["records"] == 300 and every["step_scored_per_s"] > 0 and every["in_process_per_s"] > 0
    # Every record sent at the paced rate was scored (the step ran until it was idle).
    assert every["paced_scored"] == every["paced_sent"] > 0
