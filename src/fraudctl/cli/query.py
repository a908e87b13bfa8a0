"""`fraudctl query`: analysts' questions to the live pipeline, read-only.

    fraudctl query --list
    fraudctl query --env local user-activity --param user_id=U123
    fraudctl query --env local --sql "SELECT rule, COUNT(*) AS n FROM alerts GROUP BY rule"
    fraudctl query --env local live-alerts --limit 10

Exit codes: 0 the query ran (a push query also ends cleanly at --limit, --timeout or Ctrl+C);
1 the engine failed the query, or a pull query passed --timeout; 2 usage: unknown query name,
missing or malformed parameter, or a statement that is not read-only."""

from __future__ import annotations

import csv
import sys
from datetime import UTC, datetime
from typing import Any

import click
from rich.table import Table

from fraudctl.cli.output import EXIT_ERROR, EXIT_USAGE, emit_json, err_console, fail, out_console
from fraudctl.config.project import load_project
from fraudctl.localstack import secrets as local_secrets
from fraudctl.localstack.layout import Layout
from fraudctl.paths import repo_root
from fraudctl.query import library
from fraudctl.query.guard import ReadOnlyError
from fraudctl.query.params import ParamError, parse_pairs
from fraudctl.query.run import Callbacks, Prepared, QueryError, apply_sort, execute, prepare
from fraudctl.render.jinja import RenderError

PULL_TIMEOUT = 120.0


@click.command("query")
@click.argument("name", required=False)
@click.option("--env", "env_name", default="local", show_default=True, help="Environment whose engine runs it.")
@click.option("--param", "-p", "params", multiple=True, metavar="NAME=VALUE", help="A query parameter (repeatable).")
@click.option("--sql", help="An ad-hoc read-only statement instead of a library query.")
@click.option("--push", is_flag=True, help="With --sql on Flink: run it as a push query (rows as they happen).")
@click.option("--limit", type=click.IntRange(min=1), help="Stop after this many rows.")
@click.option("--timeout", type=click.FloatRange(min=1), help="Seconds: a pull query fails past it, a push query ends.")
@click.option("--output", "-o", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True)
@click.option("--list", "list_", is_flag=True, help="Show the query library: names, descriptions, parameters.")
def query(
    name: str | None,
    env_name: str,
    params: tuple[str, ...],
    sql: str | None,
    push: bool,
    limit: int | None,
    timeout: float | None,
    output: str,
    list_: bool,
) -> None:
    """Run a library query (or --sql) on the environment's engine; read-only."""
    mode = "json" if output == "json" else "text"
    project, problems = load_project(repo_root())
    if problems:
        fail("the repo has problems (run `fraudctl validate`): " + problems[0].text(), mode)
    try:
        queries = library.load(project.root)
    except library.LibraryError as exc:
        fail(str(exc), mode)
    if list_:
        _print_library(queries, output)
        return
    if (name is None) == (sql is None):
        fail("give a query name or --sql (see `fraudctl query --list`)", mode, EXIT_USAGE)
    if name is not None and name not in queries:
        fail(f"unknown query {name!r}; the library has: {', '.join(sorted(queries))}", mode, EXIT_USAGE)
    if env_name not in project.environments:
        fail(f"unknown environment {env_name!r} (known: {', '.join(project.environment_names())})", mode, EXIT_USAGE)
    if project.on_local_stack(env_name):
        local_secrets.export(Layout.default().secrets_file)
    try:
        prepared = prepare(
            project, env_name, queries.get(name) if name else None, sql, parse_pairs(params), push, datetime.now(UTC)
        )
    except (ParamError, ReadOnlyError) as exc:
        fail(str(exc), mode, EXIT_USAGE)
    except (QueryError, RenderError) as exc:
        fail(str(exc), mode)
    _run(project, env_name, prepared, limit, timeout, output, mode)


def _run(
    project: Any, env_name: str, prepared: Prepared, limit: int | None, timeout: float | None, output: str, mode: str
) -> None:
    columns: list[str] = []
    rows: list[dict[str, Any]] = []
    streaming = prepared.push and output != "json"
    writer = csv.writer(sys.stdout) if output == "csv" else None

    def on_ready(cols: list[str]) -> None:
        nonlocal columns
        if cols:
            columns = [c.lower() for c in cols]  # known before any row: an empty result still has columns
        if prepared.push:
            err_console.print(f"{prepared.name}: streaming rows (--limit, --timeout or Ctrl+C stops)", markup=False)
        if writer is not None and streaming and cols:
            writer.writerow(cols)
            sys.stdout.flush()

    def on_row(cols: list[str], values: list[Any]) -> None:
        nonlocal columns
        columns = [c.lower() for c in cols]
        row = dict(zip(columns, values, strict=False))
        if streaming:
            if writer is not None:
                writer.writerow([_cell(row.get(c)) for c in columns])
            else:
                out_console.print("  ".join(f"{c}={_cell(row.get(c))}" for c in columns), markup=False, soft_wrap=True)
            sys.stdout.flush()
        rows.append(row)

    if not prepared.push:
        err_console.print(f"{prepared.name}: running on {prepared.engine}", markup=False)
    effective_timeout = timeout if timeout is not None else (None if prepared.push else PULL_TIMEOUT)
    try:
        execute(
            project,
            env_name,
            prepared,
            None if prepared.sort else limit,
            effective_timeout,
            Callbacks(on_ready, on_row),
        )
    except KeyboardInterrupt:
        err_console.print("stopped", markup=False)
    except TimeoutError:
        fail(f"{prepared.name}: no result within {effective_timeout:g} s (--timeout)", mode, EXIT_ERROR)
    except QueryError as exc:
        fail(f"{prepared.name} on {prepared.engine}: {exc}", mode, EXIT_ERROR)
    if prepared.sort:
        rows = apply_sort(rows, prepared.sort)[:limit] if limit else apply_sort(rows, prepared.sort)
    if output == "json":
        emit_json({"ok": True, "query": prepared.name, "engine": prepared.engine, "columns": columns, "rows": rows})
    elif not streaming:
        if writer is not None:
            writer.writerow(columns)
            writer.writerows([[_cell(r.get(c)) for c in columns] for r in rows])
        else:
            table = Table(title=f"{prepared.name} ({len(rows)} row(s))", title_justify="left")
            for c in columns:
                table.add_column(c)
            for r in rows:
                table.add_row(*(_cell(r.get(c)) for c in columns))
            out_console.print(table)


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


def _print_library(queries: dict[str, library.Query], output: str) -> None:
    if output == "json":
        emit_json({"queries": [q.to_json() for q in queries.values()]})
        return
    for q in queries.values():
        out_console.print(f"{q.name}  ({q.kind})", markup=False, style="bold")
        out_console.print(f"    {q.description}", markup=False)
        for p in q.params:
            need = "required" if p.required else f"default {p.default}"
            out_console.print(f"    --param {p.name}=<{p.type}>  {need}. {p.description}", markup=False)
