"""A connector intent (connectors/NAME.yaml) + the environment's connector profile -> a Connect config.

Templates live in templates/connect/<profile>/<kind>.yaml.j2 (or templates/connect/<kind>.yaml.j2
when both profiles use the same connector) and render a flat `key: value` YAML map; the intent's
`overrides.<profile>` are applied last. Every value is a string in the result, as Connect stores it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from fraudctl.config.project import Project
from fraudctl.config.source import Located, Problem
from fraudctl.render import jinja
from fraudctl.render.context import replication_of

SINK_KINDS = frozenset({"s3-archive", "search-alerts", "postgres-alerts"})


@dataclass(frozen=True)
class RenderedConnector:
    name: str
    intent: Located
    template: str
    config: dict[str, str]
    # Where each key came from: the template (no line) or an override line of the intent file.
    origins: dict[str, tuple[str, int | None]]

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "config": dict(sorted(self.config.items()))}


def connect_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def template_for(project: Project, profile: str, kind: str) -> str:
    specific = f"connect/{profile}/{kind}.yaml.j2"
    return specific if (project.templates / specific).is_file() else f"connect/{kind}.yaml.j2"


def render_connector(project: Project, intent: Located, env: dict[str, Any]) -> RenderedConnector:
    c = intent.value
    profile = str(env.get("connector_profile"))
    template = template_for(project, profile, str(c.get("kind")))
    text = jinja.render(project.templates, template, {"c": c, "env": env, "replication": replication_of(env)})
    try:
        parsed = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise jinja.RenderError(Problem(f"templates/{template}", None, "", f"rendered text is not a flat map: {exc}"))
    origins: dict[str, tuple[str, int | None]] = {k: (f"templates/{template}", None) for k in parsed}
    config = {str(k): connect_value(v) for k, v in parsed.items()}
    for key, value in ((c.get("overrides") or {}).get(profile) or {}).items():
        config[key] = connect_value(value)
        origins[key] = (intent.file, intent.line(("overrides", profile, key)))
    config["name"] = str(c["name"])
    origins["name"] = (intent.file, intent.line(("name",)))
    return RenderedConnector(str(c["name"]), intent, template, config, origins)
