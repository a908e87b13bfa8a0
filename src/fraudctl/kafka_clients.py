"""Settings every producer of the project's keyed topics shares.

Java clients (Kafka Connect's CDC source, ksqlDB, Flink) place a key with murmur2; librdkafka's
default (`consistent_random`, CRC32) places the same key elsewhere. A stream-table join on ksqlDB
needs one user's transactions and blacklist row on the same partition number, so every producer
here uses Java's partitioner (null keys still spread at random)."""

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
