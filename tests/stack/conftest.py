"""Fixtures of the stack tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import Endpoints

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def applied(local_stack: Endpoints) -> Endpoints:
    """The local stack with the `local` environment applied (a no-op when it already is)."""
    res = subprocess.run(
        [sys.executable, "-m", "fraudctl", "apply", "--env", "local", "--auto-approve", "-o", "json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
        check=False,
    )
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    return local_stack
