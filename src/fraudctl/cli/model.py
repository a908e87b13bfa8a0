"""`fraudctl model synth | train | evaluate`."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from fraudctl.cli.output import emit_json, fail, out_console, output_option
from fraudctl.paths import repo_root

if TYPE_CHECKING:
    from fraudctl.model.archive import Export


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


@model.command("export")
@click.option("--env", "env_name", default="local", show_default=True, help="Environment whose archive is read.")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), default=None, help="Only event dates from this day on.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@output_option
def export_cmd(env_name: str, since: datetime | None, out: Path, output: str) -> None:
    """Write training data from the pipeline's own records: the S3 raw archive of transactions,
    labelled by the analysts' verdicts in PostgreSQL (disposition 'fraud' = 1)."""
    result = _export(env_name, since, out, output)
    if output == "json":
        emit_json({"ok": True, **result.to_json()})
    else:
        out_console.print(
            f"wrote {result.rows} transactions ({result.positives} confirmed fraud) from {result.objects} archive "
            f"object(s) to {out}; {result.duplicates} duplicate(s) of the at-least-once archive dropped",
            markup=False,
        )


def _export(env_name: str, since: datetime | None, out: Path, output: str) -> Export:
    from fraudctl.config.project import load_project
    from fraudctl.config.targets import SCORED, TargetError, sink_targets
    from fraudctl.localstack import secrets as local_secrets
    from fraudctl.localstack.layout import Layout
    from fraudctl.model.archive import ArchiveError, export
    from fraudctl.render.context import env_view

    project, problems = load_project(repo_root())
    if problems:
        fail("the repo has problems (run `fraudctl validate`): " + problems[0].text(), output)
    if env_name not in project.environments:
        fail(f"unknown environment {env_name!r} (known: {', '.join(project.environment_names())})", output, 2)
    if project.on_local_stack(env_name):
        local_secrets.export(Layout.default().secrets_file)
    try:
        targets = sink_targets(project)
        env = env_view(project, env_name)
        return export(env, targets.scored_prefix, SCORED, targets.alerts_table, out, since.date() if since else None)
    except (ArchiveError, TargetError) as exc:
        fail(str(exc), output)
    raise AssertionError("unreachable")


@model.command("train")
@click.argument("data", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=False)
@click.option(
    "--from-archive",
    "archive_env",
    default=None,
    metavar="ENV",
    help="Instead of DATA: export ENV's archive with its confirmed cases first (see `model export`).",
)
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), default=None, help="With --from-archive: event dates from.")
@click.option("--label", default=None, help="Column holding 0/1 (or true/false): confirmed fraud.")
@click.option(
    "--time",
    "time_column",
    default=None,
    help="Event-time column: the latest 20% is held out (no random split when given).",
)
@click.option(
    "--features",
    default=None,
    help="Comma-separated feature columns of a file that is not transactions (default: every numeric column).",
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
    data: Path | None,
    archive_env: str | None,
    since: datetime | None,
    label: str | None,
    time_column: str | None,
    features: str | None,
    threshold: float,
    out_dir: Path | None,
    no_promote: bool,
    force: bool,
    seed: int,
    output: str,
) -> None:
    """Train on a labelled CSV/Parquet file (or the archive); report AUPRC, ROC-AUC, precision and
    recall on the held-out part; write a versioned artifact."""
    from fraudctl.model.archive import LABEL
    from fraudctl.model.dataset import DatasetError
    from fraudctl.model.train import TrainError, train

    if (data is None) == (archive_env is None):
        fail("give a labelled file (DATA) or --from-archive ENV", output, 2)
    if archive_env is not None:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        data = _export(
            archive_env, since, repo_root() / "build" / "training" / f"{archive_env}-{stamp}.csv", output
        ).path
        label, time_column = label or LABEL, time_column or "timestamp"
    if label is None:
        fail("--label is required with a file", output, 2)
    assert data is not None and label is not None
    serving = None if no_promote else _serving()
    chosen = tuple(f.strip() for f in features.split(",") if f.strip()) if features else None
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
            chosen,
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
        if not result["servable"]:
            out_console.print(
                "not promoted: trained on the file's own columns, which the scoring service does not compute",
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
