"""Labelled synthetic transactions (with detection context) for training the shipped model and for
tests. Fraud is drawn from a hidden risk function of the same signals a fraud analyst would use,
with noise, so a model has something real but imperfect to learn. Deterministic for a seed."""

from __future__ import annotations

import csv
import math
import random
from datetime import datetime, timedelta
from pathlib import Path

from fraudctl.contract import RISKY_CATEGORIES, TransactionContext
from udf_service.features import RULE_NAMES, haversine_km

CITIES = [
    ("London", 51.5074, -0.1278, "GBP"),
    ("Paris", 48.8566, 2.3522, "EUR"),
    ("Berlin", 52.52, 13.405, "EUR"),
    ("Madrid", 40.4168, -3.7038, "EUR"),
    ("New York", 40.7128, -74.006, "USD"),
    ("Lagos", 6.5244, 3.3792, "NGN"),
]
CATEGORIES = ["grocery", "transport", "restaurant", "pharmacy", "books", "fuel", *sorted(RISKY_CATEGORIES)]
COLUMNS = [
    "transaction_id",
    "user_id",
    "amount",
    "currency",
    "timestamp",
    "location",
    "lat",
    "lon",
    "merchant_id",
    "merchant_category",
    "device_id",
    "channel",
    *TransactionContext.model_fields,
    "is_fraud",
]


def _km(a: tuple[str, float, float, str], b: tuple[str, float, float, str]) -> float:
    return haversine_km(a[1], a[2], b[1], b[2])


def generate(rows: int, seed: int, start: str = "2024-09-01T00:00:00Z") -> list[dict[str, object]]:
    """Rows of transaction + engine context + label. The context is drawn, not computed from a
    history (each row is independent), with the shapes the engine's context has: counts include the
    transaction, no history means no average and no previous transaction."""
    rng = random.Random(seed)
    t0 = datetime.fromisoformat(start.replace("Z", "+00:00"))
    users = [(f"U{i:05d}", rng.choice(CITIES), rng.uniform(15, 200)) for i in range(max(10, rows // 40))]
    out = []
    for n in range(rows):
        user, home, avg = rng.choice(users)
        when = t0 + timedelta(seconds=n * 60 * 24 * 60 / rows * rng.uniform(0.9, 1.1))
        suspicious = rng.random() < 0.08
        city = rng.choice(CITIES) if suspicious and rng.random() < 0.5 else home
        amount = avg * (rng.uniform(3, 25) if suspicious and rng.random() < 0.5 else rng.uniform(0.5, 1.6))
        if suspicious and rng.random() < 0.4:
            when = when.replace(hour=rng.randrange(0, 5))
        channel = (
            rng.choice(["atm", "ecom"]) if suspicious and rng.random() < 0.6 else rng.choice(["pos", "ecom", "atm"])
        )
        category = (
            rng.choice(sorted(RISKY_CATEGORIES)) if suspicious and rng.random() < 0.6 else rng.choice(CATEGORIES[:6])
        )
        history = 0 if rng.random() < 0.03 else rng.randint(1, 80)
        count_1h = 1 + (rng.randint(3, 12) if suspicious and rng.random() < 0.3 else rng.randint(0, 2))
        count_24h = count_1h + rng.randint(0, 6)
        previous_s = None if history == 0 else rng.expovariate(1 / 20_000) + 30
        previous_city = city if rng.random() < 0.9 else rng.choice(CITIES)
        distance_prev = None if history == 0 else _km(previous_city, city) + rng.uniform(0, 3)
        speed = None if previous_s is None or distance_prev is None else distance_prev / (previous_s / 3600)
        new_device = rng.random() < (0.35 if suspicious else 0.03)
        new_merchant = rng.random() < (0.7 if suspicious else 0.3)
        rules = [r for r in RULE_NAMES if rng.random() < (0.2 if suspicious else 0.005)]
        far = city != home
        risky = category in RISKY_CATEGORIES
        # The hidden risk: large amounts against the habit, far from home, at night, cash, risky
        # merchants (cash at a risky merchant above all), bursts, new devices, rule hits.
        risk = (
            -5.0
            + 1.1 * math.log(amount / avg + 0.1)
            + 1.2 * far
            + 0.8 * (when.hour < 6)
            + 0.8 * (channel == "atm")
            + 1.4 * risky
            + 3.2 * (risky and channel == "atm")
            + 0.25 * (count_1h - 1)
            + 1.0 * new_device
            + 0.3 * new_merchant
            + 0.8 * len(rules)
            + rng.gauss(0, 0.5)
        )
        is_fraud = rng.random() < 1 / (1 + math.exp(-risk))
        out.append(
            {
                "transaction_id": f"T{n:07d}",
                "user_id": user,
                "amount": round(amount, 2),
                "currency": city[3],
                "timestamp": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "location": city[0],
                "lat": city[1],
                "lon": city[2],
                "merchant_id": f"M{rng.randrange(1, 400):04d}",
                "merchant_category": category,
                "device_id": f"dev-{user}" + ("-new" if new_device else ""),
                "channel": channel,
                "rules_fired": "|".join(rules),
                "txn_count_1h": count_1h,
                "amount_sum_1h": round(amount * count_1h, 2),
                "txn_count_24h": count_24h,
                "amount_sum_24h": round(amount * count_24h, 2),
                "history_count": history,
                "user_avg_amount": round(avg, 2) if history else "",
                "seconds_since_previous": round(previous_s, 3) if previous_s is not None else "",
                "distance_from_previous_km": round(distance_prev, 3) if distance_prev is not None else "",
                "speed_from_previous_kmh": round(speed, 3) if speed is not None else "",
                "distance_from_usual_km": round(_km(home, city) + rng.uniform(0, 3), 3) if history else "",
                "new_device": int(new_device),
                "new_merchant": int(new_merchant),
                "is_fraud": int(is_fraud),
            }
        )
    return out


def write_csv(rows: list[dict[str, object]], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
