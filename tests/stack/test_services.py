"""Each service of the local stack, exercised for real over its own protocol."""

from __future__ import annotations

import json
import time
import uuid

import boto3
import psycopg
import pytest
import requests
from botocore.config import Config
from confluent_kafka import Consumer, KafkaError, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from fraudctl.flink.gateway import FlinkSession
from tests.conftest import Endpoints

pytestmark = pytest.mark.stack


def _create_topic(bootstrap: str, name: str, partitions: int = 3) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})  # keep a reference until the futures resolve
    futures = admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])
    for future in futures.values():
        future.result(timeout=30)


def _consume(bootstrap: str, topic: str, expected: int, timeout: float = 60.0) -> list[tuple[str, str]]:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"test-{uuid.uuid4()}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    got: list[tuple[str, str]] = []
    deadline = time.monotonic() + timeout
    try:
        while len(got) < expected and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            if msg.error():
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    continue
                raise AssertionError(f"consume error: {msg.error()}")
            key = msg.key().decode() if msg.key() else ""
            got.append((key, msg.value().decode() if msg.value() else ""))
    finally:
        consumer.close()
    return got


def test_kafka_idempotent_produce_consume_round_trip(local_stack: Endpoints) -> None:
    topic = f"t-roundtrip-{uuid.uuid4().hex[:8]}"
    _create_topic(local_stack.bootstrap, topic)
    producer = Producer({"bootstrap.servers": local_stack.bootstrap, "acks": "all", "enable.idempotence": True})
    sent = [(f"U{i % 5}", json.dumps({"transaction_id": f"t{i}", "amount": i + 0.5})) for i in range(50)]
    errors: list[str] = []
    for key, value in sent:
        producer.produce(topic, key=key, value=value, on_delivery=lambda e, m: errors.append(str(e)) if e else None)
    assert producer.flush(30) == 0
    assert errors == []
    got = _consume(local_stack.bootstrap, topic, len(sent))
    assert sorted(got) == sorted(sent)


def test_connect_lists_every_plugin_the_pipeline_needs(local_stack: Endpoints) -> None:
    plugins = requests.get(f"{local_stack.connect_url}/connector-plugins", timeout=10).json()
    classes = {p["class"]: p["type"] for p in plugins}
    assert classes["io.debezium.connector.jdbc.JdbcSinkConnector"] == "sink"  # PostgreSQL upsert sink
    assert classes["io.debezium.connector.postgresql.PostgresConnector"] == "source"  # PostgreSQL CDC source
    assert classes["io.github.fraudpipeline.connect.s3.S3ArchiveSinkConnector"] == "sink"
    assert classes["io.github.fraudpipeline.connect.search.SearchSinkConnector"] == "sink"


