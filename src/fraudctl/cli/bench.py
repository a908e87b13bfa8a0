"""`fraudctl bench ...`: benchmarks, each reported as a ratio against a baseline run side by side."""

from __future__ import annotations

import click

from fraudctl.bench import deploy_cost, detections, scoring, validate_cost
from fraudctl.cli.output import emit_json, out_console, output_option
from fraudctl.paths import repo_root


@click.group("bench")
def bench() -> None:
    """Benchmarks (never timed tests): each against a baseline in the same process."""


@bench.command("validate")
@click.option(
    "--factor",
    type=click.IntRange(2, 100),
    default=20,
    show_default=True,
    help="How many times larger the generated repo is.",
)
@click.option("--rounds", type=click.IntRange(1, 50), default=5, show_default=True)
@output_option
def validate_bench(factor: int, rounds: int, output: str) -> None:
    """Wall time of `validate --all-envs`: the real repo vs. a generated one FACTOR times its size."""
    result = validate_cost.run(repo_root(), factor, rounds)
    if output == "json":
        emit_json(result)
        return
    for name in ("real", "generated"):
        m = result[name]
        out_console.print(
            f"{name:>9}: {m['files']} files, {m['work_units']} work units, "
            f"{m['seconds_median']:.3f}s median of {rounds} ({m['ms_per_work_unit']} ms/unit)"
        )
    r = result["ratio"]
    out_console.print(
        f"    ratio: files x{r['files']}, work x{r['work_units']}, time x{r['seconds']}, "
        f"cost per work unit x{r['cost_per_work_unit']} (1.0 = linear)"
    )


@bench.command("detections")
@click.option("--env", "env_name", default="local", show_default=True)
@click.option(
    "--rate",
    type=click.IntRange(1, 100_000),
    default=200,
    show_default=True,
    help="Transactions per second during the latency measurement.",
)
@click.option("--seconds", type=click.FloatRange(5, 600), default=30, show_default=True)
@click.option(
    "--backlog",
    type=click.IntRange(1000, 5_000_000),
    default=100_000,
    show_default=True,
    help="Transactions produced at once for the throughput measurement.",
)
@click.option("--partitions", type=click.IntRange(1, 64), default=6, show_default=True)
@click.option(
    "--engine",
    type=click.Choice(["flink", "ksqldb"]),
    default=None,
    help="The engine to measure (default: the environment's), at the environment's endpoints.",
)
@output_option
def detections_bench(
    env_name: str, rate: int, seconds: float, backlog: int, partitions: int, engine: str | None, output: str
) -> None:
    """The rules of the environment's engine (Flink or ksqlDB) vs. a stateless filter on the same
    engine: produce-to-alert latency at a rate, and throughput (e.g. --env local-ksqldb)."""
    from fraudctl.config.project import load_project

    project, _ = load_project(repo_root())
    result = detections.run(project, env_name, rate, seconds, backlog, partitions, engine)
    if output == "json":
        emit_json(result)
        return
    for kind in ("baseline", "rules"):
        lat, thr = result[kind]["latency"], result[kind]["throughput"]
        out_console.print(
            f"{kind:>8}: at {lat['rate_per_s']}/s latency p50 {lat['latency_ms_p50']} ms, "
            f"p99 {lat['latency_ms_p99']} ms ({lat['alerts_seen']}/{lat['triggers']} alerts; p50 first third "
            f"{lat['latency_ms_p50_first_third']} ms, last third {lat['latency_ms_p50_last_third']} ms); "
            f"throughput {thr['rows_per_s']} rows/s ({thr['evaluated']} in {thr['seconds']} s)"
        )
        if lat.get("enriched_seen"):
            out_console.print(
                f"          every rule's windowed verdict (the enriched record) p50 {lat['enriched_ms_p50']} ms, "
                f"p99 {lat['enriched_ms_p99']} ms ({lat['enriched_seen']}/{lat['triggers']})"
            )
    r = result["ratio"]
    out_console.print(
        f"   ratio: latency p50 x{r['latency_p50']}, p99 x{r['latency_p99']}, throughput x{r['throughput']} "
        f"({result['engine']}, {result['partitions']} partitions, allowed lateness {result['allowed_lateness']})"
    )


