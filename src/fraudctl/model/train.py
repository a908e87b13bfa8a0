"""`fraudctl model train` / `model evaluate`: gradient boosting on the shared features, exported to
ONNX as a versioned artifact (model.onnx + metadata.json with metrics and the data's fingerprint).

The held-out part is the latest 20% in time when a time column is given (never a random split
then), else a seeded random 20%. A new model replaces the serving one only if it scores at least
as well on the same held-out rows (AUPRC), unless forced."""

from __future__ import annotations

import json
import os
import shlex
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from fraudctl.model.dataset import Dataset, load

HELD_OUT = 0.2
# Gradient boosting for rare positives. Early stopping is off: scikit-learn turns it on by itself
# above 10,000 rows and stops on a validation loss that the rare frauds barely move (on ULB that
# gave AUPRC 0.35 against 0.80 with these settings, side by side on the true time split).
GBM_PARAMS: dict[str, Any] = {
    "max_iter": 400,
    "learning_rate": 0.05,
    "l2_regularization": 1.0,
    "max_leaf_nodes": 31,
    "early_stopping": False,
}


class TrainError(Exception):
    pass


@dataclass(frozen=True)
class Split:
    train: np.ndarray
    test: np.ndarray
    kind: str


def split(data: Dataset, seed: int) -> Split:
    n = len(data.y)
    if data.times is not None:
        order = np.argsort(np.asarray(data.times, dtype=np.float64), kind="stable")
        cut = int(n * (1 - HELD_OUT))
        return Split(order[:cut], order[cut:], "time-ordered (latest 20% held out)")
    rng = np.random.default_rng(seed)
    order = rng.permutation(n)
    cut = int(n * (1 - HELD_OUT))
    return Split(order[:cut], order[cut:], "random (seeded), no time column given")


def metrics(y: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, float | int]:
    from sklearn.metrics import average_precision_score, precision_score, recall_score, roc_auc_score

    if len(set(y.tolist())) < 2:
        raise TrainError("the held-out part has only one class; more data (or more positives) is needed")
    predicted = (scores >= threshold).astype(int)
    return {
        "auprc": round(float(average_precision_score(y, scores)), 4),
        "roc_auc": round(float(roc_auc_score(y, scores)), 4),
        "precision_at_threshold": round(float(precision_score(y, predicted, zero_division=0)), 4),
        "recall_at_threshold": round(float(recall_score(y, predicted, zero_division=0)), 4),
        "threshold": threshold,
        "rows": int(len(y)),
        "positives": int(y.sum()),
        # What a model that knows nothing scores in AUPRC: the share of positives.
        "base_rate": round(float(y.mean()), 6),
    }


def score_with_artifact(folder: Path, X: np.ndarray) -> np.ndarray:
    """Scores with an artifact through the service's own loader, so evaluation runs exactly what
    serving runs (the feature check only for servable artifacts)."""
    from udf_service.model import load as load_model

    metadata = json.loads((folder / "metadata.json").read_text())
    return load_model(folder, serving=bool(metadata.get("servable", True))).scores(X)


