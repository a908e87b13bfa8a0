"""`fraudctl demo`: the main job on the embedded local stack.

Starts the local stack, applies one of its environments (`local`: the Flink detection job;
`local-ksqldb`: the ksqlDB statements; both with tables, topics, index template and connectors),
seeds blacklisted accounts in PostgreSQL, streams generated traffic with injected fraud, shows
alerts as they arrive, and ends with a summary: what was sent and
injected, what was caught and missed, false alerts, produce-to-alert latency, and what PostgreSQL,
the search index and the S3 archive hold for the run.

Exit codes: 0 every injected rule-based fraud was caught and every sink holds the whole run;
1 an error, or a check that did not hold (the summary says which)."""

from __future__ import annotations

import sys
import time
from collections import deque
from typing import Any

import click
import requests
from rich.live import Live
from rich.table import Table

from fraudctl.cli.deploy_common import deployment, progress
from fraudctl.cli.output import StackProgress, emit_json, err_console, fail, out_console, output_option
from fraudctl.config.environment import EnvironmentError_, load_environment
from fraudctl.config.project import load_project
from fraudctl.demo.outcome import SeenAlert
from fraudctl.demo.run import DemoError, Observer, Run, RunOptions
from fraudctl.deploy import status as live
from fraudctl.deploy.engine import PlanNotApplied
from fraudctl.deploy.model import Plan
from fraudctl.deploy.providers.ksql_statements import KsqlStatementProvider
from fraudctl.generate.send import SendStats
from fraudctl.ksqldb.client import KsqlError
from fraudctl.localstack import stack
from fraudctl.localstack.layout import Layout
from fraudctl.localstack.services import StackError, ksqldb_home
from fraudctl.paths import repo_root

SHOWN = 12  # alerts kept in the live table


@click.command("demo")
@click.option(
    "--env",
    "env_name",
    default="local",
    show_default=True,
    help="An environment of the local stack: local (Flink) or local-ksqldb (ksqlDB, needs KSQLDB_HOME).",
)
@click.option("--rate", type=click.FloatRange(min=1), default=50, show_default=True, help="Transactions per second.")
@click.option("--duration", type=click.FloatRange(min=1), default=60, show_default=True, help="Seconds of traffic.")
@click.option("--seed", type=int, default=7, show_default=True, help="Same seed, same traffic (ids aside).")
@click.option("--frauds-per-kind", type=click.IntRange(min=1), default=2, show_default=True)
@output_option
def demo(env_name: str, rate: float, seed: int, duration: float, frauds_per_kind: int, output: str) -> None:
    """Run the whole pipeline on the local stack with generated traffic, and summarize it."""
    t0 = time.monotonic()
    try:
        env = load_environment(env_name)
        if env.get("local_stack") is None:
            fail(f"environment {env_name!r} is not one of the local stack (it has no local_stack settings)", output)
        results = stack.up(env, Layout.default(), StackProgress())
    except (StackError, EnvironmentError_) as exc:
        fail(str(exc), output)
    engine = str(env.require("engine"))
    if engine == "ksqldb" and any(r.name == "ksqldb" and r.state != "up" for r in results):
        fail(f"environment {env_name!r} runs its detections on ksqlDB, but {ksqldb_home()[1]}", output)
    # One detection engine at a time writes the stack's detections topic.
    for other in _other_engines(env_name, engine):
        _retire_engine(other, output)
    with deployment(env_name, output) as (dep, state):
        try:
            plan, problems = dep.reconcile(state, progress, 300)
        except PlanNotApplied as exc:
            fail(f"the {env_name} environment cannot be applied: {exc}", output)
        health = live.collect(dep, state)
        if problems or not health["healthy"]:
            fail(f"the {env_name} environment is not healthy after apply", output, problems=problems)
        display = _Display(output == "text" and sys.stdout.isatty())
        run = Run(dep.project, env_name, RunOptions(rate, duration, seed, frauds_per_kind), display.observer())
        try:
            with display:
                summary = run.execute()
        except DemoError as exc:
            fail(str(exc), output)
    summary["env"] = env_name
    summary["engine"] = engine
    summary["applied"] = [c.to_json() for c in plan.writes]
    summary["seconds_total"] = round(time.monotonic() - t0, 1)
    if output == "json":
        emit_json(summary)
    else:
        _print_summary(summary)
    sys.exit(0 if summary["ok"] else 1)


ENGINE_KIND = {"flink": "flink-job", "ksqldb": "ksql-statement"}


def _other_engines(env_name: str, engine: str) -> list[tuple[str, str]]:
    """(environment, engine) of every other environment of the local stack on another engine."""
    project, _ = load_project(repo_root())
    out = []
    for name, doc in project.environments.items():
        other = str(doc.value.get("engine")) if isinstance(doc.value, dict) else ""
        if name != env_name and project.on_local_stack(name) and other != engine:
            out.append((name, other))
    return out


