"""SQL checks that need no server: statements split and terminated, objects defined before use,
and every topic a statement reads or declares known to topics.yaml (engine-owned topics excepted)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from fraudctl.config.source import Problem

# Topics a CREATE ... AS SELECT lets the engine create and own carry this prefix.
ENGINE_TOPIC_PREFIX = "fraud_"


@dataclass(frozen=True)
class Statement:
    text: str  # with comments removed, string literals kept
    line: int  # first line of the statement in the file


def split(sql: str) -> tuple[list[Statement], str | None]:
    """Splits on `;` outside quotes and comments. Returns the statements and the unterminated rest."""
    statements: list[Statement] = []
    buf: list[str] = []
    line = 1
    start_line: int | None = None
    i, n = 0, len(sql)
    quote: str | None = None
    while i < n:
        ch = sql[i]
        if quote:
            buf.append(ch)
            if ch == quote:
                if i + 1 < n and sql[i + 1] == quote:  # doubled quote inside a literal
                    buf.append(sql[i + 1])
                    i += 1
                else:
                    quote = None
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            i = n if end < 0 else end
            continue
        elif sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            chunk = sql[i : n if end < 0 else end + 2]
            line += chunk.count("\n")
            i = n if end < 0 else end + 2
            if chunk.startswith("/*+"):
                buf.append(chunk)  # a table hint (/*+ OPTIONS(...) */) is part of the statement
            continue
        elif ch in ("'", "`", '"'):
            quote = ch
            buf.append(ch)
        elif ch == ";":
            text = "".join(buf).strip()
            if text:
                statements.append(Statement(text, start_line or line))
            buf, start_line = [], None
            i += 1
            continue
        else:
            buf.append(ch)
        if start_line is None and not ch.isspace():
            start_line = line
        if ch == "\n":
            line += 1
        i += 1
    rest = "".join(buf).strip()
    return statements, (rest or None)


_STRINGS = re.compile(r"'(?:[^']|'')*'")
_CREATE = re.compile(
    r"^\s*CREATE\s+(?:OR\s+REPLACE\s+)?(?:TEMPORARY\s+)?(?:SOURCE\s+)?(STREAM|TABLE|VIEW)\s+"
    r"(?:IF\s+NOT\s+EXISTS\s+)?[`\"]?([A-Za-z_][A-Za-z0-9_]*)",
    re.IGNORECASE,
)
_AS_SELECT = re.compile(r"\bAS\s+SELECT\b", re.IGNORECASE)
_REFERENCE = re.compile(r"\b(?:FROM|JOIN|INSERT\s+INTO)\s+[`\"]?([A-Za-z_][A-Za-z0-9_]*)", re.IGNORECASE)
_TOPIC = re.compile(r"(?:KAFKA_TOPIC\s*=\s*|'topic'\s*=\s*)'([^']+)'", re.IGNORECASE)
_NOT_OBJECTS = frozenset({"select", "unnest", "table", "lateral"})


def check(sql: str, file: str, declared_topics: set[str]) -> tuple[list[Problem], int]:
    """Problems of one rendered SQL file, and the number of statements checked."""
    problems: list[Problem] = []
    statements, rest = split(sql)
    if rest is not None:
        last_line = sql.rstrip().count("\n") + 1
        problems.append(Problem(file, last_line, "", f"statement not terminated with ';': {rest[:60]!r}"))
    defined: dict[str, int] = {}
    engine_topics: set[str] = set()  # created by an earlier CREATE ... AS SELECT
    for st in statements:
        code = _STRINGS.sub("''", st.text)  # names inside literals are not references
        create = _CREATE.match(code)
        own = create.group(2).lower() if create else None
        for match in _REFERENCE.finditer(code):
            name = match.group(1).lower()
            if name in _NOT_OBJECTS or name == own:
                continue
            if name not in defined:
                problems.append(
                    Problem(
                        file,
                        st.line + code[: match.start()].count("\n"),
                        name,
                        "references a stream/table that is not defined before this statement",
                    )
                )
        for match in _TOPIC.finditer(st.text):
            topic = match.group(1)
            engine_owned = bool(create and _AS_SELECT.search(code))
            if engine_owned:
                engine_topics.add(topic)
                if not topic.startswith(ENGINE_TOPIC_PREFIX):
                    problems.append(
                        Problem(
                            file,
                            st.line,
                            topic,
                            f"a topic the engine creates must start with '{ENGINE_TOPIC_PREFIX}'",
                        )
                    )
            elif topic not in declared_topics and topic not in engine_topics:
                problems.append(Problem(file, st.line, topic, "topic is not declared in topics.yaml"))
        if own:
            if own in defined:
                problems.append(Problem(file, st.line, own, f"defined twice (first on line {defined[own]})"))
            defined.setdefault(own, st.line)
    return problems, len(statements)
