"""An environment file (environments/NAME.yaml): endpoints, engine, profile and tuning of one deployment."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from fraudctl.config import extends
from fraudctl.config.settings import Settings, SettingsError, settings_from
from fraudctl.config.source import Located, SourceError, load_yaml
from fraudctl.paths import repo_root


class EnvironmentError_(Exception):
    """An environment file that cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class Environment:
    name: str
    path: Path
    raw: dict[str, Any] = field(repr=False)
    settings: Settings = field(repr=False)

    def get(self, dotted: str, default: Any = None) -> Any:
        node: Any = self.raw
        for part in dotted.split("."):
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        return node

    def require(self, dotted: str) -> Any:
        value = self.get(dotted)
        if value is None:
            raise EnvironmentError_(f"{self.path}: {dotted}: required key is missing")
        return value

    def port_of(self, dotted: str) -> int:
        """The port of an endpoint key (a URL or host:port)."""
        value = str(self.require(dotted))
        parsed = urlparse(value if "://" in value else f"tcp://{value}")
        if parsed.port is None:
            raise EnvironmentError_(f"{self.path}: {dotted}: expected an endpoint with a port, got {value!r}")
        return parsed.port

    def host_of(self, dotted: str) -> str:
        value = str(self.require(dotted))
        parsed = urlparse(value if "://" in value else f"tcp://{value}")
        return parsed.hostname or "127.0.0.1"


def environments_dir() -> Path:
    return repo_root() / "environments"


def known_environments() -> list[str]:
    return sorted(p.stem for p in environments_dir().glob("*.yaml"))


def load_environment(name: str) -> Environment:
    path = environments_dir() / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(known_environments()) or "none"
        raise EnvironmentError_(f"unknown environment {name!r} (known: {known})")
    # The same reader as the project's (line numbers, duplicate keys refused, `extends` merged), so
    # `local up` and `validate` agree on what an environment file says.
    docs: dict[str, Located] = {}
    pending = [name]
    while pending:
        current = pending.pop()
        file = environments_dir() / f"{current}.yaml"
        if current in docs or not file.is_file():
            continue
        try:
            docs[current] = load_yaml(file, f"environments/{current}.yaml")
        except SourceError as exc:
            raise EnvironmentError_(str(exc)) from exc
        parent = docs[current].value.get(extends.KEY) if isinstance(docs[current].value, dict) else None
        if isinstance(parent, str):
            pending.append(parent)
    merged, problems = extends.resolve(docs)
    if problems:
        raise EnvironmentError_(problems[0].text())
    raw = merged[name].value or {}
    if not isinstance(raw, dict):
        raise EnvironmentError_(f"{path}: expected a mapping at the top level")
    try:
        typed = settings_from(name, raw)
    except SettingsError as exc:
        raise EnvironmentError_(f"{path}: {exc}") from exc
    return Environment(name=name, path=path, raw=raw, settings=typed)