def _retire_engine(other: tuple[str, str], output: str) -> None:
    """Removes what another environment of the stack runs on its detection engine (its Flink job or
    its ksqlDB statements, recorded by fraudctl), so that the demo's engine alone writes detections.
    The rest of that environment (topics, tables, connectors) is shared and stays."""
    name, engine = other
    kind = ENGINE_KIND.get(engine)
    with deployment(name, output) as (dep, state):
        records = state.records()
        managed = {n for (k, n) in records if k == kind}
        if kind is None or kind not in dep.providers or not managed:
            return
        provider = dep.providers[kind]
        try:
            if isinstance(provider, KsqlStatementProvider):
                provider.client.info()  # fails at once when no server answers (statements retry)
            changes = provider.plan({}, provider.actual({}, records), managed, True)
        except (KsqlError, requests.RequestException) as exc:
            err_console.print(f"{name}: its {engine} engine does not answer ({exc}); nothing of it runs", markup=False)
            return
        retire = Plan(name, tuple(changes), True)
        if retire.has_changes:
            err_console.print(f"stopping the {engine} detections of environment {name} (one engine at a time)")
            with state.lock():
                dep.apply(state, retire, progress, timeout=180)


class _Display:
    """A live table of the latest alerts on a terminal; one line per alert otherwise (CI logs)."""

    def __init__(self, live_table: bool) -> None:
        self.live_table = live_table
        self.rows: deque[tuple[str, ...]] = deque(maxlen=SHOWN)
        self.status = "starting"
        self.live: Live | None = None

    def __enter__(self) -> _Display:
        if self.live_table:
            self.live = Live(self._render(), console=out_console, refresh_per_second=4)
            self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.__exit__(None, None, None)

    def observer(self) -> Observer:
        return Observer(on_step=self._step, on_alert=self._alert, on_tick=self._tick)

    def _step(self, message: str) -> None:
        err_console.print(message, markup=False)

    def _alert(self, alert: SeenAlert, latency_ms: float | None) -> None:
        row = (
            time.strftime("%H:%M:%S"),
            alert.rule,
            alert.user_id,
            alert.transaction_id,
            f"{alert.risk_score:.2f}" if alert.risk_score is not None else "-",
            f"{latency_ms / 1000:.1f} s" if latency_ms is not None else "-",
        )
        if self.live is not None:
            self.rows.appendleft(row)
            self.live.update(self._render())
        else:
            err_console.print("  alert  " + "  ".join(row), markup=False)

    def _tick(self, stats: SendStats, alerts: int) -> None:
        self.status = f"sent {stats.sent}/{stats.planned} transactions, {alerts} alert(s)"
        if self.live is not None:
            self.live.update(self._render())

    def _render(self) -> Table:
        table = Table(title=f"Latest alerts ({self.status})", title_justify="left")
        for col in ("time", "rule", "user", "transaction", "risk", "latency"):
            table.add_column(col)
        for row in self.rows:
            table.add_row(*row)
        return table


def _print_summary(s: dict[str, Any]) -> None:
    p = out_console.print
    p(f"\nDemo run {s['run_id']}: {s['transactions_sent']} transactions sent.", markup=False)
    table = Table(title="Injected fraud", title_justify="left")
    for col in ("kind", "injected", "caught", "missed"):
        table.add_column(col, justify="left" if col == "kind" else "right")
    for kind, n in s["injected"].items():
        table.add_row(kind, str(n), str(s["caught"].get(kind, 0)), str(len(s["missed"].get(kind, []))))
    p(table)
    p("Alerts by rule: " + ", ".join(f"{r} {n}" for r, n in s["alerts_by_rule"].items()), markup=False)
    p(
        f"Rule-based frauds caught: {s['rule_based_caught']} of {s['rule_based_injected']}; "
        f"false alerts: {s['false_alerts']}.",
        markup=False,
    )
    lat = s["latency_ms"]
    p(
        f"Produce-to-alert latency over {lat['count']} alert(s): p50 {lat['p50']} ms, p99 {lat['p99']} ms.",
        markup=False,
    )
    sinks = s["sinks"]
    p(
        f"Sinks: PostgreSQL {sinks['postgres']['records']} row(s) ({sinks['postgres']['distinct']} distinct alert_id), "
        f"search index {sinks['search']['records']} document(s) ({sinks['search']['distinct']} distinct), "
        f"S3 archive {sinks['s3']['records']} line(s) ({sinks['s3']['distinct']} distinct transactions), "
        f"compliance archive {sinks['compliance']['records']} line(s) "
        f"({sinks['compliance']['distinct']} distinct alerts).",
        markup=False,
    )
    for name, c in sinks.items():
        if c.get("error"):
            p(f"  {name}: {c['error']}", markup=False)
    p(
        f"Model-only frauds caught: {s['model_only_caught']} of {s['model_only_injected']}; "
        f"false alerts on {s['false_alert_rate']:.3%} of {s['clean_transactions']} clean transactions; "
        f"{s['scored']} of {s['transactions_sent']} transaction(s) scored (the last allowed lateness of traffic "
        "waits for later traffic to pass the watermark).",
        markup=False,
    )
    for group in ("fraud", "clean"):
        d = s["risk_scores"][group]
        p(
            f"Risk scores, {group} ({d['count']}): p50 {d['p50']}, p90 {d['p90']}, p99 {d['p99']}, max {d['max']}.",
            markup=False,
        )
    p(f"{'OK' if s['ok'] else 'NOT OK'}: demo finished in {s['seconds_total']} s.", markup=False)
    err_console.print("Stop the stack with `.venv/bin/fraudctl local down`.")
