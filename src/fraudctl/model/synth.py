"""Labelled synthetic transactions (with detection context) for training the shipped model and for
tests. Fraud is drawn from a hidden risk function of the same signals a fraud analyst would use,
with noise, so a model has something real but imperfect to learn. Deterministic for a seed."""

from __future__ import annotations

import csv
import math
import random
from datetime import datetime, timedelta
from pathlib import Path

from fraudctl.contract import RISKY_CATEGORIES
from udf_service.features import RULE_NAMES

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
    "merchant_category",
    "device_id",
    "channel",
    "rules_fired",
    "txn_count_1h",
    "amount_sum_1h",
    "user_avg_amount",
    "home_lat",
    "home_lon",
    "is_fraud",
]


def generate(rows: int, seed: int, start: str = "2024-09-01T00:00:00Z") -> list[dict[str, object]]:
    rng = random.Random(seed)
    t0 = datetime.fromisoformat(start.replace("Z", "+00:00"))
    users = [(f"U{i:05d}", rng.choice(CITIES), rng.uniform(15, 200)) for i in range(max(10, rows // 40))]
    out = []
    for n in range(rows):
        user, home, avg = rng.choice(users)
        when = t0 + timedelta(seconds=n * 60 * 24 * 60 / rows * rng.uniform(0.9, 1.1))
        suspicious = rng.random() < 0.08
        city = rng.choice(CITIES) if suspicious and rng.random() < 0.6 else home
        amount = avg * (rng.uniform(3, 25) if suspicious and rng.random() < 0.7 else rng.uniform(0.5, 1.6))
        if suspicious and rng.random() < 0.5:
            when = when.replace(hour=rng.randrange(0, 5))
        channel = rng.choice(["atm", "ecom"]) if suspicious and rng.random() < 0.6 else rng.choice(["pos", "ecom"])
        category = (
            rng.choice(sorted(RISKY_CATEGORIES)) if suspicious and rng.random() < 0.5 else rng.choice(CATEGORIES[:6])
        )
        count = rng.randint(3, 12) if suspicious and rng.random() < 0.4 else rng.randint(0, 3)
        rules = [r for r in RULE_NAMES if rng.random() < (0.25 if suspicious else 0.02)]
        far = city != home
        risk = (
            -4.2
            + 1.2 * math.log(amount / avg + 0.1)
            + 1.3 * far
            + 0.8 * (when.hour < 6)
            + 0.7 * (channel == "atm")
            + 0.9 * (category in RISKY_CATEGORIES)
            + 0.18 * count
            + 0.6 * len(rules)
            + rng.gauss(0, 0.6)
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
                "merchant_category": category,
                "device_id": f"dev-{user}",
                "channel": channel,
                "rules_fired": "|".join(rules),
                "txn_count_1h": count,
                "amount_sum_1h": round(amount * count, 2),
                "user_avg_amount": round(avg, 2),
                "home_lat": home[1],
                "home_lon": home[2],
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
