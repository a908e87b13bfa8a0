"""Entry point: `fraudctl`."""

from __future__ import annotations

import click

from fraudctl import __version__
from fraudctl.cli.bench import bench
from fraudctl.cli.demo import demo
from fraudctl.cli.local import local
from fraudctl.cli.render import render
from fraudctl.cli.scenarios import scenarios
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


def main() -> None:
    cli()
