"""Binding `--param k=v` values to a library query's declared parameters, as SQL-safe values.

A string becomes a quoted SQL literal; an int is digits only; a duration (30s, 10m, 2h, 7d) becomes
an object with the start of the look-back in both engines' forms (`since_ts` for Flink,
`since_ms` for ksqlDB), computed from one `now` so a query sees one consistent instant."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from fraudctl.config.durations import duration_ms, is_duration
from fraudctl.query.library import Query

MAX_STRING = 200


class ParamError(Exception):
    """A missing, unknown or malformed parameter; the message names it."""


@dataclass(frozen=True)
class Since:
    text: str
    ms: int
    since_ms: int  # epoch milliseconds of now - duration (ksqlDB ROWTIME / WINDOWSTART)
    since_ts: str  # the same instant as a Flink SQL literal: TIMESTAMP 'YYYY-MM-DD HH:MM:SS.fff' (UTC)

    def __str__(self) -> str:
        return self.text


def parse_pairs(pairs: tuple[str, ...] | list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ParamError(f"--param {pair!r}: expected NAME=VALUE")
        if key.strip() in out:
            raise ParamError(f"parameter {key.strip()!r} is given twice")
        out[key.strip()] = value
    return out


def sql_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def bind(query: Query, given: dict[str, str], now: datetime) -> dict[str, Any]:
    declared = {p.name: p for p in query.params}
    unknown = sorted(set(given) - set(declared))
    if unknown:
        known = ", ".join(declared) or "none"
        raise ParamError(f"unknown parameter {unknown[0]!r} for query {query.name} (its parameters: {known})")
    values: dict[str, Any] = {}
    for p in query.params:
        raw = given.get(p.name, p.default)
        if raw is None:
            raise ParamError(f"missing parameter {p.name} ({p.type}) for query {query.name}: {p.description}")
        values[p.name] = _convert(query.name, p.name, p.type, raw, now)
    return values


def _convert(query: str, name: str, type_: str, raw: str, now: datetime) -> Any:
    if type_ == "string":
        if not raw or len(raw) > MAX_STRING or not raw.isprintable():
            raise ParamError(f"parameter {name} of {query}: expected 1 to {MAX_STRING} printable characters")
        return sql_literal(raw)
    if type_ == "int":
        if not re.fullmatch(r"\d{1,9}", raw):
            raise ParamError(f"parameter {name} of {query}: expected a whole number, got {raw!r}")
        return int(raw)
    if not is_duration(raw):
        raise ParamError(f"parameter {name} of {query}: expected a duration such as 30s, 10m, 2h or 7d, got {raw!r}")
    ms = duration_ms(raw)
    start = now - timedelta(milliseconds=ms)
    return Since(
        raw,
        ms,
        int(start.timestamp() * 1000),
        "TIMESTAMP '" + start.strftime("%Y-%m-%d %H:%M:%S.") + f"{start.microsecond // 1000:03d}'",
    )
