"""No secret value the local stack generated appears in any output: every command CI or an analyst
runs (validate, render, plan, apply, status, each library query and SHOW CREATE TABLE of each of the
query session's tables, a short demo, model export, local status), nor in the stack's logs under
.local/logs, nor in build/."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fraudctl.localstack import secrets
from fraudctl.localstack.layout import Layout
from tests.conftest import Endpoints

pytestmark = pytest.mark.stack
ROOT = Path(__file__).resolve().parents[2]
TABLES = ("user_profiles", "alerts", "blacklist", "fraud_alerts_stream")


def _commands(tmp: Path) -> list[list[str]]:
    library = json.loads(
        subprocess.run(
            [sys.executable, "-m", "fraudctl", "query", "--list", "--output", "json"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )["queries"]
    queries = []
    for q in library:
        params = [f"--param={p['name']}=nobody" for p in q["params"] if p["required"]]
        extra = ["--limit", "1", "--timeout", "5"] if q["kind"] == "push" else []
        queries.append(["query", q["name"], *params, *extra, "--output", "json"])
    return [
        ["validate", "--all-envs", "--output", "json"],
        ["render", "--env", "local", "--output", "json"],
        ["plan", "--env", "local", "--output", "json"],
        ["apply", "--env", "local", "--auto-approve", "--output", "json"],
        ["status", "--env", "local", "--output", "json"],
        *queries,
        *(["query", "--sql", f"SHOW CREATE TABLE {t}", "--output", "json"] for t in TABLES),
        ["demo", "--duration", "5", "--rate", "20", "--frauds-per-kind", "1", "--output", "json"],
        ["model", "export", "--env", "local", "--out", str(tmp / "export.csv"), "--output", "json"],
        ["local", "status", "--output", "json"],
    ]


def _files(*roots: Path) -> list[Path]:
    return [p for root in roots if root.is_dir() for p in root.rglob("*") if p.is_file() and not p.is_symlink()]


def test_no_command_log_or_rendered_file_holds_a_secret(applied: Endpoints, tmp_path: Path) -> None:
    layout = Layout.default()
    values = secrets.load_or_create(layout.secrets_file)
    assert set(values) == set(secrets.NAMES)
    ran: list[str] = []
    leaks: list[str] = []
    for args in _commands(tmp_path):
        res = subprocess.run(
            [sys.executable, "-m", "fraudctl", *args], cwd=ROOT, capture_output=True, text=True, timeout=600
        )
        # Exit codes are each command's own (plan exits 0 or 2, demo 0 or 1); a crash is not allowed.
        assert res.returncode in (0, 1, 2), f"fraudctl {' '.join(args)} crashed: {res.stderr[-2000:]}"
        assert "Traceback" not in res.stderr, f"fraudctl {' '.join(args)}: {res.stderr[-2000:]}"
        ran.append(" ".join(args[:2]))
        for name, value in values.items():
            if value in res.stdout or value in res.stderr:
                leaks.append(f"{name} in the output of fraudctl {' '.join(args)}")
    files = _files(layout.logs, ROOT / "build", tmp_path)
    assert files, "no logs or rendered files to look at"
    for path in files:
        data = path.read_bytes()
        for name, value in values.items():
            if value.encode() in data:
                leaks.append(f"{name} in {path}")
    print(f"ran {len(ran)} commands; looked at {len(files)} files under .local/logs, build/ and the export")
    assert not leaks, "\n".join(leaks)
