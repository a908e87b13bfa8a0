"""The poison matrix (issue 15): on every topic a component reads, one record of each bad shape,
each followed by a valid control record. Each bad record must land in exactly one dead-letter
topic (its topic's owner's: the stream engine for `transactions` and `blacklist`, the enrichment
step for `detections` and `transactions-enriched`, the sink connectors for `fraud-alerts`), with
the reason in its headers; every connector, task and the Flink job stays RUNNING; every control
reaches PostgreSQL and the search index (an enriched control: transactions-scored).

Records are told apart by where they were written: every dead letter names its source topic,
partition and offset in headers (the engine's and the step's `source.*`, Connect's
`__connect.errors.*`), compared with the delivery reports of what this test produced."""

from __future__ import annotations

import json
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from confluent_kafka import Producer

from fraudctl.config.project import load_project
from fraudctl.config.targets import sink_targets
from fraudctl.contract import Alert, Detection, Transaction
from fraudctl.demo import sinks
from fraudctl.kafka_clients import read_to_end
from tests.conftest import Endpoints
from tests.faults import harness
from tests.stack.clock import stamp

pytestmark = [pytest.mark.stack, pytest.mark.faults]

DLQ_TOPICS = ("dlq-stream", "dlq-enrichment", "dlq-sinks")
PARTITIONS = 6
BIG = "x" * 900_000  # a 900 KB field: under the broker's 1 MB record limit, over every field's


def now() -> str:
    return stamp(datetime.now(UTC))


def transaction(run: str, name: str, **fields: Any) -> dict[str, Any]:
    return {
        "transaction_id": f"{run}-{name}",
        "user_id": f"{run}-{name}-U",
        "amount": 25.0,
        "currency": "EUR",
        "timestamp": now(),
        "location": "Paris",
        **fields,
    }


def detection(run: str, name: str, **fields: Any) -> dict[str, Any]:
    tx = f"{run}-{name}"
    return {
        "alert_id": f"high_value:{tx}",
        "rule": "high_value",
        "rule_id": "FR-003",
        "severity": "medium",
        "user_id": f"{tx}-U",
        "transaction_id": tx,
        "amount": 4000.0,
        "currency": "EUR",
        "location": "Paris",
        "event_time": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.000"),
        "window_start": None,
        "window_end": None,
        "evidence": "{}",
        **fields,
    }


def alert(run: str, name: str, **fields: Any) -> dict[str, Any]:
    return {**detection(run, name), "risk_score": 0.5, "model_version": "poison-test", "reasons": [], **fields}


def enriched(run: str, name: str, **fields: Any) -> dict[str, Any]:
    """A valid enriched transaction: a rule fired, so it raises no model alert whatever its score."""
    return {
        "transaction": transaction(run, name, **fields),
        "context": {"rules_fired": ["high_value"], "txn_count_1h": 1, "amount_sum_1h": 25.0},
    }


# (part, fields merged into it) that break an enriched transaction's contract.
ENRICHED_BREAKS: list[tuple[str, dict[str, Any]]] = [
    ("transaction", {"amount": -5}),
    ("transaction", {"currency": "euro"}),
    ("context", {"rules_fired": ["no_such_rule"]}),
    ("context", {"txn_count_1h": -1}),
    ("context", {"distance_from_usual_km": 1e9}),
    ("context", {"unexpected": 1}),
]


def without(record: dict[str, Any], name: str) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k != name}


