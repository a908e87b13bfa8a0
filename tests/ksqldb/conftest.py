"""A ksqlDB server with its Kafka, through testcontainers (Confluent's images). Only where a Docker
engine answers; elsewhere every test here is skipped with the reason printed (tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

KSQLDB_IMAGE = "confluentinc/cp-ksqldb-server:7.9.0"
KAFKA_IMAGE = "confluentinc/cp-kafka:7.9.0"


@dataclass(frozen=True)
class Ksql:
    url: str
    bootstrap: str  # the Kafka the server uses, as reachable from the tests


@pytest.fixture(scope="session")
def ksqldb() -> Iterator[Ksql]:
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.network import Network
    from testcontainers.core.waiting_utils import wait_for_logs
    from testcontainers.kafka import KafkaContainer

    with (
        Network() as net,
        KafkaContainer(KAFKA_IMAGE).with_network(net).with_network_aliases("kafka") as kafka,
    ):
        ksql = (
            DockerContainer(KSQLDB_IMAGE)
            .with_network(net)
            .with_env("KSQL_BOOTSTRAP_SERVERS", "kafka:9092")
            .with_env("KSQL_LISTENERS", "http://0.0.0.0:8088")
            .with_env("KSQL_KSQL_SERVICE_ID", "fraud_test_")
            .with_exposed_ports(8088)
        )
        with ksql:
            wait_for_logs(ksql, "Server up and running", timeout=180)
            yield Ksql(
                f"http://{ksql.get_container_host_ip()}:{ksql.get_exposed_port(8088)}",
                kafka.get_bootstrap_server(),
            )
