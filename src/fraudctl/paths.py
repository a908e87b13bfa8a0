"""Where the repo and the local stack's state live."""

from __future__ import annotations

import os
from pathlib import Path


def repo_root() -> Path:
    """The project folder: $FRAUDCTL_HOME, else the nearest parent of the cwd holding environments/,
    else the checkout this package was installed from (editable install)."""
    env = os.environ.get("FRAUDCTL_HOME")
    if env:
        return Path(env).resolve()
    here = Path.cwd().resolve()
    for candidate in (here, *here.parents):
        if (candidate / "environments").is_dir() and (candidate / "pyproject.toml").is_file():
            return candidate
    return Path(__file__).resolve().parents[2]


def state_dir() -> Path:
    """The one git-ignored folder that holds everything the local stack downloads and writes."""
    return repo_root() / ".local"
