"""Everything one environment renders to: topic specs, connector configs, ksqlDB SQL, Flink SQL.

`render_environment` returns artifacts (path in the output folder -> text) and the problems met;
`write` puts them in a folder, byte-identical for the same input."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fraudctl.config.project import Project
from fraudctl.config.settings import SettingsError
from fraudctl.config.source import Problem
from fraudctl.contract import MODEL_RULE, records
from fraudctl.ksqldb import statements
from fraudctl.render import jinja
from fraudctl.render.connectors import RenderedConnector, render_connector
from fraudctl.render.context import env_view, rule_views, stream_view, topic_views

ENGINES = ("ksql", "flink")
# The topics the stream engine's pipeline reads or writes: a scenario run or a benchmark gives each
# a throw-away name in the render context and renders the same SQL against them.
ENGINE_TOPICS = (
    "transactions",
    "blacklist",
    "detections",
    "transactions-enriched",
    "late-transactions",
    "user-profiles",
    "dlq-stream",
)


@dataclass(frozen=True)
class Rendered:
    env: str
    files: dict[str, str]
    connectors: list[RenderedConnector]
    topics: dict[str, dict[str, Any]]


# How the SQL runs: continuously when deployed; bounded (read to the end, then stop) for scenarios.
STREAM_RUN: dict[str, str] = {"mode": "stream", "group": "fraud-flink-detections"}


def sql_context(
    project: Project,
    env_name: str,
    params: dict[str, dict[str, Any]] | None = None,
    run: dict[str, str] | None = None,
    topic_names: dict[str, str] | None = None,
    ksql_prefix: str | None = None,
) -> dict[str, Any]:
    """`topic_names` maps declared topics to the names a run uses instead (scenarios and benchmarks
    run on fresh topics of their own); `ksql_prefix` names the ksqlDB objects of a run apart from
    every other pipeline on the same server (default: the environment's `ksqldb.prefix`)."""
    env = env_view(project, env_name)
    topics = topic_views(project, env)
    for name, actual in (topic_names or {}).items():
        topics[name] = {**topics[name], "name": actual}
    return {
        "env": env,
        "topics": topics,
        "rules": rule_views(project, env, params),
        "stream": stream_view(env),
        "run": run or STREAM_RUN,
        "records": records(),
        "model_rule": MODEL_RULE,  # the rule name of a model alert
        "ksql_prefix": ksql_prefix if ksql_prefix is not None else (env.ksqldb.prefix if env.ksqldb else ""),
    }


def render_sql(project: Project, engine: str, context: dict[str, Any]) -> str:
    sql = jinja.render(project.templates, f"{engine}/pipeline.sql.j2", context)
    if engine == "ksql" and context.get("ksql_prefix"):
        sql = statements.prefixed(sql, str(context["ksql_prefix"]))
    return sql


def render_environment(project: Project, env_name: str) -> tuple[Rendered, list[Problem]]:
    problems: list[Problem] = []
    files: dict[str, str] = {}
    try:
        env = env_view(project, env_name)
    except SettingsError as exc:
        return Rendered(env_name, files, [], {}), [Problem(f"environments/{env_name}.yaml", None, "", str(exc))]
    topics = topic_views(project, env)
    files["topics.json"] = _json(list(topics.values()))
    connectors: list[RenderedConnector] = []
    for intent in project.connectors:
        if not isinstance(intent.value, dict) or intent.value.get("enabled", True) is False:
            continue
        try:
            rendered = render_connector(project, intent, env)
        except jinja.RenderError as exc:
            problems.append(exc.problem)
            continue
        connectors.append(rendered)
        files[f"connectors/{rendered.name}.json"] = _json(rendered.to_json())
    context = sql_context(project, env_name)
    for engine in ENGINES:
        try:
            files[f"{engine}/pipeline.sql"] = render_sql(project, engine, context)
        except jinja.RenderError as exc:
            problems.append(exc.problem)
    return Rendered(env_name, files, connectors, topics), problems


def _json(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def write(rendered: Rendered, out: Path) -> list[Path]:
    """Replaces `out` with exactly the rendered files (so a removed connector leaves no stale file)."""
    if out.exists():
        shutil.rmtree(out)
    written = []
    for rel, text in sorted(rendered.files.items()):
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(path)
    return written
