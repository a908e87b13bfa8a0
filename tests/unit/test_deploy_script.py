"""The CD entry point (scripts/deploy.sh) and its workflow job, offline: usage errors, and every
secret reference of the environment it deploys being provided by the workflow."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_usage_errors_exit_3() -> None:
    for args in ([], ["--prune"], ["staging", "--force"]):
        res = subprocess.run(["bash", "scripts/deploy.sh", *args], cwd=ROOT, capture_output=True, text=True)
        assert res.returncode == 3, (args, res.stderr)


def test_an_invalid_repo_stops_before_any_plan(tmp_path: Path) -> None:
    # A fraudctl whose validate fails: the script exits 1 and never plans or applies.
    fake = tmp_path / "fraudctl"
    log = tmp_path / "calls"
    fake.write_text(f'#!/bin/sh\necho "$@" >> {log}\n[ "$1" = validate ] && exit 1\nexit 0\n')
    fake.chmod(0o755)
    res = subprocess.run(
        ["bash", "scripts/deploy.sh", "staging"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "FRAUDCTL": str(fake), "FRAUD_PLAN_DIR": str(tmp_path / "plans")},
    )
    assert res.returncode == 1
    assert log.read_text().split("\n")[0].startswith("validate --env staging")
    assert "plan" not in log.read_text()


def test_the_workflow_provides_every_env_reference_of_staging() -> None:
    workflow = yaml.safe_load((ROOT / ".github/workflows/validate.yml").read_text())
    job = workflow["jobs"]["deploy-staging"]
    assert job["needs"] == "validate"
    [step] = [s for s in job["steps"] if "scripts/deploy.sh" in str(s.get("run", ""))]
    wanted = set(re.findall(r"\$\{env:([A-Z0-9_]+)\}", (ROOT / "environments/staging.yaml").read_text()))
    assert wanted and wanted == set(step["env"])
    # Secrets come from the environment's secrets, never a value in the file.
    assert all(str(v).startswith("${{ secrets.") for v in step["env"].values())
