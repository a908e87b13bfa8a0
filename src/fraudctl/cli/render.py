"""`fraudctl render --env NAME [--out DIR]`: write every rendered artifact of one environment."""

from __future__ import annotations

from pathlib import Path

import click

from fraudctl.cli.output import emit_json, err_console, fail, output_option
from fraudctl.config.project import load_project
from fraudctl.paths import repo_root
from fraudctl.render.pipeline import render_environment, write


@click.command("render")
@click.option("--env", "env_name", required=True, help="Environment name (environments/NAME.yaml).")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Output folder (default: build/rendered/NAME). Its previous content is replaced.",
)
@output_option
def render(env_name: str, out: Path | None, output: str) -> None:
    """Render connector configs, ksqlDB SQL, Flink SQL and topic specs. Exit 1 on any problem."""
    root = repo_root()
    project, problems = load_project(root)
    if env_name not in project.environments:
        fail(
            f"unknown environment {env_name!r} (known: {', '.join(project.environment_names()) or 'none'})",
            output,
        )
    rendered, render_problems = render_environment(project, env_name)
    problems += render_problems
    if problems:
        for p in problems:
            err_console.print(p.text(), markup=False, soft_wrap=True)
        fail(
            f"{len(problems)} problem(s); nothing written (run `fraudctl validate --env {env_name}`)",
            output,
            errors=[p.to_json() for p in problems],
        )
    target = out or root / "build" / "rendered" / env_name
    files = write(rendered, target)
    if output == "json":
        emit_json(
            {
                "ok": True,
                "env": env_name,
                "out": str(target),
                "files": [str(f.relative_to(target)) for f in files],
            }
        )
    else:
        err_console.print(f"Rendered {len(files)} file(s) for {env_name} into {target}")
