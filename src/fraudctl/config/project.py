"""The repo as a whole: every environment, topic, connector and detection file, parsed with line
numbers. Loading never stops at the first bad file: syntax problems are collected and the file is
left out, so one run reports everything."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fraudctl.config import extends
from fraudctl.config.settings import Settings, SettingsError, settings_from
from fraudctl.config.source import Located, Problem, SourceError, load_yaml

# Folders and files of the repo that hold declarations (relative to the project root).
ENVIRONMENTS = "environments"
CONNECTORS = "connectors"
DETECTIONS = "detections"
TOPICS = "topics.yaml"
SCHEMAS = "schemas"
TEMPLATES = "templates"
POSTGRES = "postgres"
SEARCH = "search"
QUERIES = "ksql"  # the analysts' query library (ksql/queries/)


@dataclass(frozen=True)
class Project:
    root: Path
    environments: dict[str, Located] = field(default_factory=dict)
    topics: Located | None = None
    connectors: list[Located] = field(default_factory=list)
    detections: list[Located] = field(default_factory=list)
    _settings: dict[str, Settings] = field(default_factory=dict, repr=False, compare=False)

    def schema(self, name: str) -> Path:
        return self.root / SCHEMAS / name

    @property
    def templates(self) -> Path:
        return self.root / TEMPLATES

    def declared_topics(self) -> dict[str, dict[str, Any]]:
        """topics.yaml's declarations by name (empty when the file is missing or broken)."""
        value = self.topics.value if self.topics else None
        topics = value.get("topics") if isinstance(value, dict) else None
        return topics if isinstance(topics, dict) else {}

    def environment_names(self) -> list[str]:
        return sorted(self.environments)

    def settings(self, env_name: str) -> Settings:
        """The typed model of an environment, built once per project load (SettingsError names the
        key when the file does not fit; `validate` reports the same with file and line first)."""
        if env_name not in self._settings:
            if env_name not in self.environments:
                known = ", ".join(self.environment_names()) or "none"
                raise SettingsError(f"unknown environment {env_name!r} (known: {known})")
            self._settings[env_name] = settings_from(env_name, self.environments[env_name].value)
        return self._settings[env_name]

    def on_local_stack(self, env_name: str) -> bool:
        """An environment of the embedded local stack (it carries `local_stack` settings, directly or
        through `extends: local`): its secrets come from the stack's generated .local/secrets.env."""
        value = self.environments[env_name].value if env_name in self.environments else None
        return isinstance(value, dict) and "local_stack" in value


# Everything `validate` and `render` read: enough to validate a copy of the repo elsewhere.
DECLARATIONS = (ENVIRONMENTS, CONNECTORS, DETECTIONS, TOPICS, SCHEMAS, TEMPLATES, POSTGRES, SEARCH, QUERIES)


def copy_declarations(src: Path, dest: Path) -> Path:
    """Copies the repo's declarations (not code, not state) to `dest`, for benchmarks and tests."""
    for name in DECLARATIONS:
        if (src / name).is_dir():
            shutil.copytree(src / name, dest / name)
        else:
            dest.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src / name, dest / name)
    return dest


def _load(root: Path, path: Path, problems: list[Problem]) -> Located | None:
    try:
        return load_yaml(path, str(path.relative_to(root)))
    except SourceError as exc:
        problems.append(exc.problem)
        return None


def _yaml_files(folder: Path) -> list[Path]:
    return sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")])


def load_project(root: Path) -> tuple[Project, list[Problem]]:
    problems: list[Problem] = []
    environments = {}
    for path in _yaml_files(root / ENVIRONMENTS):
        doc = _load(root, path, problems)
        if doc is not None:
            environments[path.stem] = doc
    environments, inherited = extends.resolve(environments)
    problems += inherited
    topics = None
    if (root / TOPICS).is_file():
        topics = _load(root, root / TOPICS, problems)
    else:
        problems.append(Problem(TOPICS, None, "", "missing: every topic of the pipeline is declared here"))
    connectors = [d for p in _yaml_files(root / CONNECTORS) if (d := _load(root, p, problems)) is not None]
    detections = [d for p in _yaml_files(root / DETECTIONS) if (d := _load(root, p, problems)) is not None]
    return Project(root, environments, topics, connectors, detections), problems
