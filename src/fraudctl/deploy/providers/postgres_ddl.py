"""The pipeline's own tables in PostgreSQL (postgres/*.sql, applied in file order). Each file is
idempotent DDL (CREATE ... IF NOT EXISTS); a changed file is applied again. Tables are never
dropped by fraudctl, even with --prune: a removed file is only reported."""

from __future__ import annotations

from pathlib import Path

import psycopg

from fraudctl.deploy import diff
from fraudctl.deploy.model import CREATE, UPDATE, Change, Resource, checksum
from fraudctl.deploy.providers import ReadyWhenWritten
from fraudctl.deploy.state import Record


class PostgresDdlProvider(ReadyWhenWritten):
    kind = "postgres-ddl"

    def __init__(self, folder: Path, conninfo: str) -> None:
        self.files = {p.name: p.read_text() for p in sorted(folder.glob("*.sql"))}
        self.conninfo = conninfo
        self.writes = 0

    def desired(self) -> dict[str, Resource]:
        return {name: Resource(self.kind, name, {"checksum": checksum(text)}) for name, text in self.files.items()}

    def actual(self, desired: dict[str, Resource], records: dict[tuple[str, str], Record]) -> dict[str, Resource]:
        # What was applied is what fraudctl recorded: PostgreSQL keeps no checksum of DDL.
        return {
            name: Resource(self.kind, name, {"checksum": r.spec.get("checksum")})
            for (kind, name), r in records.items()
            if kind == self.kind
        }

    def plan(
        self, desired: dict[str, Resource], actual: dict[str, Resource], managed: set[str], prune: bool
    ) -> list[Change]:
        changes = diff.compute(self.kind, desired, actual, managed, prune)
        return diff.never_deleted(changes, "file removed; tables are never dropped by fraudctl")

    def apply(self, change: Change) -> None:
        if change.op in (CREATE, UPDATE):
            with psycopg.connect(self.conninfo, autocommit=False) as conn:
                conn.execute(self.files[change.name])  # one transaction per file
            self.writes += 1
