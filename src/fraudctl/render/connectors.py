"""A connector intent (connectors/NAME.yaml) + the environment's connector profile -> a Connect config.

Templates live in templates/connect/<profile>/<kind>.yaml.j2 (or templates/connect/<kind>.yaml.j2
when both profiles use the same connector) and render a flat `key: value` YAML map; the intent's
`overrides.<profile>` are applied last. Every value is a string in the result, as Connect stores it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from fraudctl.config.project import Project
from fraudctl.config.settings import Settings
from fraudctl.config.source import Located, Problem
from fraudctl.render import jinja
from fraudctl.render.context import replication_of
from fraudctl.render.ddl import not_null_columns

SINK_KINDS = frozenset({"s3-archive", "search-alerts", "postgres-upsert"})


def consumer_group(name: str, kind: object, config: dict[str, str]) -> str | None:
    """The Kafka group a sink's tasks consume in (Connect's default, or the config's override);
    None for a source connector."""
    if kind not in SINK_KINDS:
        return None
    return config.get("consumer.override.group.id", f"connect-{name}")


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

    @property
    def consumer_group(self) -> str | None:
        return consumer_group(self.name, self.intent.value.get("kind"), self.config)


def connect_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def parse_flat_map(text: str, template: str) -> dict[str, Any]:
    """Connector templates render one `key: <JSON value>` per line (values through `tojson`); this
    reads exactly that, strictly. A duplicate key is an error rather than a silent override."""
    out: dict[str, Any] = {}
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        key, sep, value = stripped.partition(": ")
        try:
            if not sep:
                raise ValueError("no ': ' separator")
            parsed = json.loads(value)
        except ValueError as exc:
            raise jinja.RenderError(
                Problem(
                    template,
                    None,
                    key,
                    f"rendered line {number} is not `key: <JSON value>` ({exc}): {stripped[:80]!r}",
                )
            ) from exc
        if key in out:
            raise jinja.RenderError(Problem(template, None, key, f"rendered twice (line {number})"))
        out[key] = parsed
    return out


def template_for(project: Project, profile: str, kind: str) -> str:
    specific = f"connect/{profile}/{kind}.yaml.j2"
    return specific if (project.templates / specific).is_file() else f"connect/{kind}.yaml.j2"


def render_connector(project: Project, intent: Located, env: Settings) -> RenderedConnector:
    c = intent.value
    profile = env.connector_profile
    template = template_for(project, profile, str(c.get("kind")))
    values = {
        "c": c,
        "env": env,
        "replication": replication_of(env),
        "not_null": not_null_columns(project.root / "postgres"),
    }
    text = jinja.render(project.templates, template, values)
    parsed = parse_flat_map(text, f"templates/{template}")
    origins: dict[str, tuple[str, int | None]] = {k: (f"templates/{template}", None) for k in parsed}
    config = {str(k): connect_value(v) for k, v in parsed.items()}
    for key, value in ((c.get("overrides") or {}).get(profile) or {}).items():
        config[key] = connect_value(value)
        origins[key] = (intent.file, intent.line(("overrides", profile, key)))
    config["name"] = str(c["name"])
    origins["name"] = (intent.file, intent.line(("name",)))
    for key, value in contract_check(project, env, c, config).items():
        config[key] = value
        origins[key] = ("src/fraudctl/contract.py", None)
    return RenderedConnector(str(c["name"]), intent, template, config, origins)


def contract_check(project: Project, env: Settings, c: dict[str, Any], config: dict[str, str]) -> dict[str, str]:
    """A sink that dead-letters its topic's bad records (topics.yaml: `dead_letters` names its own
    dead-letter topic) checks each record against the topic's record contract first, with the
    in-repo ContractCheck transform: a record that breaks it is dead-lettered with the reason
    instead of stored. The schema is the one the schema registry publishes, without its prose."""
    from fraudctl.contract import MODEL_RULE, json_schema
    from fraudctl.deploy.providers.schema_subjects import RECORDS
    from fraudctl.render.context import rule_views

    declared = project.declared_topics()
    topics = [str(t) for t in c.get("topics") or []]
    dlq = config.get("errors.deadletterqueue.topic.name")
    if len(topics) != 1 or topics[0] not in RECORDS or not dlq:
        return {}
    if (declared.get(topics[0]) or {}).get("dead_letters") != dlq:
        return {}

    def prose_free(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: prose_free(v) for k, v in node.items() if k not in ("title", "description", "default")}
        if isinstance(node, list):
            return [prose_free(v) for v in node]
        return node

    schema = prose_free(json_schema(RECORDS[topics[0]]))
    out = {
        "transforms.contract.type": "io.github.fraudpipeline.connect.transforms.ContractCheck",
        "transforms.contract.schema": json.dumps(schema, sort_keys=True, separators=(",", ":")),
    }
    if "rule" in schema.get("properties", {}):
        # An alert's rule is a deployed rule, or the model (contract.MODEL_RULE).
        names = [str(r["name"]) for r in rule_views(project, env)]
        out["transforms.contract.choices"] = "rule=" + "|".join([*names, MODEL_RULE])
    chain = [t for t in config.get("transforms", "").split(",") if t]
    out["transforms"] = ",".join(["contract", *chain])
    return out
