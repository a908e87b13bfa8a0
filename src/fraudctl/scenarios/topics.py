"""What both scenario runners do with Kafka: fresh single-partition topics per scenario (so arrival
order is exactly the file's order), the scenario's records produced into them, and the topics
deleted afterwards."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from fraudctl.kafka_clients import PARTITIONER
from fraudctl.scenarios.model import Scenario, shifted_near


def fresh(names: Iterable[str]) -> dict[str, str]:
    """A new name for each declared topic, unique to one scenario run."""
    suffix = uuid.uuid4().hex[:8]
    return {name: f"scenario-{suffix}-{name}" for name in names}


# A scenario's events may span weeks (the average over 30 days): its topics keep records by time for
# ten years, so the broker deletes none mid-run. Not -1: ksqlDB gives the topics its queries create
# the source topic's retention, and a windowed table's topic the larger of that and the window's.
RETENTION_MS = str(10 * 365 * 86_400_000)


def create(admin: AdminClient, names: list[str]) -> None:
    topics = [NewTopic(n, num_partitions=1, replication_factor=1, config={"retention.ms": RETENTION_MS}) for n in names]
    for future in admin.create_topics(topics).values():
        future.result(timeout=30)


def delete(admin: AdminClient, names: list[str]) -> None:
    for future in admin.delete_topics(names, operation_timeout=30).values():
        with contextlib.suppress(Exception):  # a leftover scenario topic is harmless
            future.result(timeout=30)


def produce(bootstrap: str, sc: Scenario, topics: dict[str, str]) -> Scenario:
    """The scenario's reference data, then its transactions in file order, moved near now (see
    `shifted_near`); returns the scenario as produced. Reference data exists "before" every
    transaction: its record time precedes the first event by a day, so an event-time join (Flink) or
    a timestamp-ordered stream-table join (ksqlDB) sees it as of each transaction."""
    sc = shifted_near(sc, datetime.now(UTC))
    producer = Producer(
        {"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True, "partitioner": PARTITIONER}
    )
    reference_time = sc.first_event_ms() - 86_400_000
    for user in sc.blacklist:
        value = json.dumps({"user_id": user, "reason": "scenario", "added_at": None})
        producer.produce(topics["blacklist"], key=user, timestamp=reference_time, value=value)
    for tx in sc.transactions:
        producer.produce(topics["transactions"], key=str(tx["user_id"]), value=json.dumps(tx))
    if producer.flush(30) != 0:
        raise RuntimeError("could not deliver the scenario's records to Kafka")
    return sc
