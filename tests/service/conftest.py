"""A real scoring service over HTTP: uvicorn in a child process on a free loopback port, serving a
model folder the test controls (a symlink `current`, repointed to swap models)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = (ROOT / "udf_service/models/current").resolve()


@dataclass(frozen=True)
class Service:
    url: str
    model_link: Path
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(
    tmp: Path, token: str = "test-token-of-the-service-suite", max_batch: int = 50, port: int | None = None
) -> tuple[subprocess.Popen[bytes], Service]:
    link = tmp / "current"
    if not link.exists():
        link.symlink_to(SHIPPED)
    port = port or free_port()
    env = {**os.environ, "FRAUD_SCORING_TOKEN": token}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "udf_service",
            "--port",
            str(port),
            "--model",
            str(link),
            "--max-batch",
            str(max_batch),
            "--max-body-bytes",
            "100000",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/readyz", timeout=1).status_code == 200:
                return proc, Service(url, link, token)
        except requests.RequestException:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError("scoring service did not become ready")


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    proc, svc = start(tmp_path_factory.mktemp("svc"))
    yield svc
    proc.terminate()
    proc.wait(10)


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    proc, svc = start(tmp_path_factory.mktemp("svc-auth"), token="s3cr3t-test-token-2")
    yield svc
    proc.terminate()
    proc.wait(10)
