"""YAML that remembers where each value came from, so every error can name file and line."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

Path_ = tuple[str | int, ...]
# libyaml's parser when the build has it (much faster); the pure-Python one otherwise.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class Problem:
    """One finding of validation, reported as `file:line: key: message`."""

    file: str
    line: int | None
    key: str
    message: str

    def text(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.key or '-'}: {self.message}"

    def to_json(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "key": self.key, "message": self.message}


class SourceError(Exception):
    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.text())
        self.problem = problem


@dataclass(frozen=True)
class Located:
    """A parsed YAML document plus the line (1-based) of every mapping key and sequence item."""

    file: str
    value: Any
    lines: dict[Path_, int] = field(repr=False)

    def line(self, path: Path_) -> int:
        """The line of `path`, or of its nearest parent that has one."""
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), 1)


def dotted(path: Path_) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _construct(node: yaml.Node, path: Path_, lines: dict[Path_, int], file: str, loader: Any) -> Any:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = str(loader.construct_object(key_node, deep=True))
            if key in out:
                raise SourceError(Problem(file, key_node.start_mark.line + 1, dotted((*path, key)), "duplicate key"))
            lines[(*path, key)] = key_node.start_mark.line + 1
            out[key] = _construct(value_node, (*path, key), lines, file, loader)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_construct(item, (*path, i), lines, file, loader) for i, item in enumerate(node.value)]
    return loader.construct_object(node, deep=True)


def _compose(text: str) -> yaml.Node | None:
    try:
        return yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError:
        # A broken file is parsed again by the pure-Python parser: its messages are the same on every
        # machine, with or without libyaml. Errors are rare, so the second parse costs nothing.
        return yaml.compose(text, Loader=yaml.SafeLoader)


def load_yaml(path: Path, display: str | None = None) -> Located:
    """Parses one YAML file; syntax errors and duplicate keys become a SourceError with the line."""
    file = display or str(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise SourceError(Problem(file, None, "", f"cannot read: {exc.strerror}")) from exc
    try:
        node = _compose(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise SourceError(Problem(file, line, "", f"invalid YAML: {exc.problem or exc.context}")) from exc
    lines: dict[Path_, int] = {}
    if node is None:
        return Located(file, None, {(): 1})
    return Located(file, _construct(node, (), lines, file, _Loader("")), lines)
