"""`fraudctl query` is read-only by construction: one statement, and only a kind that reads.

The check looks at the statement with comments and quoted text removed, so neither a keyword
inside a string nor a second statement hidden after a comment gets through."""

from __future__ import annotations

import re

# Statements that read: queries, catalogue listings, plans. Everything else (CREATE, DROP, INSERT,
# TERMINATE, ALTER, SET, RESET, DEFINE, RUN SCRIPT, ...) changes a session, the catalogue or the
# pipeline and is refused.
READING = ("SELECT", "WITH", "VALUES", "SHOW", "LIST", "DESCRIBE", "DESC", "EXPLAIN", "PRINT")
_MASK = re.compile(r"'(?:[^']|'')*'|`[^`]*`|\"[^\"]*\"|--[^\n]*|/\*.*?\*/", re.S)


class ReadOnlyError(Exception):
    pass


def _masked(sql: str) -> str:
    def repl(m: re.Match[str]) -> str:
        text = m.group(0)
        if text.startswith(("--", "/*")):
            return " "
        return text[0] + "x" + text[-1]  # keep a placeholder literal; drop its content

    return _MASK.sub(repl, sql)


def check(sql: str) -> str:
    """Returns the statement without a trailing semicolon; raises ReadOnlyError otherwise."""
    masked = _masked(sql)
    parts = [p for p in masked.split(";") if p.strip()]
    if not parts:
        raise ReadOnlyError("no statement given")
    if len(parts) > 1:
        raise ReadOnlyError("`query` runs one statement at a time; found more than one (separated by ';')")
    first = parts[0].split()[0].upper()
    if first not in READING:
        raise ReadOnlyError(
            f"`query` is read-only: {first} statements change the pipeline or the session and are refused "
            f"(allowed: {', '.join(READING)}). Deployed statements change through the repo and `fraudctl apply`."
        )
    return sql.strip().rstrip(";").strip()
