"""Ordinary traffic for scenarios: users paying in their home city with their one device, spaced
out, amounts close to their own habit and below every threshold. Deterministic for a seed."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

CITIES = [
    ("London", "GBP", 51.5074, -0.1278),
    ("Paris", "EUR", 48.8566, 2.3522),
    ("Berlin", "EUR", 52.52, 13.405),
    ("Madrid", "EUR", 40.4168, -3.7038),
    ("New York", "USD", 40.7128, -74.006),
    ("Toronto", "CAD", 43.6532, -79.3832),
]
CATEGORIES = ["grocery", "transport", "restaurant", "pharmacy", "books", "fuel"]


def generate(users: int, transactions: int, seed: int, start: str) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    t0 = datetime.fromisoformat(start.replace("Z", "+00:00"))
    people: list[dict[str, Any]] = []
    for i in range(users):
        city, currency, lat, lon = rng.choice(CITIES)
        people.append(
            {
                "user_id": f"C{i:04d}",
                "city": city,
                "currency": currency,
                "lat": lat,
                "lon": lon,
                "device": f"dev-C{i:04d}",
                "habit": rng.uniform(10, 140),
            }
        )
    per_user = transactions // users
    rows: list[tuple[datetime, dict[str, Any]]] = []
    for p in people:
        when = t0 + timedelta(minutes=rng.uniform(0, 30))
        for n in range(per_user):
            # At least 20 minutes between one user's payments: far from any burst.
            when += timedelta(minutes=rng.uniform(20, 90))
            amount = round(p["habit"] * rng.uniform(0.75, 1.3), 2)
            rows.append(
                (
                    when,
                    {
                        "transaction_id": f"{p['user_id']}-{n:03d}",
                        "user_id": p["user_id"],
                        "amount": amount,
                        "currency": p["currency"],
                        "timestamp": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
                        "location": p["city"],
                        "lat": p["lat"],
                        "lon": p["lon"],
                        "merchant_category": rng.choice(CATEGORIES),
                        "device_id": p["device"],
                        "channel": rng.choice(["pos", "ecom"]),
                    },
                )
            )
    rows.sort(key=lambda r: (r[0], r[1]["transaction_id"]))  # arrival in time order
    return [r[1] for r in rows]
