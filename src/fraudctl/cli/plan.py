"""`fraudctl plan --env NAME [--prune] [--output json]`: exit 0 nothing to do, 2 changes, 1 error."""

from __future__ import annotations

import sys

import click

from fraudctl.cli.deploy_common import deployment, print_plan, recreate_option
from fraudctl.cli.output import EXIT_ERROR, EXIT_OK, EXIT_USAGE, emit_json, fail, output_option
from fraudctl.deploy.providers.connect_rest import ConnectError

EXIT_CHANGES = EXIT_USAGE  # Terraform's -detailed-exitcode: 2 means "changes pending"


@click.command("plan")
@click.option("--env", "env_name", required=True)
@click.option("--prune", is_flag=True, help="Include deletions of managed objects no longer in the repo.")
@recreate_option
@output_option
def plan(env_name: str, prune: bool, recreate_from: str | None, output: str) -> None:
    """Show every create, update (key by key), replace, delete and unchanged object."""
    with deployment(env_name, output, recreate_from) as (dep, state):
        try:
            result = dep.plan(state, prune)
        except (ConnectError, OSError, RuntimeError, ValueError) as exc:
            fail(f"reading the live state failed: {exc}", output)
    if output == "json":
        emit_json({"ok": not result.refused, **result.to_json()})
    else:
        print_plan(result)
    if result.refused:
        # The whole plan was printed, refusals with their reasons among it: nothing can be applied.
        sys.exit(EXIT_ERROR)
    sys.exit(EXIT_CHANGES if result.has_changes else EXIT_OK)
