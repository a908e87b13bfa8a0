"""A small Kafka Connect REST client: retries the 409 that a rebalance answers with, with back-off,
and turns every other error into one message with Connect's own words."""

from __future__ import annotations

import time
from typing import Any

import requests


class ConnectError(Exception):
    pass


class ConnectClient:
    def __init__(self, url: str, auth: tuple[str, str] | None = None, retries: int = 8) -> None:
        self.url = url.rstrip("/")
        self.http = requests.Session()
        if auth:
            self.http.auth = auth
        self.retries = retries
        self.writes = 0  # requests that change something (counted for tests and benchmarks)

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        delay = 0.5
        for attempt in range(self.retries + 1):
            try:
                resp = self.http.request(method, f"{self.url}{path}", timeout=95, **kwargs)
            except requests.RequestException as exc:
                if attempt == self.retries:
                    raise ConnectError(f"Connect at {self.url} unreachable: {exc}") from exc
            else:
                if resp.status_code == 409 and attempt < self.retries:
                    pass  # rebalance in progress or no leader yet: retry
                elif resp.status_code >= 400:
                    try:
                        message = resp.json().get("message", resp.text)
                    except ValueError:
                        message = resp.text
                    raise ConnectError(f"{method} {path}: HTTP {resp.status_code}: {message}")
                else:
                    if method != "GET":
                        self.writes += 1
                    return resp.json() if resp.content else None
            time.sleep(delay)
            delay = min(delay * 2, 10)
        raise ConnectError(f"{method} {path}: still rebalancing after {self.retries} retries")

    def connectors(self) -> dict[str, Any]:
        return dict(self.request("GET", "/connectors", params=[("expand", "info"), ("expand", "status")]))

    def status(self, name: str) -> dict[str, Any]:
        return dict(self.request("GET", f"/connectors/{name}/status"))

    def failed(self) -> dict[str, list[int]]:
        """Connectors that failed or have failed tasks, with the ids of those tasks."""
        out: dict[str, list[int]] = {}
        for name, info in sorted(self.connectors().items()):
            status: dict[str, Any] = info["status"]
            tasks = [int(t["id"]) for t in status["tasks"] if t["state"] == "FAILED"]
            if status["connector"]["state"] == "FAILED" or tasks:
                out[name] = tasks
        return out

    def restart_failed(self, name: str) -> None:
        """Restarts the connector's failed parts only (KIP-745), not what is running."""
        self.request("POST", f"/connectors/{name}/restart", params={"includeTasks": "true", "onlyFailed": "true"})
