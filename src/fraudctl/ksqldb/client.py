"""A thin client of ksqlDB's REST API.

- `/ksql`, as the deploy engine needs it: one statement per request, each passing the command
  sequence number of the previous one (so a statement sees the effects of those before it), and
  retries while the server is not ready.
- `/query-stream` (HTTP/1.1, delimited JSON), for analysts' pull and push queries: rows are handed
  over as they arrive, and a push query ends at the caller's deadline however long no row comes.

ksql-python-ng (the maintained ksql-python) is not used: it sends no command sequence number, its
queries fail with httpx 0.28 (`cert=` was removed), it imports `telnetlib` (gone in Python 3.13),
and a push query with no row for 30 s dies with its own read timeout."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
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
        self.auth = auth
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

    def info(self) -> dict[str, Any]:
        """The server's `/info` (version, cluster, status); raises when it does not answer."""
        resp = self.http.get(f"{self.url}/info", timeout=10)
        resp.raise_for_status()
        data: dict[str, Any] = resp.json().get("KsqlServerInfo", {})
        return data

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

    def query_stream(
        self, sql: str, properties: dict[str, str], deadline: float | None
    ) -> Iterator[tuple[list[str], list[Any]]]:
        """(column names, row) per row of a pull or push query, until the query ends, or `deadline`
        (monotonic) passes: then a push query's stream simply closes (TimeoutError for a pull one is
        the caller's choice: `QueryTimeout` is raised with the rows so far delivered)."""
        text = sql.strip().rstrip(";") + ";"
        read_timeout = None if deadline is None else max(0.1, deadline - time.monotonic())
        try:
            resp = self.http.post(
                f"{self.url}/query-stream",
                json={"sql": text, "properties": properties},
                headers={"Accept": "application/vnd.ksqlapi.delimited.v1"},
                stream=True,
                timeout=(10, read_timeout),
            )
        except requests.RequestException as exc:
            raise KsqlError(text, None, f"ksqlDB at {self.url} unreachable: {type(exc).__name__}") from exc
        with resp:
            if resp.status_code != 200:
                data = _json_or_none(resp.text)
                code = data.get("error_code") if isinstance(data, dict) else None
                message = str(data.get("message")) if isinstance(data, dict) else resp.text[:300]
                raise KsqlError(text, code, message)
            columns: list[str] = []
            try:
                for line in resp.iter_lines():
                    if not line:
                        continue
                    item = json.loads(line)
                    if isinstance(item, dict):
                        if "columnNames" in item:
                            columns = [str(c).lower() for c in item["columnNames"]]
                        elif "error_code" in item or str(item.get("@type", "")).endswith("error"):
                            raise KsqlError(text, item.get("error_code"), str(item.get("message", item)))
                        continue
                    yield columns, list(item)
                    if deadline is not None and time.monotonic() > deadline:
                        raise QueryTimeout()
            except (requests.exceptions.ConnectionError, requests.exceptions.ReadTimeout) as exc:
                # requests reports a read timeout inside a stream as a ConnectionError.
                if deadline is not None and time.monotonic() >= deadline - 0.05:
                    raise QueryTimeout() from exc
                raise KsqlError(text, None, f"ksqlDB at {self.url}: {type(exc).__name__}: {exc}") from exc


class QueryTimeout(Exception):
    """The deadline passed before the query ended."""


def _json_or_none(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None
