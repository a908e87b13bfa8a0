"""Labelled files (CSV, or Parquet when pyarrow is installed) turned into a feature matrix.

A file of transactions gets the features of udf_service.features, so training sees exactly what
serving computes (such a model is *servable*). Any other labelled file is trained on its numeric
columns (all of them, or those named with --features): useful for analysis and comparison, but the
scoring service cannot serve it, since it computes its features from transactions."""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from fraudctl.contract import Transaction, TransactionContext
from udf_service.features import FEATURES, compute

TX_FIELDS = tuple(Transaction.model_fields)
CONTEXT_FIELDS = tuple(TransactionContext.model_fields)
# Integer fields written as "3.0" by a tool that reads every number as a float still parse.
_INTEGERS = {
    name
    for model in (Transaction, TransactionContext)
    for name, info in model.model_fields.items()
    if info.annotation is int
}


class DatasetError(Exception):
    pass


@dataclass(frozen=True)
class Dataset:
    X: np.ndarray
    y: np.ndarray
    times: list[float] | None  # a sortable instant per row: seconds (numeric column) or epoch seconds (RFC 3339)
    fingerprint: str
    rows: int
    features: tuple[str, ...] = FEATURES
    servable: bool = True

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
    if name in _INTEGERS and isinstance(raw, str):
        return int(float(raw))
    return raw  # pydantic (lax) reads numbers and booleans from their text


def load(path: Path, label: str, time_column: str | None, features: tuple[str, ...] | None = None) -> Dataset:
    rows = read_rows(path)
    if not rows:
        raise DatasetError(f"{path}: no rows")
    if label not in rows[0]:
        raise DatasetError(f"{path}: --label column {label!r} is not in the file")
    if time_column and time_column not in rows[0]:
        raise DatasetError(f"{path}: --time column {time_column!r} is not in the file")
    labels = [_label(path, number, row, label) for number, row in enumerate(rows, start=2)]  # line 1: header
    is_transactions = all(c in rows[0] for c in ("transaction_id", "user_id", "amount", "currency", "timestamp"))
    if is_transactions and features is None:
        X, names, servable = _transaction_matrix(path, rows), FEATURES, True
    else:
        names = features or _numeric_columns(rows, {label, time_column or ""})
        if not names:
            raise DatasetError(f"{path}: no numeric column to train on besides the label; name them with --features")
        X, servable = _numeric_matrix(path, rows, names), False
    return Dataset(
        X=X,
        y=np.asarray(labels, dtype=np.int64),
        times=time_order(path, time_column, [r[time_column] for r in rows]) if time_column else None,
        fingerprint=hashlib.sha256(path.read_bytes()).hexdigest(),
        rows=len(rows),
        features=tuple(names),
        servable=servable,
    )


def time_order(path: Path, column: str, values: list[Any]) -> list[float]:
    """Each row's instant, so that sorting puts rows in time order: a numeric column (ULB's `Time`,
    seconds from the first transaction) as numbers, never as text ("0, 1, 10, 100, 2, ..."), and
    RFC 3339 text chronologically (offsets honoured; none written means UTC). A column mixing the
    two, or holding anything else, is an error naming the first bad line."""

    def numeric(v: Any) -> float | None:
        try:
            return float(v) if v not in (None, "") else None
        except (TypeError, ValueError):
            return None

    numbers = [numeric(v) for v in values]
    if all(n is not None for n in numbers):
        return [float(n) for n in numbers if n is not None]
    out: list[float] = []
    for number, value in enumerate(values, start=2):  # line 1: header
        try:
            when = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        except ValueError:
            raise DatasetError(
                f"{path}:{number}: --time column {column!r}: {value!r} is neither a number nor an RFC 3339 time"
            ) from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)  # no offset written: taken as UTC, as the pipeline writes times
        out.append(when.timestamp())
    return out


def _label(path: Path, number: int, row: dict[str, Any], label: str) -> int:
    value = str(row[label]).strip().lower()
    if value not in ("0", "1", "true", "false"):
        raise DatasetError(f"{path}:{number}: label {label!r} must be 0/1 or true/false, got {row[label]!r}")
    return 1 if value in ("1", "true") else 0


def _transaction_matrix(path: Path, rows: list[dict[str, Any]]) -> np.ndarray:
    vectors = []
    for number, row in enumerate(rows, start=2):
        try:
            tx = Transaction.model_validate(
                {k: _value(k, row[k]) for k in TX_FIELDS if _value(k, row.get(k)) is not None}
            )
            ctx_raw = {k: _value(k, row.get(k)) for k in CONTEXT_FIELDS if _value(k, row.get(k)) is not None}
            if isinstance(ctx_raw.get("rules_fired"), str):
                ctx_raw["rules_fired"] = [r for r in ctx_raw["rules_fired"].split("|") if r]
            ctx = TransactionContext.model_validate(ctx_raw)
        except (ValidationError, ValueError) as exc:
            raise DatasetError(f"{path}:{number}: {exc}".splitlines()[0]) from exc
        vectors.append(compute(tx, ctx))
    return np.asarray(vectors, dtype=np.float32)


def _number(raw: Any) -> float | None:
    """A cell as a number; None when empty (a missing value, which gradient boosting handles)."""
    if raw is None or raw == "":
        return None
    return float(raw)


def _numeric_columns(rows: list[dict[str, Any]], exclude: set[str]) -> tuple[str, ...]:
    out = []
    for column in rows[0]:
        if column in exclude:
            continue
        try:
            values = [_number(r[column]) for r in rows]
        except (TypeError, ValueError):
            continue
        if any(v is not None for v in values):
            out.append(column)
    return tuple(out)


def _numeric_matrix(path: Path, rows: list[dict[str, Any]], names: tuple[str, ...]) -> np.ndarray:
    missing = [n for n in names if n not in rows[0]]
    if missing:
        raise DatasetError(f"{path}: --features: column(s) not in the file: {', '.join(missing)}")
    matrix = np.empty((len(rows), len(names)), dtype=np.float32)
    for number, row in enumerate(rows, start=2):
        for j, name in enumerate(names):
            try:
                value = _number(row[name])
            except (TypeError, ValueError) as exc:
                raise DatasetError(
                    f"{path}:{number}: --features column {name!r} is not numeric: {row[name]!r}"
                ) from exc
            matrix[number - 2, j] = np.nan if value is None else value
    return matrix


def feature_names() -> tuple[str, ...]:
    return FEATURES
