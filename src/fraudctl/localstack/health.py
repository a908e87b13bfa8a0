"""Readiness checks: each answers (healthy, detail) and never raises."""

from __future__ import annotations

import shutil
import socket
import subprocess
from collections.abc import Callable
from dataclasses import dataclass

import requests


@dataclass(frozen=True)
class Health:
    ok: bool
    detail: str


Check = Callable[[], Health]
# Reads a 200 response: None when ready, else what is still missing.
Validator = Callable[[requests.Response], str | None]


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return not port_open(host, port, 0.2)


def http_ok(url: str, expect: Validator | None = None) -> Check:
    """Healthy when GET url answers 2xx and `expect` (if given) returns no complaint."""

    def check() -> Health:
        try:
            resp = requests.get(url, timeout=2)
        except requests.RequestException as exc:
            return Health(False, f"GET {url}: {type(exc).__name__}")
        if not resp.ok:
            return Health(False, f"GET {url}: HTTP {resp.status_code}")
        complaint = expect(resp) if expect else None
        return Health(complaint is None, complaint or f"GET {url}: HTTP {resp.status_code}")

    return check


def kafka_ready(bootstrap: str) -> Check:
    def check() -> Health:
        host, port = bootstrap.rsplit(":", 1)
        if not port_open(host, int(port)):
            return Health(False, f"{bootstrap}: not listening")
        from confluent_kafka.admin import AdminClient

        try:
            md = AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=3)
        except Exception as exc:  # noqa: BLE001 - any client error means "not ready yet"
            return Health(False, f"{bootstrap}: metadata request failed: {exc}")
        if not md.brokers:
            return Health(False, f"{bootstrap}: no broker registered yet")
        return Health(True, f"{bootstrap}: {len(md.brokers)} broker(s), controller {md.controller_id}")

    return check


def postgres_ready(pg_isready: str, host: str, port: int) -> Check:
    def check() -> Health:
        if not shutil.which(pg_isready):
            return Health(False, f"{pg_isready} not found")
        res = subprocess.run(  # noqa: S603
            [pg_isready, "-h", host, "-p", str(port), "-t", "2"], capture_output=True, text=True, check=False
        )
        return Health(res.returncode == 0, (res.stdout or res.stderr).strip())

    return check


# Every service of the local stack binds loopback only.
HOST_FREE_CHECK_HOST = "127.0.0.1"
