"""Checking a parsed file against its JSON Schema (schemas/*.schema.yaml), with every error as a
Problem that names the file, the line and the key."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from fraudctl.config.source import Located, Problem, dotted

_TYPE_NAMES = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
}


@cache
def _validator(path: Path) -> Draft202012Validator:
    return Draft202012Validator(yaml.safe_load(path.read_text()))


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def _problems(doc: Located, err: ValidationError) -> list[Problem]:
    path = tuple(err.absolute_path)
    key = dotted(path)
    if err.validator == "required":
        missing = str(err.message).split("'")[1]
        return [Problem(doc.file, doc.line(path), dotted((*path, missing)), "missing required key")]
    if err.validator == "additionalProperties" and isinstance(err.instance, dict):
        allowed = sorted(err.schema.get("properties", {}))
        out = []
        for name in err.instance:
            if name not in allowed:
                hint = f" (allowed: {', '.join(allowed)})" if allowed else ""
                out.append(Problem(doc.file, doc.line((*path, name)), dotted((*path, name)), f"unknown key{hint}"))
        return out
    line = doc.line(path)
    if err.validator == "type":
        expected = err.validator_value if isinstance(err.validator_value, list) else [err.validator_value]
        names = " or ".join(_TYPE_NAMES.get(str(t), str(t)) for t in expected)
        return [Problem(doc.file, line, key, f"expected {names}, got {_describe(err.instance)}")]
    if err.validator == "enum":
        options = ", ".join(map(str, err.validator_value))
        return [Problem(doc.file, line, key, f"expected one of {options}; got {_describe(err.instance)}")]
    if err.validator == "pattern":
        if "env|file" in str(err.validator_value):
            message = "plaintext secret: must be a ${env:NAME} or ${file:PATH:KEY} reference"
        else:
            message = f"{_describe(err.instance)} does not match the pattern {err.validator_value}"
        return [Problem(doc.file, line, key, message)]
    return [Problem(doc.file, line, key, str(err.message))]


def check(doc: Located, schema: Path) -> list[Problem]:
    if doc.value is None:
        return [Problem(doc.file, 1, "", "file is empty")]
    out: list[Problem] = []
    for err in sorted(_validator(schema).iter_errors(doc.value), key=lambda e: list(map(str, e.absolute_path))):
        out.extend(_problems(doc, err))
    return out
