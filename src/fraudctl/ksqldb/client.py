"""A thin client for ksqlDB's `/ksql` endpoint, as the deploy engine needs it: one statement per
request, each passing the command sequence number of the previous one (so a statement sees the
effects of those before it), and retries while the server is not ready. ksql-python-ng does not
send the sequence number, so statements go through `requests` here; queries for analysts go
through ksql-python-ng (fraudctl.query.run)."""

from __future__ import annotations

import time
from typing import Any

import requests

# Server not ready, or its command queue still catching up: worth retrying.
RETRIABLE = {50301, 50302, 50303}


class KsqlError(Exception):
    def __init__(self, statement: str, code: int | None, message: str) -> None:
        super().__init__(f"{message} (error {code}) in: {statement.strip()[:120]}")
        self.code = code


class KsqlClient:
    def __init__(self, url: str, auth: tuple[str, str] | None = None, timeout: float = 60, retries: int = 8) -> None:
        self.url = url.rstrip("/")
        self.http = requests.Session()
        if auth:
            self.http.auth = auth
        self.timeout = timeout
        self.retries = retries
        self.sequence: int | None = None

    def execute(self, statement: str, properties: dict[str, str] | None = None) -> list[dict[str, Any]]:
        text = statement.strip()
        body: dict[str, Any] = {"ksql": text if text.endswith(";") else text + ";"}
        body["streamsProperties"] = properties or {}
        if self.sequence is not None:
            body["commandSequenceNumber"] = self.sequence
        delay = 0.5
        for attempt in range(self.retries + 1):
            try:
                resp = self.http.post(f"{self.url}/ksql", json=body, timeout=self.timeout)
            except requests.RequestException as exc:
                if attempt == self.retries:
                    raise KsqlError(text, None, f"ksqlDB at {self.url} unreachable: {type(exc).__name__}") from exc
            else:
                data = resp.json() if resp.content else []
                if resp.status_code == 200:
                    entities = data if isinstance(data, list) else [data]
                    for entity in entities:
                        if isinstance(entity, dict) and "commandSequenceNumber" in entity:
                            self.sequence = int(entity["commandSequenceNumber"])
                    return [e for e in entities if isinstance(e, dict)]
                code = data.get("error_code") if isinstance(data, dict) else None
                message = str(data.get("message", resp.text[:300])) if isinstance(data, dict) else resp.text[:300]
                if code not in RETRIABLE and resp.status_code not in (502, 503, 504) or attempt == self.retries:
                    raise KsqlError(text, code, message)
            time.sleep(delay)
            delay = min(delay * 2, 10)
        raise AssertionError("unreachable")

    def sources(self) -> dict[str, dict[str, Any]]:
        """Every stream and table by lower-case name: type, statement, and the queries writing and
        reading it."""
        out: dict[str, dict[str, Any]] = {}
        for listing in ("LIST STREAMS EXTENDED", "LIST TABLES EXTENDED"):
            for entity in self.execute(listing):
                for source in entity.get("sourceDescriptions", []):
                    out[str(source["name"]).lower()] = source
        return out

    def queries(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for entity in self.execute("SHOW QUERIES"):
            out.extend(entity.get("queries", []))
        return out
