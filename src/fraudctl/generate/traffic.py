"""Synthetic traffic with labelled, injected fraud: the demo's input and a test fixture.

A run is a schedule: each transaction has an offset in seconds from the start of the run; the
timestamp is given when it is sent (live) or from a fixed start (reproducible files). For one seed
and one set of rule parameters, the schedule is always the same; only the run id (which prefixes
every user and transaction id, so runs never share state in the engine) and the start differ.

Ordinary customers pay in their home city with their own device, at amounts near their habit and
below every threshold, and never fast enough to look like a burst: the generator spaces each
customer's payments from the rule parameters. Every injected case is one customer's short story
(history first, then the fraudulent payment) and names the transaction that must raise the alert."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from fraudctl.config.durations import duration_ms
from fraudctl.contract import RISKY_CATEGORIES

# Home cities: name, currency, coordinates, country.
CITIES = [
    ("London", "GBP", 51.5074, -0.1278, "GB"),
    ("Manchester", "GBP", 53.4808, -2.2426, "GB"),
    ("Paris", "EUR", 48.8566, 2.3522, "FR"),
    ("Berlin", "EUR", 52.52, 13.405, "DE"),
    ("Madrid", "EUR", 40.4168, -3.7038, "ES"),
    ("Milan", "EUR", 45.4642, 9.19, "IT"),
    ("New York", "USD", 40.7128, -74.006, "US"),
    ("Chicago", "USD", 41.8781, -87.6298, "US"),
    ("Toronto", "CAD", 43.6532, -79.3832, "CA"),
    ("Sydney", "AUD", -33.8688, 151.2093, "AU"),
]
EVERYDAY = ["grocery", "transport", "restaurant", "pharmacy", "books", "fuel", "clothing", "utilities"]
# The fraud stories' merchant categories: those the model treats as risky (the contract's list).
RISKY = sorted(RISKY_CATEGORIES)

RULE_KINDS = ("rapid_burst", "location_mismatch", "high_value", "blacklisted_account", "new_device")
# Fraud no rule can see (ordinary amount, home city, known device) that a model might: night-time
# cash and risky merchant categories. Labelled so the summary can count it.
MODEL_ONLY = "model_only"
KINDS = (*RULE_KINDS, MODEL_ONLY)


@dataclass(frozen=True)
class RuleParams:
    """The parameters the generator must respect (from the environment's rules)."""

    burst_min_count: int
    burst_window_s: float
    mismatch_window_s: float
    max_speed_kmh: float
    high_value_threshold: float
    high_value_multiple: float
    new_device_min_amount: float

    @classmethod
    def from_rules(cls, rules: list[dict[str, Any]]) -> RuleParams:
        p = {r["name"]: r["params"] for r in rules}
        return cls(
            burst_min_count=int(p["rapid_burst"]["min_count"]),
            burst_window_s=duration_ms(p["rapid_burst"]["window"]) / 1000,
            mismatch_window_s=duration_ms(p["location_mismatch"]["window"]) / 1000,
            max_speed_kmh=float(p["location_mismatch"]["max_speed_kmh"]),
            high_value_threshold=float(p["high_value"]["threshold"]),
            high_value_multiple=float(p["high_value"]["multiple"]),
            new_device_min_amount=float(p["new_device"]["min_amount"]),
        )


@dataclass(frozen=True)
class Planned:
    offset_s: float
    tx: dict[str, Any]  # the transaction without its timestamp


@dataclass(frozen=True)
class Injection:
    kind: str
    user_id: str
    transaction_ids: tuple[str, ...]  # the whole story, history included
    trigger_id: str  # the transaction that must raise the alert

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "user_id": self.user_id,
            "transaction_ids": list(self.transaction_ids),
            "trigger_id": self.trigger_id,
        }


@dataclass
class Traffic:
    run_id: str
    planned: list[Planned]
    injections: list[Injection]
    blacklist: dict[str, str] = field(default_factory=dict)  # user_id -> reason, seeded before traffic

    @property
    def injected_ids(self) -> set[str]:
        return {t for i in self.injections for t in i.transaction_ids}

    def labelled(self, start: datetime) -> list[dict[str, Any]]:
        """Every transaction with its timestamp from `start`, and `is_fraud` / `fraud_kind` labels."""
        kind_of = {i.trigger_id: i.kind for i in self.injections}
        return [
            {**stamp(p.tx, start + timedelta(seconds=p.offset_s)), "is_fraud": int(p.tx["transaction_id"] in kind_of)}
            | ({"fraud_kind": kind_of[p.tx["transaction_id"]]} if p.tx["transaction_id"] in kind_of else {})
            for p in self.planned
        ]


