"""ksqlDB runs only where a Docker engine exists (Confluent's images, through testcontainers).
Without one these tests are skipped, and pytest prints why."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

pytestmark = pytest.mark.docker

KSQLDB_IMAGE = "confluentinc/cp-ksqldb-server:7.9.0"
KAFKA_IMAGE = "confluentinc/cp-kafka:7.9.0"


@pytest.fixture(scope="module")
def ksqldb_url() -> Iterator[str]:
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.network import Network
    from testcontainers.core.waiting_utils import wait_for_logs
    from testcontainers.kafka import KafkaContainer

    with (
        Network() as net,
        KafkaContainer(KAFKA_IMAGE).with_network(net).with_network_aliases("kafka") as kafka,
    ):
        del kafka
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
            yield f"http://{ksql.get_container_host_ip()}:{ksql.get_exposed_port(8088)}"


def test_ksqldb_server_answers_info(ksqldb_url: str) -> None:
    info = requests.get(f"{ksqldb_url}/info", timeout=10).json()
    assert info["KsqlServerInfo"]["serverStatus"] == "RUNNING"
