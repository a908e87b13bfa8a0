"""Reading new records of a topic from the moment the watcher starts (no consumer group, nothing
committed): the demo's view of fraud-alerts and of the blacklist topic."""

from __future__ import annotations

import json
import time
from typing import Any

from confluent_kafka import Consumer, TopicPartition


class TopicWatcher:
    def __init__(self, kafka: dict[str, str | int | float | bool], topic: str) -> None:
        self.consumer = Consumer(
            {
                **kafka,
                "group.id": f"fraudctl-watch-{time.time_ns()}",
                "enable.auto.commit": False,
                # The enrichment step and the Flink job write in transactions: only committed
                # records are what the sinks will hold.
                "isolation.level": "read_committed",
            }
        )
        metadata = self.consumer.list_topics(topic, timeout=10).topics[topic]
        if metadata.error is not None:
            raise RuntimeError(f"topic {topic!r}: {metadata.error.str()} (is the environment applied?)")
        starts = []
        for p in sorted(metadata.partitions):
            _low, high = self.consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            starts.append(TopicPartition(topic, p, high))
        self.consumer.assign(starts)

    def poll(self, timeout: float, max_records: int = 500) -> list[tuple[bytes | None, dict[str, Any] | None]]:
        """(key, value as JSON or None for a tombstone or a value that is not JSON) of new records."""
        out: list[tuple[bytes | None, dict[str, Any] | None]] = []
        for msg in self.consumer.consume(max_records, timeout):
            if msg.error() is not None:
                continue
            raw = msg.value()
            try:
                value = json.loads(raw) if raw else None
            except ValueError:
                value = None
            key = msg.key()
            out.append((key if isinstance(key, bytes) else None, value if isinstance(value, dict) else None))
        return out

    def close(self) -> None:
        self.consumer.close()
