"""`fraudctl apply --env NAME [--prune] [--auto-approve] [--plan FILE] [--timeout S] [--output json]`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from fraudctl.cli.deploy_common import deployment, print_plan, progress, recreate_option
from fraudctl.cli.output import EXIT_ERROR, EXIT_OK, emit_json, err_console, fail, output_option
from fraudctl.deploy.engine import PlanNotApplied
from fraudctl.deploy.model import Plan
from fraudctl.deploy.providers.connect_rest import ConnectError
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
@click.option(
    "--plan",
    "saved",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="A plan saved by `plan --output json`: apply only if the live plan is still that one.",
)
@recreate_option
@output_option
def apply(
    env_name: str,
    prune: bool,
    auto_approve: bool,
    timeout: float,
    saved: Path | None,
    recreate_from: str | None,
    output: str,
) -> None:
    """Apply the plan in dependency order and wait until everything runs. Exit 0 ok, 1 error
    (including a saved plan that is stale: the repo or the live state changed since it was made)."""
    expected = _saved_fingerprint(saved, env_name, output) if saved else None

    def confirm(plan: Plan) -> bool:
        if output == "text":
            print_plan(plan)
        return auto_approve or (sys.stdin.isatty() and click.confirm("Apply these changes?", err=True))

    with deployment(env_name, output, recreate_from) as (dep, state):
        try:
            plan, problems = dep.reconcile(state, progress, timeout, prune=prune, confirm=confirm, expected=expected)
        except PlanNotApplied as exc:
            if output == "text" and exc.plan.refused:
                print_plan(exc.plan)
            fail(str(exc), output, plan=exc.plan.to_json())
        except LockHeld as exc:
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


def _saved_fingerprint(path: Path, env_name: str, output: str) -> str:
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        fail(f"{path}: not a plan saved by `fraudctl plan --output json` ({exc})", output)
    if not isinstance(doc, dict) or "fingerprint" not in doc:
        fail(f"{path}: not a plan saved by `fraudctl plan --output json` (no fingerprint)", output)
    if doc.get("env") != env_name:
        fail(f"{path}: a plan for environment {doc.get('env')!r}, not {env_name!r}", output)
    return str(doc["fingerprint"])