@bench.command("deploy")
@click.option("--env", "env_name", default="local", show_default=True)
@click.option("--connectors", type=click.IntRange(5, 500), default=50, show_default=True)
@click.option("--rounds", type=click.IntRange(1, 20), default=3, show_default=True)
@output_option
def deploy_bench(env_name: str, connectors: int, rounds: int, output: str) -> None:
    """No-change plan and apply vs. reading the live state once: the real repo and N connectors."""
    from fraudctl.config.project import load_project

    if load_project(repo_root())[0].on_local_stack(env_name):
        from fraudctl.localstack import secrets as local_secrets
        from fraudctl.localstack.layout import Layout

        local_secrets.export(Layout.default().secrets_file)
    result = deploy_cost.run(repo_root(), env_name, connectors, rounds)
    if output == "json":
        emit_json(result)
        return
    for name in ("real", "generated"):
        m = result[name]
        s, r = m["seconds_median"], m["ratio_to_read_state"]
        out_console.print(
            f"{name:>9}: {m['connectors']} connectors: read state {s['read_state']} s, "
            f"no-change plan {s['plan']} s (x{r['plan']}), no-change apply {s['apply']} s "
            f"(x{r['apply']}), writes {m['writes_during_no_change_applies']}"
        )


@bench.command("scoring")
@click.option("--bootstrap", default="127.0.0.1:9092", show_default=True)
@click.option("--rows", type=click.IntRange(100, 1_000_000), default=20_000, show_default=True)
@click.option("--batch", type=click.IntRange(1, 1000), default=500, show_default=True)
@click.option("--rate", type=click.IntRange(1, 10_000), default=200, show_default=True)
@click.option("--seconds", type=click.FloatRange(1, 600), default=15, show_default=True)
@click.option("--records", type=click.IntRange(100, 1_000_000), default=5_000, show_default=True)
@output_option
def scoring_bench(bootstrap: str, rows: int, batch: int, rate: int, seconds: float, records: int, output: str) -> None:
    """Scoring service vs. in-process model; single-request latency; enrichment step vs. a naive loop;
    the step scoring every transaction vs. the model in process, and at 1,000 tx/s."""
    result = scoring.run(bootstrap, rows, batch, rate, seconds, records)
    if output == "json":
        emit_json(result)
        return
    b, s, e = result["batch_endpoint"], result["single_request"], result["enrichment"]
    out_console.print(
        f"batch endpoint: {b['http_rows_per_s']} rows/s over HTTP vs {b['in_process_rows_per_s']} "
        f"in process (x{b['ratio_http_to_in_process']}), batches of {b['batch']}",
        markup=False,
    )
    out_console.print(
        f"single request at {s['rate_per_s']}/s: p50 {s['p50_ms']} ms, p99 {s['p99_ms']} ms "
        f"({s['requests']} requests); GET /healthz on the same connection: "
        f"p50 {s['baseline_healthz_p50_ms']} ms, p99 {s['baseline_healthz_p99_ms']} ms",
        markup=False,
    )
    out_console.print(
        f"enrichment: {e['step_records_per_s']} records/s vs naive per-record loop "
        f"{e['naive_records_per_s']} (x{e['ratio_step_to_naive']})",
        markup=False,
    )
    v = result["every_transaction"]
    out_console.print(
        f"every transaction: the step scores {v['step_scored_per_s']} enriched records/s vs the model in process "
        f"{v['in_process_per_s']} (x{v['ratio_step_to_in_process']}); at {v['paced_rate_per_s']}/s: "
        f"{v['paced_scored']} of {v['paced_sent']} scored, lag p50 first third {v['lag_p50_first_third']}, "
        f"last third {v['lag_p50_last_third']}, max {v['lag_max']}",
        markup=False,
    )
