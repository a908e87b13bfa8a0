"""Labelled transaction files (CSV, or Parquet when pyarrow is installed) turned into the feature
matrix of udf_service.features, so training sees exactly what serving computes."""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from fraudctl.contract import Transaction
from udf_service.features import FEATURES, DetectionContext, compute

TX_FIELDS = tuple(Transaction.model_fields)
CONTEXT_FIELDS = tuple(DetectionContext.model_fields)
_NUMERIC = {
    "amount",
    "lat",
    "lon",
    "txn_count_1h",
    "amount_sum_1h",
    "user_avg_amount",
    "home_lat",
    "home_lon",
}


class DatasetError(Exception):
    pass


@dataclass(frozen=True)
class Dataset:
    X: np.ndarray
    y: np.ndarray
    times: list[str] | None
    fingerprint: str
    rows: int

    @property
    def positives(self) -> int:
        return int(self.y.sum())


def read_rows(path: Path) -> list[dict[str, Any]]:
    if path.suffix == ".parquet":
        try:
            import pyarrow.parquet as pq
        except ImportError as exc:
            raise DatasetError(f"{path}: reading Parquet needs pyarrow (pip install pyarrow)") from exc
        return list(pq.read_table(path).to_pylist())
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _value(name: str, raw: Any) -> Any:
    if raw is None or raw == "":
        return None
    if name in _NUMERIC:
        return float(raw) if name != "txn_count_1h" else int(float(raw))
    return raw


def load(path: Path, label: str, time_column: str | None) -> Dataset:
    rows = read_rows(path)
    if not rows:
        raise DatasetError(f"{path}: no rows")
    missing = [
        c
        for c in ("transaction_id", "user_id", "amount", "currency", "timestamp", "location", label)
        if c not in rows[0]
    ]
    if missing:
        raise DatasetError(
            f"{path}: missing column(s) {', '.join(missing)}; the service computes features "
            "from transactions, so models are trained on transaction records"
        )
    if time_column and time_column not in rows[0]:
        raise DatasetError(f"{path}: --time column {time_column!r} is not in the file")
    vectors, labels = [], []
    for number, row in enumerate(rows, start=2):  # line 1 is the header
        try:
            tx = Transaction.model_validate(
                {k: _value(k, row[k]) for k in TX_FIELDS if _value(k, row.get(k)) is not None}
            )
            ctx_raw = {k: _value(k, row.get(k)) for k in CONTEXT_FIELDS if _value(k, row.get(k)) is not None}
            if isinstance(ctx_raw.get("rules_fired"), str):
                ctx_raw["rules_fired"] = [r for r in ctx_raw["rules_fired"].split("|") if r]
            ctx = DetectionContext.model_validate(ctx_raw)
        except (ValidationError, ValueError) as exc:
            raise DatasetError(f"{path}:{number}: {exc}".splitlines()[0]) from exc
        vectors.append(compute(tx, ctx))
        value = str(row[label]).strip().lower()
        if value not in ("0", "1", "true", "false"):
            raise DatasetError(f"{path}:{number}: label {label!r} must be 0/1 or true/false, got {row[label]!r}")
        labels.append(1 if value in ("1", "true") else 0)
    return Dataset(
        X=np.asarray(vectors, dtype=np.float32),
        y=np.asarray(labels, dtype=np.int64),
        times=[str(r[time_column]) for r in rows] if time_column else None,
        fingerprint=hashlib.sha256(path.read_bytes()).hexdigest(),
        rows=len(rows),
    )


def feature_names() -> tuple[str, ...]:
    return FEATURES