def stamp(tx: dict[str, Any], when: datetime) -> dict[str, Any]:
    return {**tx, "timestamp": when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"}


@dataclass
class _Customer:
    user_id: str
    city: tuple[str, str, float, float, str]
    device: str
    habit: float
    categories: list[str]

    def payment(self, rng: random.Random, tx_id: str, **over: Any) -> dict[str, Any]:
        name, currency, lat, lon, country = self.city
        tx = {
            "transaction_id": tx_id,
            "user_id": self.user_id,
            "amount": round(self.habit * rng.uniform(0.8, 1.25), 2),
            "currency": currency,
            "location": name,
            "lat": round(lat + rng.uniform(-0.03, 0.03), 4),
            "lon": round(lon + rng.uniform(-0.03, 0.03), 4),
            "country": country,
            "merchant_id": f"M{rng.randrange(1, 400):04d}",
            "merchant_category": rng.choice(self.categories),
            "device_id": self.device,
            "channel": rng.choices(["pos", "ecom", "atm"], [6, 3, 1])[0],
        }
        tx.update(over)
        return tx


def generate(
    run_id: str,
    params: RuleParams,
    rate: float,
    duration_s: float,
    seed: int,
    frauds_per_kind: int = 2,
    tail_s: float = 15.0,
) -> Traffic:
    """`rate` transactions per second for `duration_s`; injected cases start in the first part of
    the run so that at least `tail_s` seconds of ordinary traffic follow the last one (the stream
    engine evaluates a row once later rows move its event-time watermark past it)."""
    if rate <= 0 or duration_s <= 0:
        raise ValueError("rate and duration must be positive")
    rng = random.Random(seed)
    total = max(1, int(rate * duration_s))
    # Ordinary customers take turns, so each pays once every `users / rate` seconds: at most
    # min_count - 2 payments fit in one burst window, whatever the rate.
    min_gap = params.burst_window_s / max(1, params.burst_min_count - 2)
    users = max(50, math.ceil(rate * min_gap * 1.5))
    # Habits stay under every amount rule: the new-device minimum (a customer's first payment is
    # on a device the engine has not seen) and the high-value threshold.
    top = min(params.new_device_min_amount, params.high_value_threshold) / 1.3
    customers = [_customer(rng, f"{run_id}-C{i:05d}", top) for i in range(users)]
    rng.shuffle(customers)
    planned = [Planned(n / rate, customers[n % users].payment(rng, f"{run_id}-{n:06d}")) for n in range(total)]

    injections: list[Injection] = []
    blacklist: dict[str, str] = {}
    stories = []
    for kind, k in [(kind, k) for k in range(frauds_per_kind) for kind in KINDS]:
        victim = _customer(rng, f"{run_id}-F{kind[:2].upper()}{k:02d}", top)
        stories.append((kind, victim, _story(kind, victim, rng, params, f"{run_id}-{kind}-{k:02d}")))
    longest = max(story[-1][0] for _, _, story in stories)
    latest_start = duration_s - tail_s - longest
    if latest_start < 2.0:
        raise ValueError(
            f"a run of {duration_s:g} s is too short for these rules: the longest injected story takes "
            f"{longest:g} s and {tail_s:g} s of ordinary traffic must follow it; use at least "
            f"{math.ceil(2.0 + longest + tail_s)} s"
        )
    for n, (kind, victim, story) in enumerate(stories):
        start = 2.0 + (latest_start - 2.0) * n / len(stories)
        for dt, tx in story:
            planned.append(Planned(start + dt, tx))
        ids = tuple(tx["transaction_id"] for _, tx in story)
        injections.append(Injection(kind, victim.user_id, ids, ids[-1]))
        if kind == "blacklisted_account":
            blacklist[victim.user_id] = "demo: confirmed account takeover"
    planned.sort(key=lambda p: (p.offset_s, p.tx["transaction_id"]))
    return Traffic(run_id, planned, injections, blacklist)


def _customer(rng: random.Random, user_id: str, top: float) -> _Customer:
    return _Customer(
        user_id=user_id,
        city=rng.choice(CITIES),
        device=f"dev-{user_id}",
        habit=round(rng.uniform(12, top * 0.95), 2),
        categories=rng.sample(EVERYDAY, 4),
    )


def _story(
    kind: str, c: _Customer, rng: random.Random, params: RuleParams, prefix: str
) -> list[tuple[float, dict[str, Any]]]:
    """(seconds after the story starts, transaction); the last transaction is the trigger."""
    ids = (f"{prefix}-{i}" for i in range(100))
    if kind == "rapid_burst":
        # min_count small payments inside half the window: the last one completes the burst.
        step = params.burst_window_s / 2 / params.burst_min_count
        return [(i * step, c.payment(rng, next(ids))) for i in range(params.burst_min_count)]
    history = (0.0, c.payment(rng, next(ids)))
    if kind == "location_mismatch":
        # Paid at home, then 30 s later in a city at least 1,000 km away: impossible travel.
        far = max(CITIES, key=lambda city: _km(c.city[2], c.city[3], city[2], city[3]))
        name, currency, lat, lon, country = far
        return [
            history,
            (30.0, c.payment(rng, next(ids), location=name, currency=currency, lat=lat, lon=lon, country=country)),
        ]
    if kind == "high_value":
        amount = round(params.high_value_threshold * rng.uniform(1.2, 3.0), 2)
        return [history, (15.0, c.payment(rng, next(ids), amount=amount, merchant_category=rng.choice(RISKY)))]
    if kind == "blacklisted_account":
        return [(0.0, c.payment(rng, next(ids)))]
    if kind == "new_device":
        # A device never seen for this customer, at an amount between the new-device minimum and
        # both high-value limits, so that only this rule has a reason to fire.
        amount = round(params.new_device_min_amount * rng.uniform(1.0, 1.2), 2)
        first = c.payment(rng, next(ids), amount=round(max(c.habit, amount / params.high_value_multiple * 1.5), 2))
        return [(0.0, first), (15.0, c.payment(rng, next(ids), amount=amount, device_id=f"dev-{prefix}-new"))]
    if kind == MODEL_ONLY:
        # Cash at an ATM and a risky merchant category at the customer's usual size: no rule fires.
        return [history, (15.0, c.payment(rng, next(ids), channel="atm", merchant_category=rng.choice(RISKY)))]
    raise ValueError(f"unknown fraud kind {kind!r}; known: {', '.join(KINDS)}")


def _km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    return 12742 * math.asin(math.sqrt(a))
