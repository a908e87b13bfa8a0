"""The embedded local stack: real Kafka, Connect, PostgreSQL, Elasticsearch, an S3 server and Flink,
run as plain processes on loopback, with all their state under .local/."""
