"""Sending generated traffic to Kafka at its scheduled rate, with the idempotent producer.

Live runs stamp each transaction with the time it is sent (event time = now), so the engine's
watermark follows the wall clock; a fixed `start` stamps `start + offset` instead (reproducible)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from confluent_kafka import KafkaError, Message, Producer

from fraudctl.generate.traffic import Traffic, stamp
from fraudctl.kafka_clients import PARTITIONER


class SendError(Exception):
    pass


@dataclass
class SendStats:
    planned: int
    sent: int = 0
    acknowledged: int = 0
    failed: list[str] = field(default_factory=list)
    # transaction_id -> wall-clock seconds when it was handed to the producer
    sent_at: dict[str, float] = field(default_factory=dict)
    behind_s: float = 0.0  # how far the sender fell behind its schedule at worst


def producer_config(kafka: dict[str, str | int | float | bool]) -> dict[str, str | int | float | bool]:
    # Idempotent: a retried send is written once; acks=all: acknowledged means replicated.
    return {**kafka, "enable.idempotence": True, "acks": "all", "linger.ms": 5, "partitioner": PARTITIONER}


class Sender(threading.Thread):
    def __init__(
        self,
        traffic: Traffic,
        kafka: dict[str, str | int | float | bool],
        topic: str,
        start: datetime | None = None,
        on_progress: Callable[[SendStats], None] | None = None,
    ) -> None:
        super().__init__(name="traffic-sender", daemon=True)
        self.traffic = traffic
        self.topic = topic
        self.start_at = start
        self.producer = Producer(producer_config(kafka))
        self.stats = SendStats(planned=len(traffic.planned))
        self.on_progress = on_progress
        self.error: Exception | None = None
        self._halt = threading.Event()

    def stop(self) -> None:
        self._halt.set()

    def run(self) -> None:
        try:
            self._send_all()
        except Exception as exc:  # noqa: BLE001 - reported by the caller through self.error
            self.error = exc

    def _ack(self, err: KafkaError | None, msg: Message) -> None:
        if err is not None:
            self.stats.failed.append(f"{msg.key()!r}: {err.str()}")
        else:
            self.stats.acknowledged += 1

    def _send_all(self) -> None:
        t0 = time.monotonic()
        for planned in self.traffic.planned:
            if self._halt.is_set():
                break
            delay = planned.offset_s - (time.monotonic() - t0)
            if delay > 0:
                self._halt.wait(delay)
            else:
                self.stats.behind_s = max(self.stats.behind_s, -delay)
            now = datetime.now(UTC)
            when = now if self.start_at is None else self.start_at + timedelta(seconds=planned.offset_s)
            tx = stamp(planned.tx, when)
            payload = json.dumps(tx).encode()
            while True:
                try:
                    self.producer.produce(self.topic, key=tx["user_id"].encode(), value=payload, on_delivery=self._ack)
                    break
                except BufferError:  # local queue full: wait for acknowledgements, never drop
                    self.producer.poll(0.1)
            self.stats.sent += 1
            self.stats.sent_at[tx["transaction_id"]] = now.timestamp()
            self.producer.poll(0)
            if self.on_progress and self.stats.sent % 100 == 0:
                self.on_progress(self.stats)
        remaining = self.producer.flush(60)
        if remaining:
            raise SendError(f"{remaining} transaction(s) not acknowledged by Kafka within 60 s")
        if self.stats.failed:
            raise SendError(f"{len(self.stats.failed)} transaction(s) failed: {self.stats.failed[0]}")
