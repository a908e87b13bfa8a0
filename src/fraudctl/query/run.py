"""Preparing and running one analysts' query on the environment's engine.

`prepare` renders a library query (or takes `--sql`) for the engine and checks it is read-only;
`execute` runs it and hands each row to a callback as it arrives:
- Flink: through the SQL Gateway, in a session of its own with temporary tables over the
  pipeline's PostgreSQL tables (JDBC, batch mode: the current value per key) and over the alerts
  topic (Kafka, streaming, for push queries);
- ksqlDB: pull and push queries on its REST API (`/query-stream`, fraudctl.ksqldb.client)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fraudctl.config.project import Project
from fraudctl.config.secrets import resolve_embedded
from fraudctl.config.settings import Flink
from fraudctl.deploy.engine import ksql_client
from fraudctl.flink.gateway import FlinkSession, GatewayError
from fraudctl.ksqldb import statements
from fraudctl.ksqldb.client import KsqlError, QueryTimeout
from fraudctl.query import guard
from fraudctl.query.access import FLINK_TABLES
from fraudctl.query.library import KSQL_DIR, Query, Sort
from fraudctl.query.params import bind
from fraudctl.render import jinja
from fraudctl.render.pipeline import render_sql, sql_context
from fraudctl.validate.sql import split


class QueryError(Exception):
    """The engine refused or failed the query (message from the engine, secrets masked)."""


@dataclass(frozen=True)
class Prepared:
    name: str  # the library name, or "sql" for --sql
    engine: str  # flink | ksqldb
    sql: str
    push: bool
    sort: tuple[Sort, ...] = ()


@dataclass
class Callbacks:
    on_ready: Callable[[list[str]], None] = lambda _cols: None
    on_row: Callable[[list[str], list[Any]], None] = lambda _cols, _row: None


def prepare(
    project: Project,
    env_name: str,
    query: Query | None,
    sql: str | None,
    given: dict[str, str],
    push: bool,
    now: datetime,
) -> Prepared:
    context = sql_context(project, env_name)
    settings = project.settings(env_name)
    engine = settings.engine
    if query is not None and query.ksql is None:
        # It reads PostgreSQL (through the Flink session's JDBC tables), not the engine's state.
        if settings.flink is None:
            raise QueryError(f"query {query.name} runs on Flink (it reads PostgreSQL); {env_name} declares no `flink`")
        engine = "flink"
    if query is not None:
        context.update(bind(query, given, now))
        if engine == "flink":
            if query.flink is None:
                raise QueryError(f"query {query.name} has no Flink text (templates/flink/queries/{query.name}.sql.j2)")
            text = jinja.render(project.templates, query.flink, context)
        else:
            text = _ksql_names(project, context, jinja.render(project.root / KSQL_DIR, query.path.name, context))
        return Prepared(query.name, engine, guard.check(text), query.kind == "push", query.sort)
    assert sql is not None
    checked = guard.check(sql)
    is_push = push or (engine == "ksqldb" and "EMIT CHANGES" in checked.upper())
    return Prepared("sql", engine, checked, is_push)


def _ksql_names(project: Project, context: dict[str, Any], text: str) -> str:
    """A library query against the environment's prefixed objects (`ksqldb.prefix`)."""
    prefix = str(context.get("ksql_prefix") or "")
    if not prefix:
        return text
    pipeline = statements.parse(render_sql(project, "ksql", {**context, "ksql_prefix": ""}))
    return statements.with_prefix(text, prefix, {s.name for s in pipeline if s.kind != statements.INSERT}, set())


def execute(
    project: Project, env_name: str, prepared: Prepared, limit: int | None, timeout: float | None, cb: Callbacks
) -> int:
    """Runs the query; returns the number of rows handed to `cb.on_row`. A pull query past its
    timeout raises TimeoutError; a push query simply ends there (as it does at `limit`)."""
    deadline = time.monotonic() + timeout if timeout else None
    if prepared.engine == "flink":
        return _flink(project, env_name, prepared, limit, deadline, cb)
    return _ksqldb(project, env_name, prepared, limit, deadline, cb)


def _flink(
    project: Project, env_name: str, prepared: Prepared, limit: int | None, deadline: float | None, cb: Callbacks
) -> int:
    context = sql_context(project, env_name)
    flink: Flink = project.settings(env_name).need("flink")
    tables_text = jinja.render(project.templates, FLINK_TABLES, context)
    # References are resolved only for this session, and never appear in any message.
    tables: list[str] = []
    secrets: list[str] = []
    for part in split(tables_text)[0]:  # split first: a value may hold a ';'
        text, values = resolve_embedded(part.text)
        tables.append(text)
        secrets += values
    props = {
        "execution.runtime-mode": "streaming" if prepared.push else "batch",
        "table.local-time-zone": "UTC",
        "pipeline.name": f"fraudctl-query:{prepared.name}",
        # A query that fails (a refused permission, a bad row) ends at once instead of restarting.
        "restart-strategy.type": "none",
    }
    rows = 0
    try:
        with FlinkSession(flink.sql_gateway_url, props) as session:
            for statement in tables:
                session.execute(statement)
            gen = session.stream(prepared.sql, deadline=deadline, on_ready=cb.on_ready)
            try:
                for columns, kind, fields in gen:
                    if kind in ("UPDATE_BEFORE", "DELETE"):
                        continue  # a changelog retraction: the next row carries the new value
                    # A row may quote a table's options (SHOW CREATE TABLE): never a secret value.
                    cb.on_row(columns, [_masked(v, secrets) if isinstance(v, str) else v for v in fields])
                    rows += 1
                    if limit is not None and rows >= limit:
                        break
            except TimeoutError:
                if not prepared.push:
                    raise
            finally:
                gen.close()
    except GatewayError as exc:
        raise QueryError(_masked(str(exc), secrets)) from exc
    return rows


def _ksqldb(
    project: Project, env_name: str, prepared: Prepared, limit: int | None, deadline: float | None, cb: Callbacks
) -> int:
    client = ksql_client(project.settings(env_name))
    properties = {"ksql.streams.auto.offset.reset": "latest" if prepared.push else "earliest"}
    rows = 0
    ready = False
    try:
        for columns, row in client.query_stream(prepared.sql, properties, deadline):
            if not ready:
                cb.on_ready(columns)
                ready = True
            cb.on_row(columns, row)
            rows += 1
            if limit is not None and rows >= limit:
                break
    except QueryTimeout:
        if not prepared.push:
            raise TimeoutError(f"the query did not finish within its timeout ({rows} row(s) so far)") from None
    except KsqlError as exc:
        raise QueryError(str(exc)) from exc
    return rows


def _masked(text: str, secrets: list[str]) -> str:
    for value in secrets:
        if value:
            text = text.replace(value, "********")
    return text


def apply_sort(rows: list[dict[str, Any]], sort: tuple[Sort, ...]) -> list[dict[str, Any]]:
    """Orders rows the way the library declares, for engines whose pull queries cannot (ksqlDB).
    Stable sorts, last key first; rows without a value go last whatever the direction."""
    for key in reversed(sort):
        column = key.column
        present = [r for r in rows if r.get(column) is not None]
        present.sort(key=lambda r: r[column], reverse=key.descending)
        rows = present + [r for r in rows if r.get(column) is None]
    return rows
