"""Scenario files are checked when loaded: the record contract, rule parameters, unknown keys."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fraudctl.config.project import copy_declarations
from fraudctl.config.source import Problem
from fraudctl.scenarios.model import ScenarioError, load_scenario

ROOT = Path(__file__).resolve().parents[2]
GOOD_TX = (
    '{transaction_id: t1, user_id: U1, amount: 5.0, currency: GBP, location: London, timestamp: "2024-11-16T14:00:00Z"}'
)


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(body)
    return path


def test_every_shipped_scenario_loads() -> None:
    files = sorted((ROOT / "tests/scenarios").glob("*.yaml"))
    assert len(files) >= 12
    loaded = [load_scenario(f) for f in files]
    rules = {alert[0] for s in loaded for alert in s.expected}
    assert rules == {"rapid_burst", "location_mismatch", "high_value", "blacklisted_account", "new_device"}
    clean = next(s for s in loaded if s.name == "clean-traffic")
    assert len(clean.transactions) >= 1000 and not clean.expected


# The messages are the shared contract's own (fraudctl.contract.Transaction).
@pytest.mark.parametrize(
    ("tx", "key", "message"),
    [
        (
            GOOD_TX.replace("GBP", "pounds"),
            "transactions[0].currency",
            "String should match pattern '^[A-Z]{3}$'",
        ),
        (GOOD_TX.replace("5.0", "-1"), "transactions[0].amount", "Input should be greater than 0"),
        (
            GOOD_TX.replace('"2024-11-16T14:00:00Z"', '"16/11/2024 14:00"'),
            "transactions[0].timestamp",
            "Value error, expected RFC 3339 in UTC, for example 2024-11-16T14:00:00Z",
        ),
        (GOOD_TX.replace("user_id: U1, ", ""), "transactions[0].user_id", "Field required"),
        (GOOD_TX.replace("}", ", colour: red}"), "transactions[0].colour", "Extra inputs are not permitted"),
    ],
)
def test_transaction_contract_violations_name_the_line(tmp_path: Path, tx: str, key: str, message: str) -> None:
    path = _write(tmp_path, f"name: x\ntransactions:\n  - {GOOD_TX}\n  - {tx}\nexpect:\n  alerts: []\n")
    with pytest.raises(ScenarioError) as err:
        load_scenario(path, "s.yaml")
    assert Problem("s.yaml", 4, key.replace("[0]", "[1]"), message) in err.value.problems


def test_unknown_rule_parameter_and_key(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        f"name: x\nparams:\n  rapid_burst: {{min_cnt: 3}}\nexpeckt: 1\n"
        f"transactions:\n  - {GOOD_TX}\nexpect:\n  alerts: []\n",
    )
    with pytest.raises(ScenarioError) as err:
        load_scenario(path, "s.yaml")
    assert (
        Problem(
            "s.yaml",
            3,
            "params.rapid_burst.min_cnt",
            "unknown parameter of rule rapid_burst (allowed: min_count, window)",
        )
        in err.value.problems
    )
    assert any(p.key == "expeckt" and p.line == 4 for p in err.value.problems)


def test_ksqldb_engine_without_a_server_exits_with_a_clear_message(tmp_path: Path) -> None:
    # A copy of the repo whose ksqlDB URL names a port nothing listens on (a server may run on 8088).
    home = copy_declarations(ROOT, tmp_path / "repo")
    (home / "pyproject.toml").write_text("")
    env_file = home / "environments" / "local-ksqldb.yaml"
    env_file.write_text(env_file.read_text() + "ksqldb:\n  url: http://127.0.0.1:9\n")
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "fraudctl",
            "scenarios",
            "run",
            "--engine",
            "ksqldb",
            "--env",
            "local-ksqldb",
            "-o",
            "json",
            str(ROOT / "tests/scenarios/new-device.yaml"),
        ],  # fmt: skip
        capture_output=True,
        text=True,
        check=False,
        cwd=home,
        timeout=60,
    )
    assert res.returncode == 1, res.stderr
    error = json.loads(res.stdout)["error"]
    assert error.startswith("ksqlDB is not reachable at http://127.0.0.1:9")
    assert "KSQLDB_HOME" in error and "--engine flink" in error
