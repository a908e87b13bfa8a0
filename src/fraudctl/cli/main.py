"""Entry point: `fraudctl`."""

from __future__ import annotations

import os
import sys

import click

from fraudctl import __version__
from fraudctl.cli.apply import apply
from fraudctl.cli.bench import bench
from fraudctl.cli.demo import demo
from fraudctl.cli.destroy import destroy
from fraudctl.cli.local import local
from fraudctl.cli.model import model
from fraudctl.cli.plan import plan
from fraudctl.cli.query import query
from fraudctl.cli.render import render
from fraudctl.cli.scenarios import scenarios
from fraudctl.cli.status import restart_failed, status
from fraudctl.cli.validate import validate


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="fraudctl")
def cli() -> None:
    """Render, validate, deploy and query the Kafka fraud-detection pipeline."""


cli.add_command(local)
cli.add_command(demo)
cli.add_command(render)
cli.add_command(validate)
cli.add_command(bench)
cli.add_command(scenarios)
for command in (plan, apply, status, restart_failed, destroy, model, query):
    cli.add_command(command)


def main() -> None:
    try:
        cli()
    except Exception as exc:  # noqa: BLE001 - last line of defence: one clear line, exit 1
        if os.environ.get("FRAUDCTL_DEBUG") == "1":
            raise
        print(f"error: {type(exc).__name__}: {exc} (FRAUDCTL_DEBUG=1 shows the traceback)", file=sys.stderr)
        sys.exit(1)
