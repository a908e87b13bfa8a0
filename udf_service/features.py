"""Features of a transaction and its detection context: the one module both training and serving
use, so a model never sees features computed differently from those it learned on."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from fraudctl.config.rules import RULES

# RISKY_CATEGORIES: merchant categories that carry more risk, a prior from the domain rather than a
# learned value; in the contract, shared with the generator.
from fraudctl.contract import RISKY_CATEGORIES, Transaction, TransactionContext

RULE_NAMES = tuple(sorted(RULES))

FEATURES: tuple[str, ...] = (
    "amount",
    "log_amount",
    "hour_of_day",
    "is_night",
    "day_of_week",
    "channel_pos",
    "channel_ecom",
    "channel_atm",
    "has_device",
    "has_coords",
    "risky_category",
    "txn_count_1h",
    "log_amount_sum_1h",
    "txn_count_24h",
    "log_amount_sum_24h",
    "history_count",
    "amount_to_user_avg",
    "log_seconds_since_previous",
    "distance_from_previous_km",
    "log_speed_from_previous_kmh",
    "distance_from_usual_km",
    "new_device",
    "new_merchant",
    *(f"rule_{name}" for name in RULE_NAMES),
    "rules_fired",
)

# What a feature is when the engine had nothing to compute it from (no history, no coordinates):
# a value no real transaction has, so a tree model can tell "unknown" from any measured value.
_UNKNOWN = -1.0


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 12742.0 * math.asin(min(1.0, math.sqrt(a)))


def _or_unknown(value: float | None, transform: Callable[[float], float] = float) -> float:
    return _UNKNOWN if value is None else transform(value)


def compute(tx: Transaction, ctx: TransactionContext | None = None) -> list[float]:
    """The feature vector, in FEATURES order: transforms of the transaction and of the context the
    engine computed, nothing looked up (so training on archived records sees what serving saw)."""
    ctx = ctx or TransactionContext()
    when = tx.event_time()
    channel = tx.channel.value if tx.channel else ""
    fired = set(ctx.rules_fired)
    return [
        tx.amount,
        math.log1p(tx.amount),
        float(when.hour),
        1.0 if when.hour < 6 else 0.0,
        float(when.weekday()),
        1.0 if channel == "pos" else 0.0,
        1.0 if channel == "ecom" else 0.0,
        1.0 if channel == "atm" else 0.0,
        1.0 if tx.device_id else 0.0,
        1.0 if tx.lat is not None and tx.lon is not None else 0.0,
        1.0 if (tx.merchant_category or "").lower() in RISKY_CATEGORIES else 0.0,
        float(ctx.txn_count_1h),
        math.log1p(ctx.amount_sum_1h),
        float(ctx.txn_count_24h),
        math.log1p(ctx.amount_sum_24h),
        float(ctx.history_count),
        tx.amount / ctx.user_avg_amount if ctx.user_avg_amount else _UNKNOWN,
        _or_unknown(ctx.seconds_since_previous, math.log1p),
        _or_unknown(ctx.distance_from_previous_km),
        _or_unknown(ctx.speed_from_previous_kmh, math.log1p),
        _or_unknown(ctx.distance_from_usual_km),
        1.0 if ctx.new_device else 0.0,
        1.0 if ctx.new_merchant else 0.0,
        *(1.0 if name in fired else 0.0 for name in RULE_NAMES),
        float(len(fired)),
    ]


def reasons_of(vectors: Any, metadata: dict[str, Any], top: int = 3) -> list[list[str]]:
    """`reasons` for every row of a batch at once (numpy): the same ranking, without a Python loop
    per feature."""
    import numpy as np

    means = np.asarray(metadata["means"], dtype=np.float64)
    scales = np.asarray(metadata["scales"], dtype=np.float64)
    importances = np.asarray(metadata["importances"], dtype=np.float64)
    z = np.abs(np.asarray(vectors, dtype=np.float64) - means) / np.where(scales == 0, 1.0, scales)
    weight = np.where(z >= 1.0, importances * z, 0.0)
    # A stable sort on -weight keeps the feature order among ties, as sorted() does.
    ranked = np.argsort(-weight, axis=1, kind="stable")[:, :top]
    return [[FEATURES[i] for i in row if w[i] > 0] for row, w in zip(ranked, weight, strict=True)]


def reasons(
    vector: Sequence[float],
    means: Sequence[float],
    scales: Sequence[float],
    importances: Sequence[float],
    top: int = 3,
) -> list[str]:
    """The features that move this transaction furthest from the training average, weighted by the
    model's importance of each feature (an explanation, not an attribution of the score)."""
    z = [abs(v - m) / (s or 1.0) for v, m, s in zip(vector, means, scales, strict=True)]
    # A feature within one standard deviation of the average explains nothing about this transaction.
    weight = [imp * zi if zi >= 1.0 else 0.0 for zi, imp in zip(z, importances, strict=True)]
    ranked = sorted(range(len(FEATURES)), key=lambda i: -weight[i])
    return [FEATURES[i] for i in ranked[:top] if weight[i] > 0]
