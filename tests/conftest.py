"""Fixtures that give tests real endpoints.

- `local_stack`: the embedded stack (started once per session if it is not already up; the
  services this session started are stopped at the end unless FRAUD_KEEP_STACK=1).
- tests marked `ksqldb` (the ksqlDB suite) run where a ksqlDB server can be had: one named by
  FRAUD_KSQLDB_URL, a local installation at KSQLDB_HOME, or testcontainers where a Docker engine
  answers; elsewhere they are skipped with the reason printed.
Set FRAUD_TEST_NO_STACK=1 to skip every stack test (for example on a laptop without Java)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from fraudctl.config.environment import Environment, load_environment
from fraudctl.localstack import process, secrets, stack
from fraudctl.localstack.layout import Layout


@dataclass(frozen=True)
class Endpoints:
    env: Environment
    bootstrap: str
    connect_url: str
    pg_conninfo: str
    search_url: str
    s3_endpoint: str
    s3_region: str
    s3_access_key: str
    s3_secret_key: str
    flink_rest: str
    flink_gateway: str


def _docker_unavailable_reason() -> str | None:
    try:
        import docker

        docker.from_env(timeout=3).ping()
    except Exception as exc:  # noqa: BLE001 - any failure means "no engine here"
        return (
            f"no Docker engine ({type(exc).__name__}): the ksqlDB suite runs only where "
            "testcontainers can start containers"
        )
    return None


def _ksqldb_unavailable_reason() -> str | None:
    """None when a ksqlDB server can be had (tests/ksqldb/conftest.py says how), else why not."""
    from tests.ksqldb.conftest import BOOTSTRAP_VAR, URL_VAR, server_source

    if server_source() is not None:
        return None
    docker = _docker_unavailable_reason()
    if docker is None:
        return None
    return (
        f"no ksqlDB server: set {URL_VAR} and {BOOTSTRAP_VAR} to any server and its Kafka, or KSQLDB_HOME to a "
        f"local installation (the local stack starts it), or run where Docker answers ({docker})"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = None
    if any(item.get_closest_marker("ksqldb") for item in items):
        reason = _ksqldb_unavailable_reason()
    for item in items:
        if reason and item.get_closest_marker("ksqldb"):
            item.add_marker(pytest.mark.skip(reason=reason))
    # The fault suite runs after the other stack tests (a fault it fails to recover from must not
    # take them down); tests marked `last` (stopping the stack) run after everything else.
    items.sort(
        key=lambda item: (item.get_closest_marker("last") is not None, item.get_closest_marker("faults") is not None)
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "last: runs after every other test (for example `local down`)")


@pytest.fixture(scope="session")
def local_stack(request: pytest.FixtureRequest) -> Iterator[Endpoints]:
    if os.environ.get("FRAUD_TEST_NO_STACK"):
        pytest.skip("FRAUD_TEST_NO_STACK is set: tests that need the local stack are skipped")
    layout = Layout.default()
    if not (layout.opt / ".installed").is_file():
        pytest.skip("the local stack is not installed under .local/opt: run `make setup`")
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")

    def progress(name: str, state: str, waited: float, detail: str) -> None:
        if reporter is not None and state != "starting":
            reporter.write_line(f"[local stack] {name}: {state} ({waited:.1f}s) {detail}")

    env = load_environment("local")
    results = stack.up(env, layout, progress)
    started = [r.name for r in results if r.started]
    values = secrets.export(layout.secrets_file)
    pg_port = env.require("postgres.port")
    yield Endpoints(
        env=env,
        bootstrap=str(env.require("kafka.bootstrap_servers")),
        connect_url=str(env.require("connect.url")),
        pg_conninfo=(
            f"host=127.0.0.1 port={pg_port} dbname={env.require('postgres.database')} "
            f"user={env.require('postgres.user')} password={values['FRAUD_PG_PASSWORD']}"
        ),
        search_url=str(env.require("search.url")),
        s3_endpoint=str(env.require("s3.endpoint")),
        s3_region=str(env.require("s3.region")),
        s3_access_key=values["FRAUD_S3_ACCESS_KEY_ID"],
        s3_secret_key=values["FRAUD_S3_SECRET_ACCESS_KEY"],
        flink_rest=str(env.require("flink.rest_url")),
        flink_gateway=str(env.require("flink.sql_gateway_url")),
    )
    if os.environ.get("FRAUD_KEEP_STACK") != "1":
        for name in reversed(started):
            process.stop(layout.run, name)
