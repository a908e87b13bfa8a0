"""The fault-injection suite (`-m faults`): each case on the applied local stack; a summary table
of every case is printed at the end of the session and written to build/faults-summary.json."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest

from tests.conftest import Endpoints
from tests.faults import harness
from tests.faults.harness import REPORTS, ROOT

COLUMNS = (
    ("case", "case"),
    ("produced", "produced"),
    ("archived_distinct", "archived"),
    ("archive_duplicates", "arch.dup"),
    ("alerts_expected", "alerts"),
    ("alerts_postgres", "in PG"),
    ("alerts_index", "in index"),
    ("dead_letters", "DLQ"),
    ("lost_transactions", "lost tx"),
    ("lost_alerts_postgres", "lost PG"),
    ("lost_alerts_index", "lost idx"),
    ("unexpected_alerts", "unexpected"),
    ("missed_rule_frauds", "missed"),
    ("seconds", "s"),
)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not REPORTS:
        return
    rows = [[str(getattr(r, key)) for key, _ in COLUMNS] for r in REPORTS]
    widths = [max(len(title), *(len(row[i]) for row in rows)) for i, (_, title) in enumerate(COLUMNS)]
    terminalreporter.section("fault injection: produced vs stored, per case")
    terminalreporter.write_line("  ".join(title.rjust(w) for (_, title), w in zip(COLUMNS, widths, strict=True)))
    for row in rows:
        terminalreporter.write_line("  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True)))
    out = ROOT / "build" / "faults-summary.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps([asdict(r) for r in REPORTS], indent=2) + "\n")
    terminalreporter.write_line(f"(written to {out.relative_to(ROOT)})")


@pytest.fixture(scope="session")
def faults_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("faults")


@pytest.fixture(scope="module")
def deployed(local_stack: Endpoints) -> Endpoints:
    """The repo's declarations applied and every connector, task and the Flink job RUNNING."""
    res = harness.fraudctl("apply", "--env", "local", "--auto-approve", "-o", "json")
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    harness.wait_all_running()
    return local_stack
