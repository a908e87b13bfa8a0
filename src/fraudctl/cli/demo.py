"""`fraudctl demo`: the main job on the embedded local stack.

What it does today: brings the local stack up, applies the `local` environment (PostgreSQL
tables, topics, the Flink detection job, the connectors), and shows their status. Traffic
generation, scoring and the alert summary are not built yet; the demo says so instead of
pretending."""

from __future__ import annotations

import time

import click

from fraudctl.cli.deploy_common import deployment, progress
from fraudctl.cli.output import StackProgress, emit_json, err_console, fail, out_console, output_option
from fraudctl.config.environment import EnvironmentError_, load_environment
from fraudctl.deploy import status as live
from fraudctl.localstack import stack
from fraudctl.localstack.layout import Layout
from fraudctl.localstack.services import StackError

NOT_YET = ("scoring service and enrichment step", "traffic generator", "live alert table and summary")


@click.command("demo")
@output_option
def demo(output: str) -> None:
    """Start the local stack, apply the local environment, show what runs."""
    t0 = time.monotonic()
    try:
        stack.up(load_environment("local"), Layout.default(), StackProgress())
    except (StackError, EnvironmentError_) as exc:
        fail(str(exc), output)
    with deployment("local", output) as (dep, state):
        with state.lock():
            plan = dep.plan(state, prune=False)
            problems = dep.apply(state, plan, progress, timeout=300)
        data = live.collect(dep, state)
    connectors = {str(c["name"]): str(c["state"]) for c in data["connectors"]}
    jobs = {str(j["name"]): str(j["state"]) for j in data["jobs"]}
    summary: dict[str, object] = {
        "ok": not problems and data["healthy"],
        "seconds": round(time.monotonic() - t0, 1),
        "applied": [c.to_json() for c in plan.writes],
        "problems": problems,
        "connectors": connectors,
        "jobs": jobs,
        "not_built_yet": list(NOT_YET),
    }
    if output == "json":
        emit_json(summary)
        return
    out_console.print(f"Applied {len(plan.writes)} change(s) in {summary['seconds']} s.", markup=False)
    for name, state_ in connectors.items():
        out_console.print(f"  connector {name:<30} {state_}", markup=False)
    for name, state_ in jobs.items():
        out_console.print(f"  flink job {name:<30} {state_}", markup=False)
    for problem in problems:
        err_console.print(problem, markup=False)
    err_console.print("Not built yet, so not part of this demo: " + "; ".join(NOT_YET) + ".")
    err_console.print("Stop the stack with `.venv/bin/fraudctl local down`.")
