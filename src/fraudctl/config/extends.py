"""`extends: NAME` in an environment file: the environment is NAME's, with this file's keys laid
over it (mappings merged key by key, anything else replaced). So a variant of an environment (the
local stack with ksqlDB as its engine) keeps every endpoint and port written once, in the file it
extends. Merged before anything reads the file, so validation, rendering and the stack see one
document; a problem in an inherited key is reported at the `extends` line of the extending file."""

from __future__ import annotations

from typing import Any

from fraudctl.config.source import Located, Path_, Problem

KEY = "extends"


def _merge(base: Any, over: Any) -> Any:
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for key, value in over.items():
            out[key] = _merge(base[key], value) if key in base else value
        return out
    return over


def resolve(docs: dict[str, Located]) -> tuple[dict[str, Located], list[Problem]]:
    """Every environment with its `extends` chain merged in; unknown or circular parents are problems
    (the file is then left as written)."""
    problems: list[Problem] = []
    out: dict[str, Located] = {}

    def merged(name: str, chain: tuple[str, ...]) -> Located:
        if name in out:
            return out[name]
        doc = docs[name]
        parent = doc.value.get(KEY) if isinstance(doc.value, dict) else None
        if parent is None:
            out[name] = doc
            return doc
        line = doc.line((KEY,))
        if not isinstance(parent, str) or parent not in docs:
            problems.append(Problem(doc.file, line, KEY, f"unknown environment {parent!r} (known: {', '.join(docs)})"))
            out[name] = doc
            return doc
        if parent in chain:
            problems.append(Problem(doc.file, line, KEY, f"circular: {' -> '.join((*chain, parent))}"))
            out[name] = doc
            return doc
        base = merged(parent, (*chain, parent))
        value = {k: v for k, v in _merge(base.value, doc.value).items() if k != KEY}
        lines: dict[Path_, int] = {path: line for path in base.lines}
        lines.update(doc.lines)
        out[name] = Located(doc.file, value, lines)
        return out[name]

    for name in docs:
        merged(name, (name,))
    return out, problems
