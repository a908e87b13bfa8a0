"""Keys that hold secrets, and values that are references rather than secrets."""

from __future__ import annotations

import re
from pathlib import Path

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
    """The value behind a reference, for clients of fraudctl's own (REST auth, PostgreSQL, Flink SQL
    submission): `${env:NAME}` from the environment, `${file:PATH:KEY}` from a properties file as
    Kafka's FileConfigProvider reads it (`key=value` lines). Any other value is returned as it is.
    A missing variable, file or key is a KeyError naming the reference, never a value."""
    import os

    source = os.environ if environ is None else environ
    env_ref = re.match(r"^\$\{env:([^}]+)\}$", value)
    if env_ref:
        if env_ref.group(1) not in source:
            raise KeyError(f"environment variable {env_ref.group(1)} is not set (needed for {value})")
        return source[env_ref.group(1)]
    file_ref = re.match(r"^\$\{file:(.+):([^:}]+)\}$", value)
    if file_ref:
        return _property(file_ref.group(1), file_ref.group(2), value)
    return value


def _property(path: str, key: str, reference: str) -> str:
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise KeyError(f"cannot read {path} ({exc.strerror}), needed for {reference}") from None
    for line in lines:
        entry = re.match(r"^\s*([^#!\s=:][^=:\s]*)\s*[=:]\s*(.*?)\s*$", line)
        if entry and entry.group(1) == key:
            return entry.group(2)
    raise KeyError(f"{path} has no key {key!r} (needed for {reference})")


def resolve_embedded(text: str, environ: dict[str, str] | None = None) -> tuple[str, list[str]]:
    """`text` with every embedded `${env:NAME}` reference resolved (SQL submitted to an engine),
    and the values put in, so that a caller can mask them in any message it shows."""
    values: list[str] = []

    def one(match: re.Match[str]) -> str:
        value = resolve(match.group(0), environ)
        values.append(value)
        return value

    return re.sub(r"\$\{env:[^}]+\}", one, text), values
