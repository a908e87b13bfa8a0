"""`fraudctl status --env NAME [--output json]` and `fraudctl restart-failed --env NAME`.

status exits 0 when everything runs and matches the repo, 3 otherwise, 1 on error."""

from __future__ import annotations

import sys

import click

from fraudctl.cli.deploy_common import deployment
from fraudctl.cli.output import EXIT_DEGRADED, EXIT_OK, emit_json, fail, out_console, output_option
from fraudctl.deploy import status as live
from fraudctl.deploy.providers.connect_rest import ConnectError


@click.command("status")
@click.option("--env", "env_name", required=True)
@output_option
def status(env_name: str, output: str) -> None:
    """Connectors and tasks (with failure traces), the Flink job, consumer lag, drift from the repo."""
    with deployment(env_name, output) as (dep, state):
        try:
            data = live.collect(dep, state)
        except (ConnectError, OSError, RuntimeError) as exc:
            fail(f"reading the live state failed: {exc}", output)
    ok = data["healthy"] and data["matches_repo"]
    if output == "json":
        emit_json({"ok": ok, **data})
    else:
        for c in data["connectors"]:
            tasks = ", ".join(f"{t['id']}:{t['state']}" for t in c["tasks"]) or "-"
            mark = "" if c["managed"] else "  (not managed by this repo)"
            out_console.print(f"connector {c['name']:<32} {c['state']:<10} tasks {tasks}{mark}", markup=False)
            for failure in c["failures"]:
                out_console.print("    " + failure.replace("\n", "\n    "), markup=False)
        label = "flink job" if data["engine"] == "flink" else "ksql query"
        for j in data["jobs"]:
            out_console.print(
                f"{label} {j['name']:<32} {j['state']:<10} {j['job_id']}"
                f"{'' if j['current'] else '  (not the current SQL)'}",
                markup=False,
            )
        if not data["jobs"]:
            out_console.print(f"{label} detections: not running", markup=False)
        for group, lag in data["lag"].items():
            out_console.print(f"lag {group:<38} {'no offsets yet' if lag is None else lag}", markup=False)
        out_console.print(
            "live state matches the repo"
            if data["matches_repo"]
            else f"{len(data['pending_changes'])} change(s) pending: run `fraudctl plan --env {env_name}`",
            markup=False,
        )
    sys.exit(EXIT_OK if ok else EXIT_DEGRADED)


@click.command("restart-failed")
@click.option("--env", "env_name", required=True)
@output_option
def restart_failed(env_name: str, output: str) -> None:
    """Restart only failed connectors and failed tasks."""
    with deployment(env_name, output) as (dep, _state):
        try:
            restarted = live.restart_failed(dep)
        except ConnectError as exc:
            fail(str(exc), output)
    if output == "json":
        emit_json({"ok": True, "restarted": restarted})
    else:
        out_console.print("restarted: " + (", ".join(restarted) or "nothing (no failure)"), markup=False)
