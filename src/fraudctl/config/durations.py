"""Durations as the repo writes them: `500ms`, `30s`, `10m`, `2h`, `30d`."""

from __future__ import annotations

import re

_DURATION = re.compile(r"^(\d+)(ms|s|m|h|d)$")
_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}


def is_duration(text: object) -> bool:
    return isinstance(text, str) and _DURATION.match(text.strip()) is not None


def duration_ms(text: object) -> int:
    match = _DURATION.match(str(text).strip())
    if not match:
        raise ValueError(f"expected a duration such as 30s, 10m, 2h or 7d, got {text!r}")
    return int(match.group(1)) * _UNIT_MS[match.group(2)]
