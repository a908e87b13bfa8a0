"""Keys that hold secrets, and values that are references rather than secrets."""

from __future__ import annotations

import re

# A key whose last part names a password, secret, token or key material.
_SECRET_KEY = re.compile(
    r"(password|passwd|secret|token|credentials?|api[._-]?key|private[._-]?key|access[._-]?key(\.id)?"
    r"|user\.info|jaas\.config)$",
    re.IGNORECASE,
)
_REFERENCE = re.compile(r"^\$\{(env|file|vault|directory):[^}]+\}$")
_EMBEDDED_REFERENCE = re.compile(r"\$\{(env|file|vault|directory):[^}]+\}")
# Values that combine a user name and a secret; the secret part must be a reference.
_COMPOSITE_KEYS = ("jaas.config", "user.info")


def is_secret_key(key: str) -> bool:
    return bool(_SECRET_KEY.search(key))


def is_reference(value: str) -> bool:
    return bool(_REFERENCE.match(value))


def plaintext_secret(key: str, value: object) -> bool:
    if not is_secret_key(key) or not isinstance(value, str) or value == "" or is_reference(value):
        return False
    return not (key.endswith(_COMPOSITE_KEYS) and _EMBEDDED_REFERENCE.search(value))


def mask(key: str, value: str) -> str:
    """How a value appears in any output: secrets only as their reference, never as a value."""
    if not is_secret_key(key) or is_reference(value):
        return value
    if key.endswith(_COMPOSITE_KEYS) and _EMBEDDED_REFERENCE.search(value):
        return value
    return "********"


def resolve(value: str, environ: dict[str, str] | None = None) -> str:
    """The value behind an `${env:NAME}` reference, for clients of fraudctl's own (Connect REST auth,
    Flink SQL submission). `${file:...}` is resolved by Connect workers, not here."""
    import os

    source = os.environ if environ is None else environ
    match = re.match(r"^\$\{env:([^}]+)\}$", value)
    if not match:
        return value
    if match.group(1) not in source:
        raise KeyError(f"environment variable {match.group(1)} is not set (needed for {value})")
    return source[match.group(1)]


def resolve_embedded(text: str, environ: dict[str, str] | None = None) -> tuple[str, list[str]]:
    """`text` with every embedded `${env:NAME}` reference resolved (SQL submitted to an engine),
    and the values put in, so that a caller can mask them in any message it shows."""
    values: list[str] = []

    def one(match: re.Match[str]) -> str:
        value = resolve(match.group(0), environ)
        values.append(value)
        return value

    return re.sub(r"\$\{env:[^}]+\}", one, text), values
