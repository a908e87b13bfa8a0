"""A thin client of Flink's SQL Gateway REST API (v1): sessions, statements, results.

The gateway is to Flink what ksqlDB's /ksql endpoint is to ksqlDB: the deploy engine submits DDL and
INSERT jobs through it, and `fraudctl query` reads results through it."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

import requests

from fraudctl.validate.sql import split


class GatewayError(Exception):
    """A statement or request the gateway refused; the message carries Flink's own first error line."""


@dataclass(frozen=True)
class StatementResult:
    columns: list[str]
    rows: list[list[Any]]
    kinds: list[str] = field(default_factory=list)  # INSERT / UPDATE_BEFORE / UPDATE_AFTER / DELETE per row
    job_id: str | None = None


def _errors(resp: requests.Response) -> str:
    try:
        errors = resp.json().get("errors", [])
    except ValueError:
        return resp.text[:500]
    # Flink puts the root cause deep in the stack trace text; keep the informative lines.
    lines: list[str] = []
    for err in errors:
        for line in str(err).splitlines():
            line = line.strip()
            if line.startswith(("Caused by:", "org.apache.flink.table.api.", "org.apache.calcite")) or (
                lines == [] and line
            ):
                lines.append(line)
    return "\n".join(dict.fromkeys(lines))[:2000] or f"HTTP {resp.status_code}"


def job_root_cause(rest_url: str, job_id: str) -> str:
    """The last `Caused by:` line of a failed job's exception (Flink REST), or its first line."""
    data = requests.get(f"{rest_url.rstrip('/')}/jobs/{job_id}/exceptions", timeout=15).json()
    entries = data.get("exceptionHistory", {}).get("entries") or [{}]
    text = str(data.get("root-exception") or entries[0].get("stacktrace") or "")
    causes = [line.strip() for line in text.splitlines() if line.strip().startswith("Caused by:")]
    return (causes[-1] if causes else (text.splitlines() or ["no exception recorded"])[0])[:500]


class FlinkSession:
    """One SQL Gateway session. Use as a context manager so the session is always closed."""

    def __init__(self, url: str, properties: dict[str, str] | None = None, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.http = requests.Session()
        resp = self.http.post(f"{self.url}/v1/sessions", json={"properties": properties or {}}, timeout=timeout)
        if not resp.ok:
            raise GatewayError(f"opening a session at {self.url} failed: {_errors(resp)}")
        self.handle: str = resp.json()["sessionHandle"]

    def __enter__(self) -> FlinkSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        # The gateway expires idle sessions on its own, so a failed close loses nothing.
        with contextlib.suppress(requests.RequestException):
            self.http.delete(f"{self.url}/v1/sessions/{self.handle}", timeout=5)
        self.http.close()

    def submit(self, statement: str) -> str:
        resp = self.http.post(
            f"{self.url}/v1/sessions/{self.handle}/statements",
            json={"statement": statement},
            timeout=self.timeout,
        )
        if not resp.ok:
            raise GatewayError(_errors(resp))
        return str(resp.json()["operationHandle"])

    def _fetch(self, op: str, token: int | str) -> dict[str, Any]:
        resp = self.http.get(
            f"{self.url}/v1/sessions/{self.handle}/operations/{op}/result/{token}",
            params={"rowFormat": "JSON"},
            timeout=self.timeout,
        )
        if not resp.ok:
            raise GatewayError(_errors(resp))
        return dict(resp.json())

    def stream(
        self,
        statement: str,
        poll: float = 0.2,
        deadline: float | None = None,
        on_ready: Callable[[list[str]], None] | None = None,
    ) -> Generator[tuple[list[str], str, list[Any]], None, None]:
        """Runs a statement and yields (columns, row kind, fields) as rows arrive, until end of stream.
        The caller stops a streaming query by closing the generator (which cancels the operation).
        Past `deadline` (time.monotonic()) it raises TimeoutError; `on_ready(columns)` is called once,
        when the gateway first returns results (for a query: its job runs and rows can follow)."""
        op = self.submit(statement)
        token: int | str = 0
        ready = False
        try:
            while True:
                if deadline is not None and time.monotonic() > deadline:
                    raise TimeoutError(f"no end of results within the time limit: {statement[:80]!r}")
                page = self._fetch(op, token)
                results = page.get("results") or {}
                if not ready and page.get("resultType") in ("PAYLOAD", "EOS") and on_ready is not None:
                    ready = True
                    on_ready([c["name"] for c in results.get("columns", [])])
                columns = [c["name"] for c in results.get("columns", [])]
                for row in results.get("data", []):
                    yield columns, row.get("kind", "INSERT"), row.get("fields", [])
                if page.get("resultType") == "EOS":
                    return
                nxt = page.get("nextResultUri")
                if not nxt:
                    return
                token = nxt.rstrip("/").split("/")[-1].split("?")[0]
                if page.get("resultType") == "NOT_READY" or not results.get("data"):
                    time.sleep(poll)
        finally:
            self.cancel(op)

    def cancel(self, op: str) -> None:
        with contextlib.suppress(requests.RequestException):
            self.http.delete(f"{self.url}/v1/sessions/{self.handle}/operations/{op}/close", timeout=5)

    def execute(self, statement: str, max_rows: int | None = None) -> StatementResult:
        """Runs a statement to completion (DDL, SET, INSERT submission, bounded SELECT)."""
        columns: list[str] = []
        rows: list[list[Any]] = []
        kinds: list[str] = []
        gen = self.stream(statement)
        try:
            for cols, kind, fields in gen:
                columns = cols
                rows.append(fields)
                kinds.append(kind)
                if max_rows is not None and len(rows) >= max_rows:
                    break
        finally:
            gen.close()
        job_id = None
        if columns == ["job id"] and rows:
            job_id = str(rows[0][0])
        return StatementResult(columns, rows, kinds, job_id)

    def submit_pipeline(self, sql: str, replace_inserts: list[str] | None = None) -> str:
        """Runs the SET, DDL and view statements of `sql` in order, then every INSERT together as one
        statement set, i.e. one job, and returns its id. `replace_inserts` submits other INSERTs over
        the same tables (a benchmark's baseline)."""
        statements = [s.text for s in split(sql)[0]]
        inserts = [s for s in statements if s.upper().startswith("INSERT")]
        for statement in statements:
            if not statement.upper().startswith("INSERT"):
                self.execute(statement)
        chosen = replace_inserts if replace_inserts is not None else inserts
        result = self.execute("EXECUTE STATEMENT SET BEGIN\n" + ";\n".join(chosen) + ";\nEND")
        if not result.job_id:
            raise GatewayError(f"the statement set did not start a job: {result}")
        return result.job_id
