"""What plan, apply, status and destroy share: loading an environment for deployment, and printing
a plan (secrets only ever as their reference or masked)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import click

from fraudctl.cli.output import err_console, fail, out_console
from fraudctl.config.project import load_project
from fraudctl.deploy.engine import DeployError, Deployment
from fraudctl.deploy.model import Plan
from fraudctl.deploy.state import StateStore
from fraudctl.localstack import secrets as local_secrets
from fraudctl.localstack.layout import Layout
from fraudctl.paths import repo_root

# ksqlDB statements that cannot change in place are re-created only when this is given.
recreate_option = click.option(
    "--recreate-from",
    type=click.Choice(["earliest", "latest"]),
    default=None,
    help="ksqlDB: drop and re-create statements that cannot change in place, reading from this offset.",
)

SYMBOL = {"create": "+", "update": "~", "replace": "-/+", "delete": "-", "orphan": "?", "noop": " "}


@contextmanager
def deployment(env_name: str, output: str, recreate_from: str | None = None) -> Iterator[tuple[Deployment, StateStore]]:
    project, problems = load_project(repo_root())
    if problems:
        fail(
            "the repo has problems (run `fraudctl validate`): " + "; ".join(p.text() for p in problems),
            output,
        )
    if env_name not in project.environments:
        fail(f"unknown environment {env_name!r} (known: {', '.join(project.environment_names())})", output)
    if project.on_local_stack(env_name):
        local_secrets.export(Layout.default().secrets_file)
    try:
        dep = Deployment.build(project, env_name, recreate_from)
        state = StateStore(env_name, dep.env)
    except (DeployError, KeyError) as exc:
        fail(str(exc), output)
    try:
        yield dep, state
    finally:
        state.close()


def _value(v: object) -> str:
    return json.dumps(v) if not isinstance(v, str) else json.dumps(v)


def print_plan(plan: Plan, verbose_noops: bool = False) -> None:
    out_console.print(f"Plan for environment {plan.env}:", markup=False)
    for change in plan.changes:
        if change.op == "noop" and not verbose_noops:
            continue
        note = f"  ({change.note})" if change.note else ""
        out_console.print(f"  {SYMBOL[change.op]} {change.kind} {change.name}{note}", markup=False)
        for f in change.fields:
            shown = f.to_json()
            if change.op == "create":
                out_console.print(f"        {f.key}: {_value(shown['after'])}", markup=False)
            elif change.op == "delete":
                out_console.print(f"        {f.key}: {_value(shown['before'])}", markup=False)
            else:
                out_console.print(
                    f"        {f.key}: {_value(shown['before'])} -> {_value(shown['after'])}", markup=False
                )
    s = plan.summary()
    out_console.print(
        f"Plan: {s['create']} to create, {s['update']} to update, {s['replace']} to replace, "
        f"{s['delete']} to delete, {s['noop']} unchanged, {s['orphan']} not managed any more.",
        markup=False,
    )


def progress(obj: str, state: str, detail: str) -> None:
    err_console.print(f"  {obj:<40} {state:<9} {detail}", markup=False)
