"""The rendered ksqlDB pipeline as named statements, and what a change to one of them allows.
Pure functions: nothing here talks to a server.

What ksqlDB can change in place (see ../shared/REST-NOTES.md): `CREATE OR REPLACE` keeps a
persistent query's committed offsets and accepts compatible changes (projection, filter) of a
query with the same sources, grouping, window and partitioning; a source stream or table
accepts new columns at the end. Anything else (a changed aggregation, join, window or key; any
change to an INSERT INTO query, which has no OR REPLACE form) needs the query terminated and the
object re-created, which reads again from a chosen offset: `plan` refuses it unless asked."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, replace

from fraudctl.validate.sql import split

_CREATE = re.compile(
    r"^CREATE\s+(?:OR\s+REPLACE\s+)?(STREAM|TABLE)\s+(?:IF\s+NOT\s+EXISTS\s+)?`?([A-Za-z_][A-Za-z0-9_]*)`?",
    re.IGNORECASE,
)
_INSERT = re.compile(r"^INSERT\s+INTO\s+`?([A-Za-z_][A-Za-z0-9_]*)`?", re.IGNORECASE)
_AS_SELECT = re.compile(r"\)\s*AS\s+SELECT\b|\bAS\s+SELECT\b", re.IGNORECASE)
_SOURCES = re.compile(r"\b(?:FROM|JOIN)\s+`?([A-Za-z_][A-Za-z0-9_]*)`?", re.IGNORECASE)
_CLAUSES = ("GROUP BY", "WINDOW", "PARTITION BY", "JOIN", "HAVING")
_TOPIC = re.compile(r"\bKAFKA_TOPIC\s*=\s*'([^']+)'", re.IGNORECASE)
_SET = re.compile(r"^SET\s+'([^']+)'\s*=\s*'([^']*)'$", re.IGNORECASE | re.DOTALL)

SOURCE, QUERY, INSERT = "source", "query", "insert"


class StatementError(Exception):
    pass


@dataclass(frozen=True)
class Statement:
    name: str  # the object it creates, or `insert:<target><-<sources>` for an INSERT INTO query
    kind: str  # source | query (CREATE ... AS SELECT) | insert (INSERT INTO ... SELECT)
    object_type: str  # STREAM | TABLE (for an insert: the target's type is not known here)
    sql: str
    sources: tuple[str, ...]
    shape: str  # what must not change for CREATE OR REPLACE (sources, grouping, window, keys)
    columns: tuple[str, ...]  # a source's declared columns, in order

    @property
    def topic(self) -> str | None:
        """The topic named in its WITH clause, if any."""
        match = _TOPIC.search(self.sql)
        return match.group(1) if match else None

    @property
    def checksum(self) -> str:
        return hashlib.sha256(normalize(self.sql).encode()).hexdigest()[:16]

    def or_replace(self) -> str:
        """The statement as `CREATE OR REPLACE` (without IF NOT EXISTS, which ksqlDB rejects with it)."""
        text = re.sub(r"^CREATE\s+(OR\s+REPLACE\s+)?", "CREATE OR REPLACE ", self.sql, count=1, flags=re.IGNORECASE)
        return re.sub(r"\s+IF\s+NOT\s+EXISTS\s+", " ", text, count=1, flags=re.IGNORECASE)


def normalize(sql: str) -> str:
    """Whitespace- and case-insensitive outside quotes, so reformatting is not a change."""
    out = []
    for part in re.split(r"('(?:[^']|'')*'|`[^`]*`)", sql):
        out.append(part if part.startswith(("'", "`")) else re.sub(r"\s+", " ", part).upper())
    return "".join(out).strip()


def parse_one(sql: str) -> Statement:
    """One statement as recorded (its text without the closing `;`)."""
    text = sql.strip()
    return parse(text if text.endswith(";") else text + ";")[0]


def parse(sql: str) -> list[Statement]:
    statements, rest = split(sql)
    if rest and rest.strip():
        raise StatementError(f"statement not terminated with ';': {rest.strip()[:60]!r}")
    out: list[Statement] = []
    seen: set[str] = set()
    for st in statements:
        text = st.text.strip()
        upper = normalize(text)
        if upper.startswith(("SET ", "UNSET ", "DEFINE ", "UNDEFINE ")):
            continue  # session settings: sent with every statement's properties, not objects
        created = _CREATE.match(text)
        inserted = _INSERT.match(text)
        if created:
            object_type, name = created.group(1).upper(), created.group(2).lower()
            query = bool(_AS_SELECT.search(text))
            body = text[_AS_SELECT.search(text).end() :] if query else ""  # type: ignore[union-attr]
            statement = Statement(
                name,
                QUERY if query else SOURCE,
                object_type,
                text,
                _sources(body) if query else (),
                _shape(body) if query else "",
                () if query else _columns(text),
            )
        elif inserted:
            target = inserted.group(1).lower()
            body = text[inserted.end() :]
            sources = _sources(body)
            statement = Statement(f"insert:{target}<-{'+'.join(sources)}", INSERT, "", text, sources, _shape(body), ())
        else:
            raise StatementError(f"line {st.line}: not a statement the pipeline may hold: {text[:60]!r}")
        if statement.name in seen:
            raise StatementError(f"line {st.line}: {statement.name} is declared twice")
        seen.add(statement.name)
        out.append(statement)
    return _topic_readers(out)


def _topic_readers(statements: list[Statement]) -> list[Statement]:
    """A source declared over the topic a query writes (a table's change stream) reads that query:
    ksqlDB does not know it, but re-creating or dropping must treat it as a reader."""
    writers: dict[str, str] = {}
    out = []
    for s in statements:
        topic = _TOPIC.search(s.sql)
        if topic and s.kind == QUERY:
            writers[topic.group(1)] = s.name
        elif topic and s.kind == SOURCE and topic.group(1) in writers:
            s = replace(s, sources=(writers[topic.group(1)],))
        out.append(s)
    return out


def settings(sql: str) -> dict[str, str]:
    """The pipeline's `SET 'property' = 'value';` lines. The REST API keeps no session between
    requests, so these are sent as properties with every statement (not run as statements)."""
    statements, _ = split(sql)
    out: dict[str, str] = {}
    for st in statements:
        match = _SET.match(st.text.strip().rstrip(";").strip())
        if match:
            out[match.group(1)] = match.group(2)
    return out


def _sources(body: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(m.group(1).lower() for m in _SOURCES.finditer(body)))


def _shape(body: str) -> str:
    """The parts of a query that CREATE OR REPLACE cannot change, normalized."""
    text = normalize(body)
    parts = [f"SOURCES={','.join(_sources(body))}"]
    for clause in _CLAUSES:
        for match in re.finditer(
            rf"\b{clause}\b(.*?)(?=\b(?:GROUP BY|WINDOW|PARTITION BY|HAVING|EMIT|WHERE)\b|$)", text
        ):
            parts.append(f"{clause}:{match.group(1).strip()}")
    return " | ".join(parts)


def _columns(text: str) -> tuple[str, ...]:
    """A source's column definitions, in order (between the first parentheses)."""
    start = text.find("(")
    depth, buf, cols = 0, "", []
    for ch in text[start + 1 :]:
        if ch in "(<":
            depth += 1
        elif ch in ")>":
            if depth == 0:
                break
            depth -= 1
        if ch == "," and depth == 0:
            cols.append(re.sub(r"\s+", " ", buf.strip()).upper())
            buf = ""
        else:
            buf += ch
    if buf.strip():
        cols.append(re.sub(r"\s+", " ", buf.strip()).upper())
    return tuple(cols)


def change_allowed_in_place(old: Statement, new: Statement) -> str | None:
    """None when `new` can replace `old` with CREATE OR REPLACE; otherwise why not."""
    if old.kind != new.kind or old.object_type != new.object_type:
        return f"it changes from a {old.kind} {old.object_type} to a {new.kind} {new.object_type}".replace("  ", " ")
    if new.kind == INSERT:
        return "an INSERT INTO query has no CREATE OR REPLACE form in ksqlDB"
    if new.kind == SOURCE:
        if new.columns[: len(old.columns)] != old.columns:
            return "a source stream or table only accepts new columns at the end"
        if _with_clause(old.sql) != _with_clause(new.sql):
            return "its WITH properties (topic, formats, timestamps) change"
        return None
    if old.shape != new.shape:
        return "its sources, join, grouping, window or partitioning change"
    for construct, pattern in _NOT_UPGRADABLE:
        if pattern.search(normalize(old.sql)):
            return f"ksqlDB cannot upgrade a query with {construct} in place"
    return None


# What ksqlDB's query upgrade refuses whatever changes (only sources, filters, projections, key
# selection and plain aggregations are upgradable): checked on the running version.
_NOT_UPGRADABLE = (
    ("a table function (EXPLODE)", re.compile(r"\bEXPLODE\s*\(")),
    ("a join", re.compile(r"\bJOIN\b")),
    ("a windowed aggregation", re.compile(r"\bWINDOW\s+(TUMBLING|HOPPING|SESSION)\b")),
)


def _with_clause(sql: str) -> str:
    match = re.search(r"\)\s*WITH\s*\((.*)\)\s*$", sql, re.IGNORECASE | re.DOTALL)
    return normalize(match.group(1)) if match else ""


def dependents(statements: list[Statement]) -> dict[str, set[str]]:
    """Which statements read each object (for dropping in reverse dependency order)."""
    readers: dict[str, set[str]] = {s.name: set() for s in statements}
    by_object = {s.name: s for s in statements if s.kind != INSERT}
    for s in statements:
        for source in s.sources:
            if source in by_object:
                readers[source].add(s.name)
    return readers


_TOKEN = re.compile(r"'(?:[^']|'')*'|`[^`]*`|[A-Za-z_][A-Za-z0-9_]*|--[^\n\r]*|/\*.*?\*/|\s+|.", re.DOTALL)


def with_prefix(sql: str, prefix: str, names: set[str], topics: set[str]) -> str:
    """`sql` with every object in `names` and every topic literal in `topics` (the topics the
    pipeline's queries create) renamed `<prefix><name>`, so that several pipelines, or runs, share a
    ksqlDB server without meeting: its object names are global. Qualified names (`h.entries`) and
    text inside literals other than those topics are left alone."""
    out: list[str] = []
    previous = ""  # the last significant token
    for token in _TOKEN.findall(sql):
        if token[0].isalpha() or token[0] == "_":
            if token.lower() in names and previous not in (".", ">"):
                token = prefix + token.lower()
        elif token.startswith("'") and token[1:-1] in topics:
            token = f"'{prefix}{token[1:-1]}'"
        if not token.isspace() and not token.startswith(("--", "/*")):
            previous = token
        out.append(token)
    return "".join(out)


def prefixed(sql: str, prefix: str) -> str:
    """The rendered pipeline with its objects and the topics its queries create prefixed."""
    statements = parse(sql)
    names = {s.name for s in statements if s.kind != INSERT}
    topics = {m.group(1) for s in statements if s.kind == QUERY and (m := _TOPIC.search(s.sql))}
    return with_prefix(sql, prefix, names, topics)
