"""`fraudctl validate`: every offline check, all problems of one run reported together."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fraudctl.config import schema_check
from fraudctl.config.project import Project, load_project
from fraudctl.config.rules import RULES, param_problems
from fraudctl.config.secrets import plaintext_secret
from fraudctl.config.source import Problem
from fraudctl.render.connectors import SINK_KINDS
from fraudctl.render.pipeline import ENGINES, Rendered, render_environment
from fraudctl.validate import connect_config, sql

# What each connector kind must say about its target and key.
KIND_TARGET_KEYS: dict[str, tuple[str, ...]] = {
    "s3-archive": (),
    "search-alerts": ("index",),
    "postgres-upsert": ("table",),
    "postgres-reference-source": ("table", "key_column"),
}
KIND_NEEDS_KEY = frozenset({"search-alerts", "postgres-upsert"})


@dataclass
class Report:
    problems: list[Problem] = field(default_factory=list)
    checked: Counter[str] = field(default_factory=Counter)
    rendered: dict[str, Rendered] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "errors": [p.to_json() for p in self.problems], "checked": dict(self.checked)}


def _topics(project: Project) -> set[str]:
    if project.topics is None or not isinstance(project.topics.value, dict):
        return set()
    return set((project.topics.value.get("topics") or {}).keys())


def _files(project: Project, report: Report) -> bool:
    """Schema checks of every parsed file; False when the structure is too broken to render."""
    before = len(report.problems)
    for name, doc in project.environments.items():
        report.checked["environment files"] += 1
        report.problems += schema_check.check(doc, project.schema("environment.schema.yaml"))
        if isinstance(doc.value, dict) and doc.value.get("name") not in (None, name):
            report.problems.append(
                Problem(
                    doc.file,
                    doc.line(("name",)),
                    "name",
                    f"must equal the file name {name!r}, got {doc.value.get('name')!r}",
                )
            )
    if project.topics is not None:
        report.checked["topic files"] += 1
        report.problems += schema_check.check(project.topics, project.schema("topics.schema.yaml"))
    for doc in project.connectors:
        report.checked["connector files"] += 1
        report.problems += schema_check.check(doc, project.schema("connector.schema.yaml"))
    for doc in project.detections:
        report.checked["detection files"] += 1
        report.problems += schema_check.check(doc, project.schema("detection.schema.yaml"))
    return len(report.problems) == before


def _detections(project: Project, report: Report) -> None:
    seen_rules: dict[str, str] = {}
    seen_ids: dict[str, str] = {}
    for doc in project.detections:
        d = doc.value if isinstance(doc.value, dict) else {}
        rule, rule_id = d.get("rule"), d.get("id")
        if rule is None:
            continue
        if rule not in RULES:
            report.problems.append(
                Problem(
                    doc.file,
                    doc.line(("rule",)),
                    "rule",
                    f"unknown rule {rule!r} (known: {', '.join(sorted(RULES))})",
                )
            )
            continue
        if Path(doc.file).stem != rule:
            report.problems.append(
                Problem(doc.file, doc.line(("rule",)), "rule", f"must equal the file name {Path(doc.file).stem!r}")
            )
        for other, seen in ((rule, seen_rules), (rule_id, seen_ids)):
            if other in seen:
                report.problems.append(
                    Problem(
                        doc.file,
                        doc.line(("id",) if seen is seen_ids else ("rule",)),
                        "id" if seen is seen_ids else "rule",
                        f"duplicate of {seen[other]}",
                    )
                )
            seen[str(other)] = doc.file
        for param, message in param_problems(rule, d.get("params") or {}, require_all=True):
            report.problems.append(Problem(doc.file, doc.line(("params", param)), f"params.{param}", message))
        for engine in ENGINES:
            template = project.templates / engine / "rules" / f"{rule}.sql.j2"
            report.checked["rule templates"] += 1
            if not template.is_file():
                report.problems.append(
                    Problem(
                        doc.file,
                        doc.line(("rule",)),
                        "rule",
                        f"no {engine} template: templates/{engine}/rules/{rule}.sql.j2",
                    )
                )
    for env in project.environments.values():
        for rule, params in ((env.value or {}).get("detections") or {}).items():
            path = ("detections", rule)
            if rule not in RULES:
                report.problems.append(
                    Problem(
                        env.file,
                        env.line(path),
                        f"detections.{rule}",
                        f"unknown rule (known: {', '.join(sorted(RULES))})",
                    )
                )
            elif isinstance(params, dict):
                for param, message in param_problems(rule, params, require_all=False):
                    report.problems.append(
                        Problem(env.file, env.line((*path, param)), f"detections.{rule}.{param}", message)
                    )


def _connectors(project: Project, report: Report, topics: set[str]) -> None:
    # The dead-letter topics Connect writes: a sink may go without one only for topics whose bad
    # records another component dead-letters.
    declared = project.declared_topics()
    sink_dlqs = {
        str(((d.value or {}).get("errors") or {}).get("dlq_topic"))
        for d in project.connectors
        if isinstance(d.value, dict) and isinstance(d.value.get("errors"), dict) and "dlq_topic" in d.value["errors"]
    }
    names: dict[str, str] = {}
    for doc in project.connectors:
        c = doc.value if isinstance(doc.value, dict) else {}
        name, kind = c.get("name"), c.get("kind")
        if name is None or kind is None:
            continue
        if name in names:
            report.problems.append(
                Problem(doc.file, doc.line(("name",)), "name", f"duplicate connector name (also in {names[name]})")
            )
        names[name] = doc.file
        if Path(doc.file).stem != name:
            report.problems.append(
                Problem(doc.file, doc.line(("name",)), "name", f"must equal the file name {Path(doc.file).stem!r}")
            )
        for i, topic in enumerate(c.get("topics") or []):
            if topic not in topics:
                report.problems.append(
                    Problem(
                        doc.file,
                        doc.line(("topics", i)),
                        f"topics[{i}]",
                        f"topic {topic!r} is not declared in topics.yaml",
                    )
                )
        for key in KIND_TARGET_KEYS.get(kind, ()):
            if key not in (c.get("target") or {}):
                report.problems.append(
                    Problem(
                        doc.file,
                        doc.line(("target",)),
                        f"target.{key}",
                        f"missing required key for kind {kind}",
                    )
                )
        if kind in KIND_NEEDS_KEY and "key" not in c:
            report.problems.append(
                Problem(
                    doc.file,
                    doc.line(()),
                    "key",
                    f"missing required key for kind {kind} (the upsert/document id)",
                )
            )
        if kind in SINK_KINDS:
            errors = c.get("errors")
            owners = {t: (declared.get(t) or {}).get("dead_letters") for t in c.get("topics") or [] if t in topics}
            elsewhere = {t: o for t, o in owners.items() if o and o != (errors or {}).get("dlq_topic")}
            if not isinstance(errors, dict) or "tolerance" not in errors:
                report.problems.append(
                    Problem(doc.file, doc.line(("errors",)), "errors.tolerance", "every sink needs an error tolerance")
                )
            elif "dlq_topic" not in errors and (not owners or set(owners.values()) & (sink_dlqs | {None})):
                report.problems.append(
                    Problem(
                        doc.file,
                        doc.line(("errors",)),
                        "errors.dlq_topic",
                        "every sink needs a dead-letter topic, unless another reader dead-letters its topics' "
                        "bad records (topics.yaml: dead_letters)",
                    )
                )
            elif "dlq_topic" in errors and elsewhere:
                topic, owner = sorted(elsewhere.items())[0]
                report.problems.append(
                    Problem(
                        doc.file,
                        doc.line(("errors", "dlq_topic")),
                        "errors.dlq_topic",
                        f"bad records of {topic!r} are dead-lettered in {owner!r} (topics.yaml: dead_letters); "
                        "a second dead letter here would count each twice: remove errors.dlq_topic",
                    )
                )
            elif "dlq_topic" in errors and errors["dlq_topic"] not in topics:
                report.problems.append(
                    Problem(
                        doc.file,
                        doc.line(("errors", "dlq_topic")),
                        "errors.dlq_topic",
                        f"topic {errors['dlq_topic']!r} is not declared in topics.yaml",
                    )
                )
        for profile, values in (c.get("overrides") or {}).items():
            for key, value in (values or {}).items():
                if plaintext_secret(key, value):
                    report.problems.append(
                        Problem(
                            doc.file,
                            doc.line(("overrides", profile, key)),
                            f"overrides.{profile}.{key}",
                            "plaintext secret: must be a ${env:NAME} or ${file:PATH:KEY} reference",
                        )
                    )


def _environment_refs(project: Project, report: Report, topics: set[str]) -> None:
    for env in project.environments.values():
        for topic in ((env.value or {}).get("topics") or {}).get("overrides") or {}:
            if topic not in topics:
                report.problems.append(
                    Problem(
                        env.file,
                        env.line(("topics", "overrides", topic)),
                        f"topics.overrides.{topic}",
                        "topic is not declared in topics.yaml",
                    )
                )


def _render(project: Project, report: Report, env_name: str, topics: set[str]) -> None:
    rendered, problems = render_environment(project, env_name)
    report.rendered[env_name] = rendered
    report.problems += problems
    profile = str((project.environments[env_name].value or {}).get("connector_profile"))  # raw: may not fit the model
    for connector in rendered.connectors:
        report.checked["rendered connector configs"] += 1
        report.problems += connect_config.check(connector, project.root / "schemas", profile)
    for engine in ENGINES:
        text = rendered.files.get(f"{engine}/pipeline.sql")
        if text is None:
            continue
        found, count = sql.check(text, f"rendered/{env_name}/{engine}/pipeline.sql", topics)
        report.problems += found
        report.checked["sql statements"] += count


def _dedupe(problems: list[Problem]) -> list[Problem]:
    """The same template problem repeats for every environment; report it once."""
    return list(dict.fromkeys(problems))


def validate(root: Path, env_names: list[str] | None = None) -> Report:
    """Validates the repo at `root` for the given environments (all when None)."""
    report = Report()
    project, problems = load_project(root)
    report.problems += problems
    structure_ok = _files(project, report)
    topics = _topics(project)
    _detections(project, report)
    _connectors(project, report, topics)
    _environment_refs(project, report, topics)
    names = project.environment_names() if env_names is None else env_names
    for name in names:
        if name not in project.environments:
            known = ", ".join(project.environment_names()) or "none"
            report.problems.append(
                Problem(f"environments/{name}.yaml", None, "", f"unknown environment {name!r} (known: {known})")
            )
        elif structure_ok:
            report.checked["environments rendered"] += 1
            _render(project, report, name, topics)
    report.problems = _dedupe(report.problems)
    return report