# Per record model, for each field, values that break the contract (a missing required field is
# added below). tests/unit/test_record_contract.py-style completeness: every field has an entry.
TRANSACTION_BREAKS: dict[str, list[Any]] = {
    "transaction_id": ["", "t" * 129],
    "user_id": ["", "u" * 129],
    "amount": [-5, 0, "lots", 1e13],
    "currency": ["euro", "eu"],
    "timestamp": ["yesterday", "2024-11-16T14:00:00+02:00"],
    "location": ["", "l" * 129],
    "lat": [91.0, "north"],
    "lon": [-181.0],
    "country": ["c" * 65],
    "merchant_id": ["m" * 129],
    "merchant_category": ["k" * 65],
    "device_id": ["d" * 129],
    "channel": ["carrier-pigeon"],
}
HIT_BREAKS: dict[str, list[Any]] = {
    "alert_id": [""],
    "rule": ["no_such_rule"],
    "rule_id": [""],
    "severity": ["apocalyptic"],
    "user_id": [""],
    "transaction_id": [""],
    "amount": ["lots"],
    "currency": ["euro"],
    "location": ["l" * 129],
    "event_time": ["yesterday"],
    "window_start": ["soon"],
    "window_end": ["later"],
    "evidence": ["e" * 20_000],
}
# A detection also carries its transaction and context (Flink's do): each is checked.
DETECTION_BREAKS: dict[str, list[Any]] = {
    **HIT_BREAKS,
    "transaction": [{"transaction_id": ""}],
    "context": [{"rules_fired": ["no_such_rule"]}, {"txn_count_1h": -1}],
}
ALERT_BREAKS: dict[str, list[Any]] = {"risk_score": [1.5, "high"], "model_version": [""], "reasons": ["because"]}


def test_every_contract_field_has_a_bad_value() -> None:
    assert set(TRANSACTION_BREAKS) == set(Transaction.model_fields)
    assert set(DETECTION_BREAKS) == set(Detection.model_fields)
    assert set(ALERT_BREAKS) == set(Alert.model_fields) - set(Detection.model_fields)


@dataclass
class Bad:
    topic: str
    shape: str
    value: bytes | None
    partition: int | None = None
    at: tuple[int, int] | None = None  # (partition, offset) once written


def shapes(run: str) -> list[tuple[Bad, dict[str, Any] | None]]:
    """(bad record, the control written right after it) for every topic and shape."""

    def js(record: Any) -> bytes:
        return json.dumps(record).encode()

    out: list[tuple[Bad, dict[str, Any] | None]] = []
    n = 0

    def add(topic: str, shape: str, value: bytes | None, partition: int | None = None) -> None:
        nonlocal n
        n += 1
        out.append((Bad(topic, shape, value, partition), {"topic": topic, "n": n}))

    for topic, make in (("transactions", transaction), ("detections", detection), ("fraud-alerts", alert)):
        add(topic, "not JSON", f"not json {run}".encode())
        add(topic, "not a JSON object", js([run]))
        add(topic, "tombstone", None)
        base = make(run, f"{topic}-bad")
        breaks = {"transactions": TRANSACTION_BREAKS, "detections": DETECTION_BREAKS}.get(topic)
        if breaks is None:
            breaks = {**HIT_BREAKS, **ALERT_BREAKS}
        model = {"transactions": Transaction, "detections": Detection, "fraud-alerts": Alert}[topic]
        for field, values in breaks.items():
            if model.model_fields[field].is_required():
                add(topic, f"{field} missing", js(without(make(run, f"{topic}-{field}-missing"), field)))
            for i, value in enumerate(values):
                add(topic, f"{field}={str(value)[:20]!r}", js(make(run, f"{topic}-{field}-{i}", **{field: value})))
        big_field = "location" if topic == "transactions" else "evidence"
        add(topic, "900 KB", js({**base, big_field: BIG}))
    # Every evaluated transaction with its context (the step scores each one).
    add("transactions-enriched", "not JSON", f"not json {run}".encode())
    add("transactions-enriched", "not a JSON object", js([run]))
    add("transactions-enriched", "tombstone", None)
    add("transactions-enriched", "context missing", js({"transaction": transaction(run, "enr-noctx")}))
    for i, (where, bad) in enumerate(ENRICHED_BREAKS):
        good = enriched(run, f"enr-bad{i}")
        add("transactions-enriched", f"{where}: {str(bad)[:20]}", js({**good, where: {**good[where], **bad}}))
    add("transactions-enriched", "900 KB", js(enriched(run, "enr-big", location=BIG)))
    for p in range(PARTITIONS):
        ahead = stamp(datetime.now(UTC) + timedelta(hours=1))
        add("transactions", f"an hour ahead on partition {p}", js(transaction(run, f"ahead{p}", timestamp=ahead)), p)
    add("blacklist", "not JSON", f"not json {run}".encode())
    add("blacklist", "not a JSON object", js([run]))
    add("blacklist", "added_at too long", js({"user_id": f"{run}-bl-at", "reason": "r", "added_at": "a" * 65}))
    add("blacklist", "900 KB", js({"user_id": f"{run}-bl-big", "reason": BIG, "added_at": now()}))
    return out


