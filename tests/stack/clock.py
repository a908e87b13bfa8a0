"""Moving the deployed Flink job's event-time watermark, for tests that stream a few records and
wait for their results: the engine evaluates a row only once the watermark (the newest event time
minus the allowed lateness) has passed it, which takes later records."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from confluent_kafka import Producer


def stamp(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


class Clock:
    """Each tick is one payment of a new user (a first, small payment trips no rule), stamped a
    little ahead of the wall clock."""

    def __init__(self, producer: Producer, prefix: str) -> None:
        self.producer, self.prefix, self.n = producer, prefix, 0

    def tick(self) -> None:
        self.n += 1
        tx = {
            "transaction_id": f"{self.prefix}-clock-{self.n}",
            "user_id": f"{self.prefix}-clock-{self.n}",
            "amount": 1.0,
            "currency": "EUR",
            "timestamp": stamp(datetime.now(UTC) + timedelta(seconds=7)),
            "location": "Lisbon",
        }
        self.producer.produce("transactions", key=tx["user_id"], value=json.dumps(tx))
        self.producer.flush(10)
