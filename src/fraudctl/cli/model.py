"""`fraudctl model synth | train | evaluate`."""

from __future__ import annotations

from pathlib import Path

import click

from fraudctl.cli.output import emit_json, fail, out_console, output_option
from fraudctl.paths import repo_root


def _serving() -> Path:
    return repo_root() / "udf_service" / "models" / "current"


@click.group("model")
def model() -> None:
    """The scoring model: labelled data, training, evaluation."""


@model.command("synth")
@click.option("--rows", type=click.IntRange(100, 10_000_000), default=40_000, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
def synth(rows: int, seed: int, out: Path) -> None:
    """Write labelled synthetic transactions (CSV) with detection context."""
    from fraudctl.model.synth import generate, write_csv

    write_csv(generate(rows, seed), out)
    out_console.print(f"wrote {rows} rows to {out}", markup=False)


@model.command("train")
@click.argument("data", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--label", required=True, help="Column holding 0/1 (or true/false): confirmed fraud.")
@click.option(
    "--time",
    "time_column",
    default=None,
    help="Event-time column: the latest 20% is held out (no random split when given).",
)
@click.option(
    "--threshold",
    type=click.FloatRange(0, 1),
    default=0.8,
    show_default=True,
    help="Alert threshold for the precision/recall report (the environment's scoring.risk_threshold).",
)
@click.option(
    "--out-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where versioned artifacts go (default udf_service/models).",
)
@click.option("--no-promote", is_flag=True, help="Write the artifact but leave the serving model alone.")
@click.option("--force", is_flag=True, help="Replace the serving model even if the new one scores worse.")
@click.option("--seed", type=int, default=0, show_default=True)
@output_option
def train_cmd(
    data: Path,
    label: str,
    time_column: str | None,
    threshold: float,
    out_dir: Path | None,
    no_promote: bool,
    force: bool,
    seed: int,
    output: str,
) -> None:
    """Train on a labelled CSV/Parquet file; report AUPRC, ROC-AUC, precision and recall; write an artifact."""
    from fraudctl.model.dataset import DatasetError
    from fraudctl.model.train import TrainError, train

    serving = None if no_promote else _serving()
    try:
        result = train(
            data,
            label,
            time_column,
            out_dir or repo_root() / "udf_service" / "models",
            threshold,
            seed,
            force,
            serving,
        )
    except (DatasetError, TrainError) as exc:
        fail(str(exc), output)
    if output == "json":
        emit_json(result)
    else:
        m = result["metrics"]
        out_console.print(f"artifact {result['artifact']} ({result['split']})", markup=False)
        out_console.print(
            f"held out {m['rows']} rows ({m['positives']} fraud): AUPRC {m['auprc']}, ROC-AUC "
            f"{m['roc_auc']}, at {m['threshold']}: precision {m['precision_at_threshold']}, recall "
            f"{m['recall_at_threshold']}",
            markup=False,
        )


@model.command("evaluate")
@click.argument("data", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--label", required=True)
@click.option(
    "--model",
    "artifact",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Artifact folder (default: the serving model).",
)
@click.option("--threshold", type=click.FloatRange(0, 1), default=0.8, show_default=True)
@output_option
def evaluate_cmd(data: Path, label: str, artifact: Path | None, threshold: float, output: str) -> None:
    """Score a labelled file with an artifact and report its metrics."""
    from fraudctl.model.dataset import DatasetError
    from fraudctl.model.train import TrainError, evaluate

    try:
        result = evaluate(data, label, artifact or _serving(), threshold)
    except (DatasetError, TrainError) as exc:
        fail(str(exc), output)
    if output == "json":
        emit_json(result)
    else:
        out_console.print(f"model {result['model_version']}: {result['metrics']}", markup=False)
