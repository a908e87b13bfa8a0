"""Training on any labelled file: numeric feature columns (all by default, or --features), a
time-ordered split when a time column is given, an artifact with its metrics that is never
promoted to serving (the service computes its own features from transactions)."""

from __future__ import annotations

import csv
import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from fraudctl.model.dataset import DatasetError, load
from fraudctl.model.train import evaluate, train

ROOT = Path(__file__).resolve().parents[2]


def _write(path: Path, rows: int = 3000, seed: int = 3) -> Path:
    rng = random.Random(seed)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["event_ts", "account", "velocity", "ratio", "note", "label"])
        for i in range(rows):
            velocity = rng.uniform(0, 10)
            ratio = rng.uniform(0, 3) if i % 97 else ""  # a missing value now and then
            fraud = int(velocity > 8.5 and rng.random() < 0.9 or rng.random() < 0.01)
            w.writerow(
                [
                    f"2024-01-01T{i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}",
                    f"A{i}",
                    velocity,
                    ratio,
                    "x",
                    fraud,
                ]
            )
    return path


def test_all_numeric_columns_are_the_features_by_default(tmp_path: Path) -> None:
    data = load(_write(tmp_path / "d.csv"), "label", "event_ts")
    assert data.features == ("velocity", "ratio") and data.servable is False
    assert data.X.shape == (3000, 2)
    with pytest.raises(DatasetError, match=r"--features: column\(s\) not in the file: speed"):
        load(tmp_path / "d.csv", "label", None, ("velocity", "speed"))
    with pytest.raises(DatasetError, match=r"d.csv:2: --features column 'note' is not numeric: 'x'"):
        load(tmp_path / "d.csv", "label", None, ("note",))


def test_a_generic_file_trains_evaluates_and_is_never_promoted(tmp_path: Path) -> None:
    path = _write(tmp_path / "d.csv")
    serving = tmp_path / "models" / "current"
    serving.parent.mkdir()
    serving.symlink_to("nowhere")  # would be repointed by a promotion
    result = train(path, "label", "event_ts", tmp_path / "models", 0.5, 0, False, serving)
    assert result["servable"] is False and result["promoted"] is False
    assert result["features"] == ["velocity", "ratio"]
    assert result["split"].startswith("time-ordered") and result["metrics"]["auprc"] > 0.5
    assert Path(str(serving.readlink())) == Path("nowhere")
    report = evaluate(path, "label", Path(result["artifact"]), 0.5)
    assert report["metrics"]["rows"] == 3000 and report["metrics"]["roc_auc"] > 0.8


def test_cli_trains_on_chosen_features(tmp_path: Path) -> None:
    path = _write(tmp_path / "d.csv")
    res = subprocess.run(
        [sys.executable, "-m", "fraudctl", "model", "train", str(path), "--label", "label", "--time", "event_ts",
         "--features", "velocity", "--out-dir", str(tmp_path / "m"), "--no-promote", "--output", "json"],
        cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    assert res.returncode == 0, res.stdout + res.stderr
    out = json.loads(res.stdout)
    assert out["features"] == ["velocity"] and out["servable"] is False
    assert (Path(out["artifact"]) / "model.onnx").is_file()


def test_a_serving_model_of_another_feature_set_is_replaced_only_when_forced(tmp_path: Path) -> None:
    """A model trained on an older feature definition cannot score the new rows: no comparison,
    and no promotion without --force."""
    from fraudctl.model.synth import generate, write_csv
    from fraudctl.model.train import TrainError

    data = tmp_path / "train.csv"
    write_csv(generate(3000, seed=5), data)
    old = tmp_path / "models" / "old"
    old.mkdir(parents=True)
    (old / "metadata.json").write_text(json.dumps({"version": "old", "features": ["amount", "home_lat"]}))
    serving = tmp_path / "models" / "current"
    serving.symlink_to("old")
    with pytest.raises(TrainError, match="another feature set"):
        train(data, "is_fraud", "timestamp", tmp_path / "models", 0.8, 0, False, serving)
    assert Path(str(serving.readlink())) == Path("old")
    result = train(data, "is_fraud", "timestamp", tmp_path / "models", 0.8, 0, True, serving)
    assert result["promoted"] is True and Path(str(serving.readlink())) != Path("old")