def train(
    data_path: Path,
    label: str,
    time_column: str | None,
    out_dir: Path,
    threshold: float,
    seed: int,
    force: bool,
    serving: Path | None,
    features: tuple[str, ...] | None = None,
) -> dict[str, Any]:
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.inspection import permutation_importance

    data = load(data_path, label, time_column, features)
    if not data.servable:
        serving = None  # the service computes transaction features: it could not serve this model
    if data.positives < 10:
        raise TrainError(f"{data_path}: only {data.positives} positive rows; at least 10 are needed")
    parts = split(data, seed)
    X_train, y_train = data.X[parts.train], data.y[parts.train]
    X_test, y_test = data.X[parts.test], data.y[parts.test]
    model = HistGradientBoostingClassifier(**GBM_PARAMS, random_state=seed)
    model.fit(X_train, y_train)
    result = metrics(y_test, model.predict_proba(X_test)[:, 1], threshold)

    comparison: dict[str, Any] | None = None
    # The serving model's metadata, read once: its feature set decides whether it can be compared.
    serving_meta = (
        json.loads((serving / "metadata.json").read_text())
        if serving is not None and (serving / "metadata.json").exists()
        else None
    )
    if serving_meta is not None and tuple(serving_meta.get("features", ())) != data.features:
        # The serving model reads other features (an older feature definition): it cannot score
        # these rows, so there is nothing to compare with; the new model replaces it only when forced.
        if not force:
            raise TrainError(
                "the serving model was trained on another feature set (an older udf_service.features); "
                "it cannot be compared on these rows: use --force to replace it"
            )
        comparison = {"serving_version": "(other features: not comparable)", "serving_auprc_on_same_rows": None}
    elif serving_meta is not None:
        assert serving is not None  # metadata was read from it
        old = metrics(y_test, score_with_artifact(serving, X_test), threshold)
        comparison = {"serving_version": serving_meta["version"], "serving_auprc_on_same_rows": old["auprc"]}
        if result["auprc"] < old["auprc"] and not force:
            raise TrainError(
                f"the new model scores worse than the serving one on the same held-out rows "
                f"(AUPRC {result['auprc']} < {old['auprc']}); not replaced (use --force)"
            )

    sample = np.random.default_rng(seed).choice(len(X_test), size=min(3000, len(X_test)), replace=False)
    importance = permutation_importance(
        model, X_test[sample], y_test[sample], scoring="average_precision", n_repeats=3, random_state=seed
    )
    onnx_model = convert_sklearn(
        model,
        initial_types=[("input", FloatTensorType([None, len(data.features)]))],
        options={id(model): {"zipmap": False}},
        target_opset=17,
    )
    created = datetime.now(UTC)
    version = f"{created:%Y%m%dT%H%M%S}-{data.fingerprint[:8]}"
    folder = out_dir / version
    folder.mkdir(parents=True, exist_ok=False)
    (folder / "model.onnx").write_bytes(onnx_model.SerializeToString())
    metadata = {
        "version": version,
        "created_at": created.isoformat(),
        "features": list(data.features),
        "servable": data.servable,
        "means": [round(float(v), 6) for v in np.nan_to_num(np.nanmean(X_train, axis=0))],
        "scales": [round(float(v), 6) or 1.0 for v in np.nan_to_num(np.nanstd(X_train, axis=0))],
        "importances": [round(max(0.0, float(v)), 6) for v in importance.importances_mean],
        "metrics": result,
        "split": parts.kind,
        "params": GBM_PARAMS,
        "data": {
            "file": data_path.name,
            "sha256": data.fingerprint,
            "rows": data.rows,
            "positives": data.positives,
        },
        "trained_with": " ".join(["fraudctl", *map(shlex.quote, sys.argv[1:])]) or "fraudctl model train",
        "comparison": comparison,
    }
    (folder / "metadata.json").write_text(json.dumps(metadata, indent=2) + "\n")
    if serving is not None:
        # Repoint the serving symlink atomically; the service picks the new target up live.
        tmp = serving.with_name(serving.name + ".new")
        tmp.unlink(missing_ok=True)
        os.symlink(folder.name if folder.parent == serving.parent else folder.resolve(), tmp)
        os.replace(tmp, serving)
    return {"ok": True, "artifact": str(folder), "promoted": serving is not None, **metadata}


def evaluate(data_path: Path, label: str, artifact: Path, threshold: float) -> dict[str, Any]:
    metadata = json.loads((artifact / "metadata.json").read_text())
    features = None if metadata.get("servable", True) else tuple(metadata["features"])
    data = load(data_path, label, None, features)
    return {
        "ok": True,
        "model_version": metadata["version"],
        "metrics": metrics(data.y, score_with_artifact(artifact, data.X), threshold),
    }
