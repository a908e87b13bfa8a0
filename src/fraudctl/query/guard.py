"""`fraudctl query` runs reading statements only. This guard is the first, friendly line (the
engines' credentials are what must make writing impossible); it reads the statement the way the
engines' lexers do, so that what it checks is what they will run:

- comments: `--` and `//` (Flink) end at a line feed *or* a carriage return, `/* ... */` blocks;
  an optimizer hint `/*+ ... */` is refused (Flink's OPTIONS hint changes a table's options);
- string literals ('...', with '' inside) and quoted identifiers (`...`, "...") are opaque;
- outside them only ASCII is accepted, so no look-alike semicolon, quote or space (U+FF1B, U+2028,
  a no-break space, ...) can hide a second statement from this check but not from the engine;
- exactly one statement; its first word is a reading kind, and no word that changes anything
  (INSERT, CREATE, DROP, SET, ...) appears anywhere in it outside quotes (`SHOW CREATE ...` is a
  listing, and allowed)."""

from __future__ import annotations

from dataclasses import dataclass

# Statements that read: queries, catalogue listings, plans.
READING = ("SELECT", "WITH", "VALUES", "SHOW", "LIST", "DESCRIBE", "DESC", "EXPLAIN", "PRINT")
# Words that change a session, the catalogue or the pipeline, refused wherever they appear.
WRITING = frozenset(
    [
        "INSERT",
        "UPSERT",
        "UPDATE",
        "DELETE",
        "MERGE",
        "REPLACE",
        "CREATE",
        "DROP",
        "ALTER",
        "TRUNCATE",
        "TERMINATE",
        "PAUSE",
        "RESUME",
        "SET",
        "RESET",
        "DEFINE",
        "UNDEFINE",
        "EXECUTE",
        "EXEC",
        "CALL",
        "RUN",
        "LOAD",
        "UNLOAD",
        "USE",
        "ADD",
        "REMOVE",
        "GRANT",
        "REVOKE",
        "COPY",
        "STATEMENT",
    ]
)
_SPACE = " \t\n\r\f\v"


class ReadOnlyError(Exception):
    pass


@dataclass(frozen=True)
class Token:
    kind: str  # word | quoted | literal | semicolon | symbol
    text: str
    at: int  # offset in the statement


def tokens(sql: str) -> list[Token]:
    """The statement's tokens without comments and spaces; ReadOnlyError on anything the engines
    might read differently (an unterminated literal or comment, a hint, a non-ASCII character)."""
    out: list[Token] = []
    i, n = 0, len(sql)
    while i < n:
        ch = sql[i]
        two = sql[i : i + 2]
        if ch in _SPACE:
            i += 1
        elif two in ("--", "//"):
            while i < n and sql[i] not in "\n\r":
                i += 1
        elif two == "/*":
            if sql.startswith("/*+", i):
                raise ReadOnlyError(f"optimizer hints (/*+ ... */, at offset {i}) are not allowed in `query`")
            end = sql.find("*/", i + 2)
            if end < 0:
                raise ReadOnlyError(f"unterminated comment at offset {i}")
            i = end + 2
        elif ch in "'`\"":
            j = i + 1
            while True:
                j = sql.find(ch, j)
                if j < 0:
                    raise ReadOnlyError(f"unterminated {'literal' if ch == chr(39) else 'quoted name'} at offset {i}")
                if sql.startswith(ch * 2, j):  # a doubled quote is the quote itself
                    j += 2
                    continue
                break
            out.append(Token("literal" if ch == "'" else "quoted", sql[i : j + 1], i))
            i = j + 1
        elif not ch.isascii():
            raise ReadOnlyError(
                f"character U+{ord(ch):04X} at offset {i} is outside quotes: `query` accepts only ASCII there"
            )
        elif ch.isalpha() or ch == "_":
            j = i
            while j < n and sql[j].isascii() and (sql[j].isalnum() or sql[j] in "_$"):
                j += 1
            out.append(Token("word", sql[i:j], i))
            i = j
        elif ch == ";":
            out.append(Token("semicolon", ch, i))
            i += 1
        else:
            out.append(Token("symbol", ch, i))
            i += 1
    return out


def check(sql: str) -> str:
    """Returns the statement without a trailing semicolon; raises ReadOnlyError otherwise."""
    statements: list[list[Token]] = [[]]
    for token in tokens(sql):
        if token.kind == "semicolon":
            statements.append([])
        else:
            statements[-1].append(token)
    statements = [s for s in statements if s]
    if not statements:
        raise ReadOnlyError("no statement given")
    if len(statements) > 1:
        raise ReadOnlyError("`query` runs one statement at a time; found more than one (separated by ';')")
    [statement] = statements
    first = statement[0].text.upper() if statement[0].kind == "word" else statement[0].text
    if first not in READING:
        raise ReadOnlyError(
            f"`query` is read-only: {first} statements change the pipeline or the session and are refused "
            f"(allowed: {', '.join(READING)}). Deployed statements change through the repo and `fraudctl apply`."
        )
    words = [t for t in statement if t.kind == "word"]
    for previous, word in zip([None, *words], words, strict=False):
        upper = word.text.upper()
        if upper in WRITING and not (upper == "CREATE" and previous is not None and previous.text.upper() == "SHOW"):
            raise ReadOnlyError(f"`query` is read-only: {upper} (at offset {word.at}) is refused in any statement")
    last = statement[-1]
    return sql[: last.at + len(last.text)].strip()  # up to its last token: no ';', no trailing comment
