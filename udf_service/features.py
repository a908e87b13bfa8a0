"""Features of a transaction and its detection context: the one module both training and serving
use, so a model never sees features computed differently from those it learned on."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from fraudctl.config.rules import RULES

# RISKY_CATEGORIES: merchant categories that carry more risk, a prior from the domain rather than a
# learned value; in the contract, shared with the generator.
from fraudctl.contract import RISKY_CATEGORIES, Transaction

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
    "distance_from_home_km",
    "txn_count_1h",
    "amount_sum_1h",
    "amount_to_user_avg",
    *(f"rule_{name}" for name in RULE_NAMES),
    "rules_fired",
)


class DetectionContext(BaseModel):
    """What the stream engine and the profile store know around the transaction (all optional)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rules_fired: list[str] = Field(default_factory=list, max_length=len(RULE_NAMES))
    txn_count_1h: int = Field(default=0, ge=0, le=1_000_000)
    amount_sum_1h: float = Field(default=0.0, ge=0, lt=1e15, allow_inf_nan=False)
    user_avg_amount: float | None = Field(default=None, gt=0, lt=1e12, allow_inf_nan=False)
    home_lat: float | None = Field(default=None, ge=-90, le=90)
    home_lon: float | None = Field(default=None, ge=-180, le=180)
    window_start: str | None = Field(default=None, max_length=64)
    window_end: str | None = Field(default=None, max_length=64)

    @field_validator("rules_fired")
    @classmethod
    def _known_rules(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(RULE_NAMES))
        if unknown:
            raise ValueError(f"unknown rule(s) {unknown}; known: {', '.join(RULE_NAMES)}")
        return value


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 12742.0 * math.asin(min(1.0, math.sqrt(a)))


def compute(tx: Transaction, ctx: DetectionContext | None = None) -> list[float]:
    """The feature vector, in FEATURES order."""
    ctx = ctx or DetectionContext()
    when = tx.event_time()
    channel = tx.channel.value if tx.channel else ""
    distance = 0.0
    if None not in (tx.lat, tx.lon, ctx.home_lat, ctx.home_lon):
        distance = haversine_km(tx.lat, tx.lon, ctx.home_lat, ctx.home_lon)  # type: ignore[arg-type]
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
        distance,
        float(ctx.txn_count_1h),
        ctx.amount_sum_1h,
        tx.amount / ctx.user_avg_amount if ctx.user_avg_amount else 1.0,
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
