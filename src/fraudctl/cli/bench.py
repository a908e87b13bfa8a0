"""`fraudctl bench ...`: benchmarks, each reported as a ratio against a baseline run side by side."""

from __future__ import annotations

import click

from fraudctl.bench import validate_cost
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
