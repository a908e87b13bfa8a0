"""The analysts' query library: `ksql/queries/NAME.sql` (the ksqlDB text, with the query's
declaration in its header) and `templates/flink/queries/NAME.sql.j2` (the Flink text of the same
query). A query over what only PostgreSQL holds (the analysts' dispositions) has no ksqlDB text:
its Flink file carries the header and it runs on Flink (its JDBC tables) whatever the engine.
The header is the one place a query's name, description, kind and parameters are declared:

    -- name: alerts-for-user
    -- description: Every alert raised for one user since a point in time,
    --   oldest first.                     (an indented comment line continues the previous key)
    -- kind: pull                          (pull: a result set; push: rows as they happen)
    -- param user_id: string, required. The user to look at.
    -- param since: duration, default 24h. How far back to look.
    -- sort: alerts desc, user_id          (optional: order rows where the engine cannot)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

KSQL_DIR = Path("ksql/queries")
FLINK_DIR = Path("templates/flink/queries")
PARAM_TYPES = ("string", "int", "duration")
_HEADER = re.compile(r"^--\s?(\w+)(?:\s+(\w+))?:\s*(.*)$")
_PARAM = re.compile(r"^(string|int|duration), (required|default (\S+))\. (.+)$")


class LibraryError(Exception):
    """A library file that cannot be read, as `file:line: message`."""


@dataclass(frozen=True)
class Param:
    name: str
    type: str
    required: bool
    default: str | None
    description: str


@dataclass(frozen=True)
class Sort:
    column: str
    descending: bool


@dataclass(frozen=True)
class Query:
    name: str
    description: str
    kind: str  # pull | push
    params: tuple[Param, ...]
    sort: tuple[Sort, ...]
    ksql: str | None  # template text (header stripped); None for a Flink-only query
    flink: str | None  # template name under templates/, None when there is no Flink text
    path: Path

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "description": self.description,
            "kind": self.kind,
            "params": [
                {
                    "name": p.name,
                    "type": p.type,
                    "required": p.required,
                    "default": p.default,
                    "description": p.description,
                }
                for p in self.params
            ],
            "engines": (["ksqldb"] if self.ksql is not None else []) + (["flink"] if self.flink else []),
        }


def load(root: Path) -> dict[str, Query]:
    queries: dict[str, Query] = {}
    for path in sorted((root / KSQL_DIR).glob("*.sql")):
        query = parse(path, path.read_text(), root)
        if query.name in queries:
            raise LibraryError(f"{path}: query name {query.name!r} is already used by {queries[query.name].path}")
        queries[query.name] = query
    for path in sorted((root / FLINK_DIR).glob("*.sql.j2")):
        name = path.name.removesuffix(".sql.j2")
        if name.startswith("_") or name in queries:
            continue  # a shared template, or the Flink text of a query declared above
        query = parse(path, path.read_text(), root, flink_only=True)
        queries[query.name] = query
    return queries


def parse(path: Path, text: str, root: Path, flink_only: bool = False) -> Query:
    fields: dict[str, str] = {}
    params: list[Param] = []
    last: str | None = None
    body_start = 0
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.startswith("--"):
            body_start = lineno - 1
            break
        if line.startswith("--   ") and last is not None:  # continuation of the previous key
            if last == "description":
                fields["description"] += " " + line[2:].strip()
                continue
            raise LibraryError(f"{path}:{lineno}: only a description continues on the next line")
        match = _HEADER.match(line)
        if not match:
            raise LibraryError(f"{path}:{lineno}: expected `-- key: value` in the query header, got {line!r}")
        key, name, value = match.groups()
        if key == "param":
            if not name:
                raise LibraryError(f"{path}:{lineno}: expected `-- param NAME: TYPE, required|default X. Text`")
            params.append(_param(path, lineno, name, value))
            last = "param"
            continue
        if key not in ("name", "description", "kind", "sort"):
            raise LibraryError(f"{path}:{lineno}: unknown header key {key!r} (name, description, kind, param, sort)")
        fields[key] = value.strip()
        last = key
    else:
        raise LibraryError(f"{path}: the query has a header but no SQL")
    for key in ("name", "description", "kind"):
        if not fields.get(key):
            raise LibraryError(f"{path}: the header has no `-- {key}:` line")
    stem = path.name.removesuffix(".sql.j2") if flink_only else path.stem
    if fields["name"] != stem:
        raise LibraryError(f"{path}:1: the query is named {fields['name']!r} but its file is {path.name}")
    if fields["kind"] not in ("pull", "push"):
        raise LibraryError(f"{path}: kind must be pull or push, got {fields['kind']!r}")
    flink = FLINK_DIR / f"{stem}.sql.j2"
    return Query(
        name=fields["name"],
        description=fields["description"],
        kind=fields["kind"],
        params=tuple(params),
        sort=_sort(path, fields.get("sort", "")),
        ksql=None if flink_only else "\n".join(text.splitlines()[body_start:]).strip() + "\n",
        flink=str(flink.relative_to("templates")) if (root / flink).is_file() else None,
        path=path,
    )


def _param(path: Path, lineno: int, name: str, value: str) -> Param:
    match = _PARAM.match(value.strip())
    if not match:
        raise LibraryError(
            f"{path}:{lineno}: param {name}: expected `TYPE, required. Text` or `TYPE, default VALUE. Text` "
            f"with TYPE one of {', '.join(PARAM_TYPES)}; got {value.strip()!r}"
        )
    type_, requirement, default, description = match.groups()
    return Param(name, type_, requirement == "required", default, description)


def _sort(path: Path, text: str) -> tuple[Sort, ...]:
    out = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        words = part.split()
        if len(words) > 2 or (len(words) == 2 and words[1] not in ("asc", "desc")):
            raise LibraryError(f"{path}: sort: expected `column [asc|desc], ...`, got {part!r}")
        out.append(Sort(words[0], len(words) == 2 and words[1] == "desc"))
    return tuple(out)
