"""`fraudctl local fetch | up | down | status`: the embedded local stack."""

from __future__ import annotations

import sys
import time

import click
from rich.table import Table

from fraudctl.cli.output import (
    EXIT_DEGRADED,
    StackProgress,
    emit_json,
    err_console,
    fail,
    out_console,
    output_option,
)
from fraudctl.config.environment import EnvironmentError_, load_environment
from fraudctl.localstack import artifacts, stack
from fraudctl.localstack.layout import Layout
from fraudctl.localstack.services import StackError

ENV_NAME = "local"  # the embedded stack is always described by environments/local.yaml


@click.group("local")
def local() -> None:
    """The embedded local stack: real services as plain processes on loopback, state under .local/."""


@local.command("fetch")
@output_option
def fetch(output: str) -> None:
    """Download and unpack every artifact of the stack (idempotent; `make setup` runs it)."""
    layout = Layout.default()
    t0 = time.monotonic()
    steps: list[str] = []

    def report(msg: str) -> None:
        steps.append(msg)
        err_console.print(f"  {msg}")

    try:
        artifacts.fetch_all(layout, report)
        artifacts.install_all(layout, report)
    except artifacts.ArtifactError as exc:
        fail(str(exc), output)
    if output == "json":
        emit_json({"ok": True, "steps": steps, "seconds": round(time.monotonic() - t0, 1)})


@local.command("up")
@output_option
@click.option(
    "--timeout-scale",
    type=float,
    default=1.0,
    show_default=True,
    help="Multiply every service's start timeout (slow machines).",
)
def up(output: str, timeout_scale: float) -> None:
    """Start every service that is not already running and wait until each is healthy."""
    t0 = time.monotonic()
    try:
        env = load_environment(ENV_NAME)
        err_console.print(f"Starting the local stack (environments/{ENV_NAME}.yaml)")
        results = stack.up(env, Layout.default(), StackProgress(), timeout_scale)
    except (StackError, EnvironmentError_) as exc:
        fail(str(exc), output)
    seconds = round(time.monotonic() - t0, 1)
    if output == "json":
        emit_json({"ok": True, "seconds": seconds, "services": [r.to_json() for r in results]})
    else:
        started = [r.name for r in results if r.started]
        err_console.print(
            f"Local stack up in {seconds}s ({len(started)} started, {len(results) - len(started)} already running)"
        )


@local.command("down")
@output_option
@click.option("--purge", is_flag=True, help="Also delete the stack's data, logs and generated secrets.")
def down(output: str, purge: bool) -> None:
    """Stop the services the stack started (and nothing else)."""
    try:
        env = load_environment(ENV_NAME)
        stopped = stack.down(env, Layout.default(), StackProgress(), purge)
    except (StackError, EnvironmentError_) as exc:
        fail(str(exc), output)
    if output == "json":
        emit_json({"ok": True, "stopped": stopped, "purged": purge})
    else:
        err_console.print(f"Stopped {len(stopped)} service(s)" + (" and purged .local data" if purge else ""))


@local.command("status")
@output_option
def status(output: str) -> None:
    """Each service: up/down, pid, ports, health. Exit 3 when any is down or unhealthy."""
    try:
        results = stack.status(load_environment(ENV_NAME), Layout.default())
    except (StackError, EnvironmentError_) as exc:
        fail(str(exc), output)
    all_up = all(r.state in ("up", "not configured") for r in results)
    if output == "json":
        emit_json({"ok": all_up, "services": [r.to_json() for r in results]})
    else:
        table = Table("service", "state", "pid", "ports", "health", "restarted", "log")
        for r in results:
            colour = "green" if r.state == "up" else "red"
            table.add_row(
                r.name,
                f"[{colour}]{r.state}[/{colour}]",
                str(r.pid or "-"),
                ",".join(map(str, r.ports)) or "-",
                r.detail,
                f"{r.restarts}x, last {r.last_restart}" if r.restarts else "-",
                r.log,
            )
        out_console.print(table)
    if not all_up:
        sys.exit(EXIT_DEGRADED)
