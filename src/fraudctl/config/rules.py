"""The rule catalogue: which detections exist and the public contract of their parameters.

A detection file (detections/RULE.yaml) gives a rule's defaults; an environment's `detections:`
block and a scenario's `params:` override them by the same names."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fraudctl.config.durations import is_duration


@dataclass(frozen=True)
class Param:
    kind: str  # int | number | duration
    minimum: float | None = None

    def problem(self, value: Any) -> str | None:
        """Why `value` is not acceptable, or None."""
        if self.kind == "duration":
            return None if is_duration(value) else f"expected a duration such as 30s, 10m, 2h or 7d, got {value!r}"
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"expected {'an integer' if self.kind == 'int' else 'a number'}, got {value!r}"
        if self.kind == "int" and not isinstance(value, int):
            return f"expected an integer, got {value!r}"
        if self.minimum is not None and value < self.minimum:
            return f"must be at least {self.minimum:g}, got {value!r}"
        return None


RULES: dict[str, dict[str, Param]] = {
    "rapid_burst": {"min_count": Param("int", 2), "window": Param("duration")},
    "location_mismatch": {"window": Param("duration"), "max_speed_kmh": Param("number", 1)},
    "high_value": {
        "threshold": Param("number", 0),
        "multiple": Param("number", 1),
        "history": Param("duration"),
    },
    "blacklisted_account": {},
    "new_device": {"lookback": Param("duration"), "min_amount": Param("number", 0)},
}


def param_problems(rule: str, params: dict[str, Any], require_all: bool) -> list[tuple[str, str]]:
    """(parameter, message) for each unknown, missing or malformed parameter of `rule`."""
    spec = RULES[rule]
    out: list[tuple[str, str]] = []
    for name, value in params.items():
        if name not in spec:
            allowed = ", ".join(sorted(spec)) or "none"
            out.append((name, f"unknown parameter of rule {rule} (allowed: {allowed})"))
        elif (why := spec[name].problem(value)) is not None:
            out.append((name, why))
    if require_all:
        out.extend((name, "missing required parameter") for name in sorted(spec) if name not in params)
    return out
