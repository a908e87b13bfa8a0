"""`fraudctl validate [--env NAME | --all-envs] [--online] [--output json]`: offline checks for CI.

Exit 0 when valid, 1 when not, 2 for a usage error."""

from __future__ import annotations

import sys
import time

import click

from fraudctl.cli.output import EXIT_ERROR, EXIT_OK, emit_json, out_console, output_option
from fraudctl.paths import repo_root
from fraudctl.validate.online import validate_online
from fraudctl.validate.run import validate as run_validate


@click.command("validate")
@click.option("--env", "env_names", multiple=True, help="Environment(s) to validate (repeatable).")
@click.option("--all-envs", is_flag=True, help="Validate every environment (the default when no --env).")
@click.option(
    "--online",
    is_flag=True,
    help="Also ask the environment's Connect worker to validate each rendered connector.",
)
@output_option
def validate(env_names: tuple[str, ...], all_envs: bool, online: bool, output: str) -> None:
    """Check every file, template and reference without any service (unless --online)."""
    if env_names and all_envs:
        raise click.UsageError("give --env NAME or --all-envs, not both")
    t0 = time.monotonic()
    report = run_validate(repo_root(), list(env_names) or None)
    if online and report.ok:
        for env_name, rendered in report.rendered.items():
            report.problems += validate_online(repo_root(), env_name, rendered)
            report.checked["connectors validated online"] += len(rendered.connectors)
    data = report.to_json()
    data["seconds"] = round(time.monotonic() - t0, 3)
    if output == "json":
        emit_json(data)
    else:
        for problem in report.problems:
            out_console.print(problem.text(), markup=False, soft_wrap=True, highlight=False)
        counts = ", ".join(f"{v} {k}" for k, v in data["checked"].items())
        verdict = "valid" if report.ok else f"{len(report.problems)} error(s)"
        out_console.print(f"{verdict} ({counts})", markup=False, soft_wrap=True)
    sys.exit(EXIT_OK if report.ok else EXIT_ERROR)
