"""docker-compose.yml cannot run here (no Docker engine); check that it parses and agrees with the
local environment's ports, and that it holds no secret values."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from fraudctl.config.environment import load_environment

ROOT = Path(__file__).resolve().parents[2]


def _compose() -> dict:  # type: ignore[type-arg]
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _host_ports(service: dict) -> set[int]:  # type: ignore[type-arg]
    """Host ports, each published on loopback unless FRAUD_BIND_ADDRESS says otherwise."""
    out = set()
    for p in service.get("ports", []):
        address, host, _container = str(p).rsplit(":", 2)
        assert address == "${FRAUD_BIND_ADDRESS:-127.0.0.1}", p
        out.add(int(host))
    return out


def test_compose_has_the_confluent_platform_and_the_sinks_targets() -> None:
    services = _compose()["services"]
    assert set(services) == {
        "kafka",
        "schema-registry",
        "connect",
        "ksqldb-server",
        "elasticsearch",
        "minio",
        "postgres",
    }
    install = services["connect"]["command"][-1]
    for plugin in ("kafka-connect-s3", "kafka-connect-elasticsearch", "kafka-connect-jdbc"):
        assert f"confluentinc/{plugin}:" in install


def test_compose_ports_match_the_local_environment() -> None:
    env = load_environment("local")
    services = _compose()["services"]
    assert env.port_of("kafka.bootstrap_servers") in _host_ports(services["kafka"])
    assert env.port_of("connect.url") in _host_ports(services["connect"])
    assert env.port_of("ksqldb.url") in _host_ports(services["ksqldb-server"])
    assert env.port_of("search.url") in _host_ports(services["elasticsearch"])
    assert env.port_of("s3.endpoint") in _host_ports(services["minio"])
    assert int(env.require("postgres.port")) in _host_ports(services["postgres"])


def test_compose_takes_secrets_from_the_environment_only() -> None:
    for name, service in _compose()["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if re.search(r"PASSWORD|SECRET", key):
                assert str(value).startswith("${"), f"{name}.{key} must be an ${{ENV}} reference"
