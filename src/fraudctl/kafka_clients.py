"""Settings every producer of the project's keyed topics shares.

Java clients (Kafka Connect's CDC source, ksqlDB, Flink) place a key with murmur2; librdkafka's
default (`consistent_random`, CRC32) places the same key elsewhere. A stream-table join on ksqlDB
needs one user's transactions and blacklist row on the same partition number, so every producer
here uses Java's partitioner (null keys still spread at random)."""

PARTITIONER = "murmur2_random"
