"""`fraudctl apply --env NAME [--prune] [--auto-approve] [--timeout S] [--output json]`."""

from __future__ import annotations

import sys

import click

from fraudctl.cli.deploy_common import deployment, print_plan, progress, recreate_option
from fraudctl.cli.output import EXIT_ERROR, EXIT_OK, emit_json, err_console, fail, output_option
from fraudctl.deploy.providers.connect_rest import ConnectError
from fraudctl.deploy.providers.ksql_statements import KsqlPlanError
from fraudctl.deploy.state import LockHeld


@click.command("apply")
@click.option("--env", "env_name", required=True)
@click.option("--prune", is_flag=True, help="Also delete managed objects no longer in the repo.")
@click.option("--auto-approve", is_flag=True, help="Do not ask for confirmation (CI).")
@click.option(
    "--timeout",
    type=float,
    default=300,
    show_default=True,
    help="Seconds to wait for every connector, task and job to be RUNNING.",
)
@recreate_option
@output_option
def apply(
    env_name: str, prune: bool, auto_approve: bool, timeout: float, recreate_from: str | None, output: str
) -> None:
    """Apply the plan in dependency order and wait until everything runs. Exit 0 ok, 1 error."""
    with deployment(env_name, output, recreate_from) as (dep, state):
        try:
            with state.lock():
                plan = dep.plan(state, prune)
                if output == "text":
                    print_plan(plan)
                confirmed = auto_approve or (sys.stdin.isatty() and click.confirm("Apply these changes?", err=True))
                if plan.has_changes and not confirmed:
                    fail("not applied (confirm interactively, or pass --auto-approve)", output)
                problems = dep.apply(state, plan, progress, timeout)
        except LockHeld as exc:
            fail(str(exc), output)
        except KsqlPlanError as exc:
            fail(str(exc), output)
        except (ConnectError, OSError, RuntimeError, ValueError) as exc:
            fail(f"apply failed: {exc}", output)
    if output == "json":
        emit_json({"ok": not problems, "plan": plan.to_json(), "problems": problems})
    else:
        for problem in problems:
            err_console.print(problem, markup=False, soft_wrap=True)
        err_console.print("Apply complete." if not problems else f"{len(problems)} problem(s) after apply.")
    sys.exit(EXIT_OK if not problems else EXIT_ERROR)
