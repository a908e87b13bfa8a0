"""Kafka client helpers every component shares: the producers' partitioner, and reading what a
`read_committed` reader gets (ends and whole partitions, transaction markers accounted for).

Java clients (Kafka Connect's CDC source, ksqlDB, Flink) place a key with murmur2; librdkafka's
default (`consistent_random`, CRC32) places the same key elsewhere. A stream-table join on ksqlDB
needs one user's transactions and blacklist row on the same partition number, so every producer
here uses Java's partitioner (null keys still spread at random)."""

from __future__ import annotations

from typing import Any

PARTITIONER = "murmur2_random"


def readable_ends(
    config: dict[str, str | int | float | bool], partitions: list[tuple[str, int]], window: int = 50
) -> dict[tuple[str, int], int]:
    """Per partition, the offset after the last record a `read_committed` reader gets. With
    transactional producers the high watermark also counts commit markers (one after each
    transaction, never delivered), so "committed offset = high watermark" would never hold for a
    consumer that is caught up: lag is measured against this end instead. Reads at most `window`
    offsets of each partition's tail; a tail of markers only (or aborted records) ends at its low
    side."""
    import time

    from confluent_kafka import Consumer, TopicPartition

    probe = Consumer(
        {
            **config,
            "group.id": f"fraudctl-probe-{time.time_ns()}",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
        }
    )
    ends: dict[tuple[str, int], int] = {}
    try:
        assign = []
        for topic, partition in partitions:
            low, high = probe.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
            start = max(low, high - window)
            ends[(topic, partition)] = start  # no record in the window: nothing readable past it
            if high > start:
                assign.append(TopicPartition(topic, partition, start))
        if assign:
            probe.assign(assign)
            quiet_until = time.monotonic() + 1.0
            while time.monotonic() < quiet_until:
                messages = probe.consume(500, 0.2)
                for msg in messages:
                    if msg.error() is None:
                        key = (str(msg.topic()), int(msg.partition() or 0))
                        ends[key] = max(ends[key], int(msg.offset() or 0) + 1)
                if messages:
                    quiet_until = time.monotonic() + 0.5
    finally:
        probe.close()
    return ends


def read_to_end(
    config: dict[str, str | int | float | bool],
    topic: str,
    partitions: list[int] | None = None,
    deadline_s: float = 30.0,
    must_finish: bool = False,
) -> list[Any]:
    """Every record of the partitions (all of them by default) from their start to their end as
    of now, as a `read_committed` reader gets them, in partition order. Transaction markers take
    offsets no record is delivered at: the reader's position moves past them, and that ends a
    partition too. Stops at the deadline per partition (`must_finish`: raise TimeoutError then)."""
    import time

    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer(
        {
            **config,
            "group.id": f"fraudctl-read-{time.time_ns()}",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
        }
    )
    out: list[Any] = []
    try:
        if partitions is None:
            meta = consumer.list_topics(topic, timeout=10).topics[topic]
            partitions = sorted(meta.partitions) if meta.error is None else []
        for partition in partitions:
            tp = TopicPartition(topic, partition)
            low, high = consumer.get_watermark_offsets(tp, timeout=10)
            consumer.assign([TopicPartition(topic, partition, low)])
            position, deadline = low, time.monotonic() + deadline_s
            while position < high:
                if time.monotonic() >= deadline:
                    if must_finish:
                        raise TimeoutError(f"{topic}[{partition}] not read to its end {high} in {deadline_s:.0f} s")
                    break
                msg = consumer.poll(0.5)
                if msg is None:
                    position = consumer.position([tp])[0].offset
                    continue
                if msg.error() is None:
                    position = int(msg.offset() or 0) + 1
                    out.append(msg)
            consumer.unassign()
    finally:
        consumer.close()
    return out
