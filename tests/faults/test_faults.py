"""Kill every component mid-stream; nothing may be lost, doubled or left broken (issue 15).
Each case is described in tests/faults/harness.py; the summary table prints at the end."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Endpoints
from tests.faults import harness

pytestmark = [pytest.mark.stack, pytest.mark.faults]


def _check(report: harness.CaseReport) -> None:
    assert report.clean, report
    assert report.produced == report.archived_distinct
    assert report.alerts_expected == report.alerts_postgres == report.alerts_index > 0


CASES: dict[str, Callable[[], None]] = {
    "broker-kill": harness.kill9("kafka"),
    "connect-kill": harness.kill9("connect"),
    "taskmanager-kill": harness.kill9("flink-taskmanager"),
    "enrichment-kill": harness.kill9("enrichment"),
    "scoring-kill": harness.kill9("scoring"),
    "object-store-unreachable-60s": harness.unreachable("s3"),
    "search-unreachable-60s": harness.unreachable("search"),
    "postgres-restart": harness.restart("postgres"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_fault_mid_stream_loses_and_doubles_nothing(deployed: Endpoints, case: str) -> None:
    report = harness.run_case(case, CASES[case])
    _check(report)
    if case.endswith("-kill") or case.endswith("-restart"):
        assert report.restarted, f"the supervisor restarted nothing during {case}"


def test_an_apply_killed_between_savepoint_and_resubmit_keeps_the_state(deployed: Endpoints, faults_root: Path) -> None:
    try:
        report = harness.run_case(
            "apply-killed-after-savepoint", harness.killed_apply(faults_root), home=faults_root / "repo"
        )
    finally:
        harness.reapply_repo()
    _check(report)