def control(run: str, topic: str, n: int) -> list[tuple[str, str, dict[str, Any]]]:
    """Valid records that must each end as an alert (topic, key, value), following bad record n;
    on `transactions-enriched`, as a scored transaction."""
    name = f"ctl{n}"
    if topic == "transactions-enriched":
        e = enriched(run, f"e{name}")  # ectlN: told apart from the engine's own scored transactions
        return [("transactions-enriched", str(e["transaction"]["user_id"]), e)]
    if topic == "transactions":
        tx = transaction(run, name, amount=3000.0)
        return [("transactions", tx["user_id"], tx)]
    if topic == "detections":
        d = detection(run, name)
        return [("detections", d["user_id"], d)]
    if topic == "fraud-alerts":
        a = alert(run, name)
        return [("fraud-alerts", a["user_id"], a)]
    user = f"{run}-{name}-U"  # blacklist: an entry, then a small payment of that user
    return [
        ("blacklist", user, {"user_id": user, "reason": "poison-matrix control", "added_at": now()}),
        # Stamped ahead: the blacklist row's version is its record time (milliseconds), the
        # payment's event time has whole seconds.
        (
            "transactions",
            user,
            transaction(run, name, user_id=user, timestamp=stamp(datetime.now(UTC) + timedelta(seconds=2))),
        ),
    ]


def _job() -> tuple[str, int]:
    rest = "http://127.0.0.1:8081"
    jobs = requests.get(f"{rest}/jobs/overview", timeout=10).json()["jobs"]
    [job] = [j for j in jobs if j["name"].startswith("fraudctl:local:detections") and j["state"] == "RUNNING"]
    metric = requests.get(f"{rest}/jobs/{job['jid']}/metrics", params={"get": "numRestarts"}, timeout=10)
    return str(job["jid"]), int(metric.json()[0]["value"])


def _source(headers: dict[str, str]) -> tuple[str, int, int] | None:
    for prefix in ("source.", "__connect.errors."):
        if f"{prefix}topic" in headers:
            return headers[f"{prefix}topic"], int(headers[f"{prefix}partition"]), int(headers[f"{prefix}offset"])
    return None


def _reason(headers: dict[str, str]) -> str:
    return headers.get("error") or headers.get("__connect.errors.exception.message") or ""


