"""What the PostgreSQL DDL in `postgres/` says about its tables, for what is rendered from it: the
columns that may not be null (NOT NULL or PRIMARY KEY), which the JDBC sinks' ValueToStruct SMT
checks, so a record missing one goes to the dead-letter topic instead of failing the sink."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

_TABLE = re.compile(r"CREATE TABLE IF NOT EXISTS (?:\w+\.)?(\w+) \((.*?)\n\);", re.S)
# A column line: its name, then its type (parentheses may hold commas) up to NOT NULL / PRIMARY KEY.
_COLUMN = re.compile(r"^\s+(\w+)\s+(?:[^,\n(]|\([^)]*\))*?\b(NOT NULL|PRIMARY KEY)\b", re.M)


@cache
def _parse(folder: Path, stamp: tuple[float, ...]) -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    for path in sorted(folder.glob("*.sql")):
        for table, body in _TABLE.findall(path.read_text()):
            out[table] = tuple(m.group(1) for m in _COLUMN.finditer(body))
    return out


def not_null_columns(folder: Path) -> dict[str, tuple[str, ...]]:
    """Per table (without its schema), the columns that may not be null, in DDL order."""
    files = sorted(folder.glob("*.sql")) if folder.is_dir() else []
    return _parse(folder, tuple(p.stat().st_mtime for p in files))
