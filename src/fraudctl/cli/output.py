"""Shared output conventions: `--output text|json`, progress on stderr, and exit codes.

Exit codes (every command): 0 success; 1 error; 2 usage error (bad option or argument);
`plan` also uses 2 for "changes pending", as Terraform's -detailed-exitcode does;
`local status` uses 3 when a service is down or unhealthy."""

from __future__ import annotations

import json
import sys
from typing import Any

import click
from rich.console import Console

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_DEGRADED = 3

output_option = click.option(
    "--output",
    "-o",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text for people, json for CI and scripts.",
)

# Progress and human messages go to stderr so that stdout carries only the result (JSON stays parseable).
err_console = Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else 200)
# Wide when piped, so tables are not folded into unreadable columns in CI logs.
out_console = Console(highlight=False, width=None if sys.stdout.isatty() else 200)


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def fail(message: str, output: str, code: int = EXIT_ERROR, **extra: Any) -> None:
    """Reports an error the same way in both output modes and exits."""
    if output == "json":
        emit_json({"ok": False, "error": message, **extra})
    else:
        err_console.print(f"[red]error:[/red] {message}", markup=True, soft_wrap=True)
    sys.exit(code)


class StackProgress:
    """One line per state change on stderr; a line every 10 s while a service is still starting."""

    def __init__(self) -> None:
        self.last: dict[str, tuple[str, float]] = {}

    def __call__(self, name: str, state: str, waited: float, detail: str) -> None:
        prev = self.last.get(name)
        if prev and prev[0] == state and state == "starting" and waited - prev[1] < 10:
            return
        self.last[name] = (state, waited)
        colour = {"up": "green", "already up": "green", "stopped": "yellow"}.get(state, "cyan")
        suffix = f" after {waited:.1f}s" if waited else ""
        err_console.print(f"  [{colour}]{name:<18} {state}{suffix}[/{colour}]  [dim]{detail}[/dim]", markup=True)
