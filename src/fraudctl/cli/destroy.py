"""`fraudctl destroy --env NAME [--auto-approve]`: remove everything the repo manages, in reverse
order. Tables in PostgreSQL are never dropped."""

from __future__ import annotations

import sys

import click

from fraudctl.cli.deploy_common import deployment, print_plan, progress
from fraudctl.cli.output import EXIT_ERROR, EXIT_OK, emit_json, fail, output_option
from fraudctl.deploy.engine import PlanNotApplied
from fraudctl.deploy.model import Plan
from fraudctl.deploy.state import LockHeld


@click.command("destroy")
@click.option("--env", "env_name", required=True)
@click.option("--auto-approve", is_flag=True)
@output_option
def destroy(env_name: str, auto_approve: bool, output: str) -> None:
    """Delete every connector, job and topic fraudctl recorded for the environment."""
    with deployment(env_name, output) as (dep, state):

        def confirm(plan: Plan) -> bool:
            if output == "text":
                print_plan(plan)
            return auto_approve or (sys.stdin.isatty() and click.confirm(f"Destroy {env_name}?", err=True))

        try:
            plan, problems = dep.reconcile(state, progress, 60, prune=True, destroy=True, confirm=confirm)
        except PlanNotApplied as exc:
            fail(str(exc).replace("not applied", "not destroyed"), output, plan=exc.plan.to_json())
        except LockHeld as exc:
            fail(str(exc), output)
    if output == "json":
        emit_json({"ok": not problems, "plan": plan.to_json(), "problems": problems})
    sys.exit(EXIT_OK if not problems else EXIT_ERROR)
