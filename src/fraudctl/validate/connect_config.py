"""Rendered connector configs against the key tables in schemas/connect/: one file per connector
class (under the profile's folder, or shared/), plus common.yaml for Connect's own keys. A key
table says which keys a class takes, their types and allowed values, and which are required."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from fraudctl.config.secrets import is_reference, plaintext_secret
from fraudctl.config.source import Problem
from fraudctl.render.connectors import RenderedConnector

_INT = re.compile(r"^-?[0-9]+$")
_CLASS = re.compile(r"^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)+$")


@dataclass(frozen=True)
class KeyTable:
    path: str
    connector_type: str
    keys: dict[str, dict[str, Any]]
    prefixes: tuple[str, ...]


@cache
def _load(path: Path) -> dict[str, Any]:
    return dict(yaml.safe_load(path.read_text()))


def key_table(schemas: Path, profile: str, connector_class: str) -> KeyTable | None:
    for folder in (profile, "shared"):
        path = schemas / "connect" / folder / f"{connector_class}.yaml"
        if path.is_file():
            table = _load(path)
            common = _load(schemas / "connect" / "common.yaml")
            return KeyTable(
                path=str(path.relative_to(schemas.parent)),
                connector_type=str(table.get("type", "sink")),
                keys={**common["keys"], **table["keys"]},
                prefixes=tuple(common.get("prefixes", [])) + tuple(table.get("prefixes", [])),
            )
    return None


def _type_problem(spec: dict[str, Any], value: str) -> str | None:
    kind = spec.get("type", "string")
    if kind in ("int", "long") and not _INT.match(value):
        return f"expected an integer, got {value!r}"
    if kind == "boolean" and value not in ("true", "false"):
        return f"expected true or false, got {value!r}"
    if kind == "enum" and value not in [str(v) for v in spec["values"]]:
        return f"expected one of {', '.join(map(str, spec['values']))}; got {value!r}"
    if kind == "class" and not _CLASS.match(value):
        return f"expected a Java class name, got {value!r}"
    if kind == "password" and value and not is_reference(value):
        return "plaintext secret: must be a ${env:NAME} or ${file:PATH:KEY} reference"
    return None


def check(rendered: RenderedConnector, schemas: Path, profile: str) -> list[Problem]:
    config = rendered.config
    cls = config.get("connector.class", "")
    table = key_table(schemas, profile, cls)

    def at(key: str) -> tuple[str, int | None]:
        return rendered.origins.get(key, (rendered.intent.file, None))

    if table is None:
        file, line = at("connector.class")
        return [
            Problem(
                file,
                line,
                "connector.class",
                f"no key table for {cls!r} in profile {profile} (schemas/connect/{profile}/ or shared/)",
            )
        ]
    problems: list[Problem] = []
    for key, spec in sorted(table.keys.items()):
        if spec.get("required") and key not in config:
            problems.append(
                Problem(
                    rendered.intent.file,
                    None,
                    key,
                    f"{cls} requires this key (rendered from {rendered.template})",
                )
            )
    for key, value in sorted(config.items()):
        file, line = at(key)
        known = table.keys.get(key)
        if known is None:
            if not key.startswith(table.prefixes):
                problems.append(Problem(file, line, key, f"unknown key for {cls} (see {table.path})"))
        elif (why := _type_problem(known, value)) is not None:
            problems.append(Problem(file, line, key, why))
            continue
        if plaintext_secret(key, value):
            problems.append(
                Problem(file, line, key, "plaintext secret: must be a ${env:NAME} or ${file:PATH:KEY} reference")
            )
    return problems
