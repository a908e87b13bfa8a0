"""A ksqlDB server for the tests in this folder, found in this order:

1. `FRAUD_KSQLDB_URL` (and `FRAUD_KSQLDB_BOOTSTRAP`, the bootstrap servers of the Kafka that server
   uses, as reachable from the tests): any server, however it was installed;
2. `KSQLDB_HOME` (a Confluent Platform or ksqlDB tarball install): the local stack starts that
   server on its own Kafka (`fraudctl local up`), and the tests use it;
3. a Docker engine: Confluent's images through testcontainers.

Otherwise every test here is skipped, and pytest prints why (tests/conftest.py). Every test names
its objects and topics apart (a prefix per test), so tests share one server with each other and
with a deployed pipeline without meeting; each removes what it created."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

KSQLDB_IMAGE = "confluentinc/cp-ksqldb-server:7.9.0"
KAFKA_IMAGE = "confluentinc/cp-kafka:7.9.0"
URL_VAR, BOOTSTRAP_VAR = "FRAUD_KSQLDB_URL", "FRAUD_KSQLDB_BOOTSTRAP"


@dataclass(frozen=True)
class Ksql:
    url: str
    bootstrap: str  # the Kafka the server uses, as reachable from the tests
    source: str  # where the server came from (printed with the results)


def server_source() -> str | None:
    """How the ksqlDB tests will reach a server, or None when none can be had (for the skip reason)."""
    if os.environ.get(URL_VAR):
        return "env"
    from fraudctl.localstack.services import ksqldb_home

    if ksqldb_home()[0] is not None:
        return "local-stack"
    return None


def unique_prefix() -> str:
    return f"t{uuid.uuid4().hex[:8]}_"


@pytest.fixture(scope="session")
def ksqldb(request: pytest.FixtureRequest) -> Iterator[Ksql]:
    source = server_source()
    if source == "env":
        bootstrap = os.environ.get(BOOTSTRAP_VAR)
        if not bootstrap:
            pytest.fail(f"{URL_VAR} is set but {BOOTSTRAP_VAR} is not: name the Kafka that server uses")
        yield Ksql(os.environ[URL_VAR].rstrip("/"), bootstrap, f"{URL_VAR}")
        return
    if source == "local-stack":
        endpoints = request.getfixturevalue("local_stack")
        yield Ksql(str(endpoints.env.require("ksqldb.url")).rstrip("/"), endpoints.bootstrap, "KSQLDB_HOME")
        return
    yield from _testcontainers()


def _testcontainers() -> Iterator[Ksql]:
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
                "testcontainers",
            )


def sweep(url: str, prefix: str) -> list[str]:
    """Removes whatever a test left under its prefix on the server (queries, then streams and
    tables, readers first), so a failed test does not leave queries running on a shared server.
    Returns the names it had to drop (a test that cleaned up after itself sees none)."""
    from fraudctl.ksqldb.client import KsqlClient, KsqlError

    client = KsqlClient(url)
    upper = prefix.upper()
    dropped: list[str] = []
    for query in client.queries():
        sinks = [str(s).upper() for s in query.get("sinks", [])]
        if any(s.startswith(upper) for s in sinks) or upper in str(query.get("queryString", "")).upper():
            client.execute(f"TERMINATE {query['id']}")
    for _round in range(10):
        left = {n: s for n, s in client.sources().items() if n.upper().startswith(upper)}
        if not left:
            break
        for name, source in left.items():
            if source.get("readQueries") or source.get("writeQueries"):
                continue
            kind = "TABLE" if str(source.get("type", "")).upper() == "TABLE" else "STREAM"
            try:
                client.execute(f"DROP {kind} IF EXISTS {name}")
                dropped.append(name)
            except KsqlError:
                continue  # another object still reads it: next round
    return dropped
