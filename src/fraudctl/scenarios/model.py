"""A scenario file (tests/scenarios/NAME.yaml), checked when loaded: unknown keys, rule parameters
and the transaction record contract all fail with file, line and key."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from fraudctl.config.rules import RULES, param_problems
from fraudctl.config.source import Located, Problem, SourceError, load_yaml
from fraudctl.contract import Transaction
from fraudctl.scenarios import clean_traffic

TOP_KEYS = {"name", "description", "params", "reference", "transactions", "generate", "expect", "engines"}
Alert = tuple[str, str, str]  # (rule, user_id, transaction_id)


class ScenarioError(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(p.text() for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class Scenario:
    name: str
    path: str
    description: str
    params: dict[str, dict[str, Any]]
    blacklist: list[str]
    transactions: list[dict[str, Any]]
    expected: Counter[Alert]
    # Transaction ids that must be set aside as late (None: not checked by this scenario).
    expected_late: list[str] | None = None
    engines: tuple[str, ...] = field(default=("flink", "ksqldb"))

    def first_event_ms(self) -> int:
        return min(event_ms(t["timestamp"]) for t in self.transactions)


def shifted_near(sc: Scenario, now: datetime) -> Scenario:
    """The scenario moved forward by whole days so that its last event lies in the day before `now`:
    every gap, time of day and window alignment kept. Brokers delete records older than a topic's
    retention (the files' 2024 times would vanish mid-run) and refuse times more than an hour ahead."""
    last = max((event_ms(t["timestamp"]) for t in sc.transactions), default=int(now.timestamp() * 1000))
    days = max(0, (int(now.timestamp() * 1000) - last) // 86_400_000)
    if days == 0:
        return sc
    moved = []
    for tx in sc.transactions:
        when = datetime.fromisoformat(str(tx["timestamp"]).replace("Z", "+00:00")) + timedelta(days=days)
        millis = f".{when.microsecond // 1000:03d}" if when.microsecond else ""
        moved.append({**tx, "timestamp": when.strftime("%Y-%m-%dT%H:%M:%S") + millis + "Z"})
    return replace(sc, transactions=moved)


def event_ms(timestamp: str) -> int:
    return int(datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp() * 1000)


def transaction_problems(tx: Any, where: tuple[str, int | None], key: str) -> list[Problem]:
    """Checks one transaction against the shared record contract (fraudctl.contract)."""
    file, line = where
    if not isinstance(tx, dict):
        return [Problem(file, line, key, "expected a mapping (one transaction)")]
    try:
        Transaction.model_validate(tx)
    except ValidationError as exc:
        return [Problem(file, line, ".".join([key, *map(str, err["loc"])]), str(err["msg"])) for err in exc.errors()]
    return []


def load_scenario(path: Path, display: str | None = None) -> Scenario:
    try:
        doc: Located = load_yaml(path, display)
    except SourceError as exc:
        raise ScenarioError([exc.problem]) from exc
    value = doc.value if isinstance(doc.value, dict) else {}
    problems: list[Problem] = []
    for key in value:
        if key not in TOP_KEYS:
            problems.append(
                Problem(doc.file, doc.line((key,)), key, f"unknown key (allowed: {', '.join(sorted(TOP_KEYS))})")
            )
    for key in ("name", "expect"):
        if key not in value:
            problems.append(Problem(doc.file, 1, key, "missing required key"))
    if ("transactions" in value) == ("generate" in value):
        problems.append(Problem(doc.file, 1, "transactions", "give either transactions or generate"))
    params = value.get("params") or {}
    for rule, given in params.items():
        if rule not in RULES:
            problems.append(Problem(doc.file, doc.line(("params", rule)), f"params.{rule}", "unknown rule"))
            continue
        for param, message in param_problems(rule, given or {}, require_all=False):
            problems.append(Problem(doc.file, doc.line(("params", rule, param)), f"params.{rule}.{param}", message))
    transactions = value.get("transactions") or []
    generated = (value.get("generate") or {}).get("clean")
    if generated is not None:
        try:
            transactions = clean_traffic.generate(
                int(generated["users"]),
                int(generated["transactions"]),
                int(generated["seed"]),
                str(generated["start"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            problems.append(
                Problem(
                    doc.file,
                    doc.line(("generate", "clean")),
                    "generate.clean",
                    f"expected users, transactions, seed and start: {exc}",
                )
            )
    for i, tx in enumerate(transactions):
        problems += transaction_problems(tx, (doc.file, doc.line(("transactions", i))), f"transactions[{i}]")
    expected: Counter[Alert] = Counter()
    for i, alert in enumerate((value.get("expect") or {}).get("alerts") or []):
        if not isinstance(alert, dict) or set(alert) != {"rule", "user_id", "transaction_id"}:
            problems.append(
                Problem(
                    doc.file,
                    doc.line(("expect", "alerts", i)),
                    f"expect.alerts[{i}]",
                    "expected {rule, user_id, transaction_id}",
                )
            )
            continue
        if alert["rule"] not in RULES:
            problems.append(
                Problem(
                    doc.file,
                    doc.line(("expect", "alerts", i)),
                    f"expect.alerts[{i}].rule",
                    f"unknown rule {alert['rule']!r}",
                )
            )
        expected[(alert["rule"], alert["user_id"], alert["transaction_id"])] += 1
    expect = value.get("expect") or {}
    for key in expect:
        if key not in ("alerts", "late"):
            problems.append(
                Problem(
                    doc.file,
                    doc.line(("expect", key)),
                    f"expect.{key}",
                    "unknown key (allowed: alerts, late)",
                )
            )
    late = expect.get("late")
    if problems:
        raise ScenarioError(problems)
    return Scenario(
        name=str(value["name"]),
        path=doc.file,
        description=str(value.get("description", "")).strip(),
        params={str(k): dict(v or {}) for k, v in params.items()},
        blacklist=[str(u) for u in ((value.get("reference") or {}).get("blacklist") or [])],
        transactions=list(transactions),
        expected=expected,
        expected_late=sorted(map(str, late)) if late is not None else None,
        engines=tuple(value.get("engines", ("flink", "ksqldb"))),
    )
