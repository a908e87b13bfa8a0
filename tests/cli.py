"""Running the `fraudctl` CLI as a user does, from tests: a subprocess on this interpreter, on the
repo or on a copy of it (`home`), output captured, the exit code left to the caller."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def fraudctl(*args: str, home: Path | None = None, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fraudctl", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        env={**os.environ, "FRAUDCTL_HOME": str(home or ROOT)},
        timeout=timeout,
    )