def test_every_bad_record_lands_in_one_dead_letter_topic_and_every_control_is_stored(
    deployed: Endpoints,
) -> None:
    project, problems = load_project(harness.ROOT)
    assert not problems
    env = project.settings("local")
    bootstrap = deployed.bootstrap
    run = "pm" + uuid.uuid4().hex[:8]
    job_before = _job()
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True})
    matrix = shapes(run)
    expected_alerts: set[str] = set()
    expected_scored: set[str] = set()  # controls on transactions-enriched: each scored once

    def written(bad: Bad) -> Any:
        def report(err: Any, msg: Any) -> None:
            assert err is None, f"{bad.topic} {bad.shape}: {err}"
            bad.at = (int(msg.partition()), int(msg.offset()))

        return report

    harness.say(f"poison matrix {run}: {len(matrix)} bad records, each followed by a control")
    for bad, ctl in matrix:
        kwargs = {} if bad.partition is None else {"partition": bad.partition}
        producer.produce(bad.topic, key=f"{run}-bad".encode(), value=bad.value, on_delivery=written(bad), **kwargs)
        assert ctl is not None
        for topic, key, value in control(run, str(ctl["topic"]), int(ctl["n"])):
            producer.produce(topic, key=key.encode(), value=json.dumps(value).encode())
            if topic == "blacklist":
                continue
            if topic == "transactions-enriched":
                expected_scored.add(str(value["transaction"]["transaction_id"]))
                continue
            if topic == "transactions" and value["amount"] >= 1000:
                expected_alerts.add(f"high_value:{value['transaction_id']}")
            elif topic == "transactions":
                expected_alerts.add(f"blacklisted_account:{value['transaction_id']}")
            else:
                expected_alerts.add(str(value["alert_id"]))
        producer.flush(30)
    assert producer.flush(30) == 0
    assert all(bad.at is not None for bad, _ in matrix)

    # The engine evaluates a row once the watermark passed it: later traffic moves it.
    targets = sink_targets(project)
    deadline = time.monotonic() + 240
    tick = 0
    while True:
        tick += 1
        clock = transaction(run, f"clock{tick}", timestamp=stamp(datetime.now(UTC) + timedelta(seconds=7)))
        producer.produce("transactions", key=clock["user_id"].encode(), value=json.dumps(clock).encode())
        producer.flush(10)
        in_pg = sinks.postgres_alerts(env, targets.alerts_table, run).ids
        in_index = sinks.search_alerts(env, targets.alerts_index, run).ids
        controls_pg, controls_index = in_pg & expected_alerts, in_index & expected_alerts
        if controls_pg == expected_alerts and controls_index == expected_alerts:
            break
        if time.monotonic() > deadline:
            raise AssertionError(
                f"controls missing after 240 s: PostgreSQL {sorted(expected_alerts - in_pg)}, "
                f"index {sorted(expected_alerts - in_index)}"
            )
        time.sleep(2)
    harness.say(f"poison matrix {run}: all {len(expected_alerts)} controls in PostgreSQL and the index")
    scored = [
        str(json.loads(m.value())["transaction"]["transaction_id"])
        for m in read_to_end({"bootstrap.servers": bootstrap}, "transactions-scored", deadline_s=60, must_finish=True)
    ]
    # Every enriched control scored exactly once; no bad enriched record scored. (The engine's own
    # enriched transactions of this run, its controls on `transactions`, are scored too.)
    ours = sorted(t for t in scored if t.startswith(f"{run}-ectl"))
    assert ours == sorted(expected_scored), (
        f"scored: missing {sorted(expected_scored - set(ours))}, unexpected {sorted(set(ours) - expected_scored)}"
    )
    assert not [t for t in scored if t.startswith(f"{run}-enr-")], "a bad enriched record was scored"
    # Clock ticks are small first payments of new users: they trip no rule.
    stored_bad = sorted((in_pg | in_index) - expected_alerts)

    # Where every bad record went.
    landed: dict[tuple[str, int, int], list[tuple[str, str, str]]] = defaultdict(list)
    wanted = {(bad.topic, *bad.at) for bad, _ in matrix if bad.at is not None}
    deadline = time.monotonic() + 120
    while True:
        landed.clear()
        for dlq in DLQ_TOPICS:
            for msg in read_to_end({"bootstrap.servers": bootstrap}, dlq, deadline_s=60, must_finish=True):
                headers = {k: (v or b"").decode(errors="replace") for k, v in (msg.headers() or [])}
                source = _source(headers)
                if source in wanted:
                    landed[source].append((dlq, _reason(headers), headers.get("__connect.errors.connector.name", "")))
        if set(landed) == wanted or time.monotonic() > deadline:
            break
        time.sleep(3)
    # Each topic's one dead-letter topic, as topics.yaml declares it.
    owner = {name: str(spec.get("dead_letters")) for name, spec in project.declared_topics().items()}
    rows = []
    problems_found = []
    for bad, _ in matrix:
        assert bad.at is not None
        letters = landed.get((bad.topic, *bad.at), [])
        topics = sorted({t for t, _, _ in letters})
        rows.append((bad.topic, bad.shape, ",".join(topics) or "-", (letters[0][1] if letters else "")[:70]))
        if topics != [owner[bad.topic]]:
            problems_found.append(f"{bad.topic} / {bad.shape}: in {topics or 'no dead-letter topic'}")
        elif not all(reason for _, reason, _ in letters):
            problems_found.append(f"{bad.topic} / {bad.shape}: a dead letter without a reason")
        elif bad.topic == "fraud-alerts" and len(letters) != len({c for _, _, c in letters}):
            problems_found.append(f"{bad.topic} / {bad.shape}: one sink dead-lettered it twice")
    width = max(len(s) for _, s, _, _ in rows)
    print("\npoison matrix (topic, shape, dead-letter topic, reason):")
    for topic, shape, where, reason in rows:
        print(f"  {topic:<13} {shape:<{width}} {where:<15} {reason}")
    problems_found += [f"an alert of a bad record was stored: {a!r}" for a in stored_bad]
    assert not problems_found, "\n".join(problems_found)

    harness.wait_all_running()
    assert _job() == job_before, "the detection job restarted or was replaced"