def test_connect_resolves_env_config_provider(local_stack: Endpoints) -> None:
    # The worker resolves ${env:...} before validating; an unresolvable reference would be an error.
    body = {
        "connector.class": "io.github.fraudpipeline.connect.search.SearchSinkConnector",
        "name": "validate-only",
        "topics": "x",
        "connection.url": "http://127.0.0.1:9200",
        "connection.password": "${env:FRAUD_PG_PASSWORD}",
    }
    resp = requests.put(
        f"{local_stack.connect_url}/connector-plugins/SearchSinkConnector/config/validate",
        json=body,
        timeout=30,
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["error_count"] == 0, resp.text


def test_postgres_row_written_and_read_back(local_stack: Endpoints) -> None:
    table = f"t_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(local_stack.pg_conninfo, autocommit=True) as conn:
        conn.execute(f"CREATE TABLE {table} (id text PRIMARY KEY, amount numeric NOT NULL)")
        conn.execute(f"INSERT INTO {table} VALUES (%s, %s)", ("t1", "12.50"))
        row = conn.execute(f"SELECT id, amount::text FROM {table}").fetchone()
        wal_level = conn.execute("SHOW wal_level").fetchone()
        conn.execute(f"DROP TABLE {table}")
    assert row == ("t1", "12.50")
    assert wal_level == ("logical",)  # the CDC source needs it


def test_search_document_indexed_and_found(local_stack: Endpoints) -> None:
    index = f"test-{uuid.uuid4().hex[:8]}"
    url = local_stack.search_url
    doc = {"alert_id": "a1", "rule": "high_value", "user_id": "U1"}
    assert requests.put(f"{url}/{index}/_doc/a1?refresh=true", json=doc, timeout=30).status_code == 201
    # Same id again overwrites: the property the alerts sink relies on.
    assert requests.put(f"{url}/{index}/_doc/a1?refresh=true", json=doc, timeout=30).status_code == 200
    hits = requests.post(
        f"{url}/{index}/_search", json={"query": {"term": {"user_id.keyword": "U1"}}}, timeout=30
    ).json()["hits"]
    assert hits["total"]["value"] == 1
    assert hits["hits"][0]["_source"] == doc
    requests.delete(f"{url}/{index}", timeout=30)


def test_s3_object_put_and_listed(local_stack: Endpoints) -> None:
    s3 = boto3.client(
        "s3",
        endpoint_url=local_stack.s3_endpoint,
        region_name=local_stack.s3_region,
        aws_access_key_id=local_stack.s3_access_key,
        aws_secret_access_key=local_stack.s3_secret_key,
        config=Config(s3={"addressing_style": "path"}),
    )
    bucket = f"test-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="raw/dt=2024-11-16/part-0.jsonl", Body=b'{"transaction_id":"t1"}\n')
    listed = s3.list_objects_v2(Bucket=bucket, Prefix="raw/")
    assert [o["Key"] for o in listed["Contents"]] == ["raw/dt=2024-11-16/part-0.jsonl"]
    body = s3.get_object(Bucket=bucket, Key="raw/dt=2024-11-16/part-0.jsonl")["Body"].read()
    assert body == b'{"transaction_id":"t1"}\n'


def test_flink_sql_job_reads_kafka_and_writes_aggregate(local_stack: Endpoints) -> None:
    suffix = uuid.uuid4().hex[:8]
    source, sink = f"t-flink-in-{suffix}", f"t-flink-out-{suffix}"
    _create_topic(local_stack.bootstrap, source)
    _create_topic(local_stack.bootstrap, sink)
    producer = Producer({"bootstrap.servers": local_stack.bootstrap, "acks": "all", "enable.idempotence": True})
    amounts = {"U1": [10.0, 20.0, 30.0], "U2": [5.0]}
    for user, values in amounts.items():
        for i, amount in enumerate(values):
            producer.produce(source, key=user, value=json.dumps({"user_id": user, "amount": amount, "n": i}))
    assert producer.flush(30) == 0

    kafka = f"'properties.bootstrap.servers' = '{local_stack.bootstrap}'"
    with FlinkSession(local_stack.flink_gateway) as session:
        session.execute(
            "CREATE TABLE src (user_id STRING, amount DOUBLE) WITH ("
            f"'connector' = 'kafka', 'topic' = '{source}', "
            f"{kafka}, 'properties.group.id' = 'test-{suffix}', 'scan.startup.mode' = 'earliest-offset', "
            "'format' = 'json')"
        )
        session.execute(
            "CREATE TABLE agg (user_id STRING, n BIGINT, total DOUBLE, "
            "PRIMARY KEY (user_id) NOT ENFORCED) WITH "
            f"('connector' = 'upsert-kafka', 'topic' = '{sink}', {kafka}, 'key.format' = 'raw', "
            "'value.format' = 'json')"
        )
        job = session.execute("INSERT INTO agg SELECT user_id, COUNT(*), SUM(amount) FROM src GROUP BY user_id")
        assert job.job_id, job
        try:
            expected = {
                "U1": {"user_id": "U1", "n": 3, "total": 60.0},
                "U2": {"user_id": "U2", "n": 1, "total": 5.0},
            }
            latest: dict[str, dict[str, object]] = {}
            deadline = time.monotonic() + 90
            while latest != expected and time.monotonic() < deadline:
                for _key, value in _consume(local_stack.bootstrap, sink, 10**6, timeout=3):
                    if value:
                        latest[json.loads(value)["user_id"]] = json.loads(value)
            assert latest == expected
        finally:
            requests.patch(f"{local_stack.flink_rest}/jobs/{job.job_id}?mode=cancel", timeout=10)


def test_every_listener_of_the_stack_is_on_loopback(local_stack: Endpoints) -> None:
    """Each port a stack process (or a child of one) listens on, declared or ephemeral (Flink's
    blob server and data ports, JMX), is bound to loopback; and every declared port is listened on."""
    from fraudctl.localstack import secrets
    from fraudctl.localstack.layout import Layout
    from fraudctl.localstack.listeners import of_processes
    from fraudctl.localstack.process import running_pid
    from fraudctl.localstack.services import build_services

    layout = Layout.default()
    services = [s for s in build_services(local_stack.env, layout, secrets.load(layout.secrets_file), None)]
    roots = {s.name: running_pid(layout.run, s.name) for s in services if s.skip is None}
    assert all(roots.values()), f"not running: {[n for n, p in roots.items() if p is None]}"
    listeners = of_processes([p for p in roots.values() if p is not None])
    exposed = [x for x in listeners if not x.on_loopback]
    assert not exposed, f"listening beyond loopback: {exposed}"
    declared = {port for s in services if s.skip is None for port in s.ports}
    assert declared <= {x.port for x in listeners}, (
        f"declared but not listened on: {declared - {x.port for x in listeners}}"
    )
