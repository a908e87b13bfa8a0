"""What fraudctl has applied, and the apply lock, kept in the environment's PostgreSQL (as
Terraform's pg backend does): table fraudctl.applied records each managed object (kind, name,
checksum, spec, version, time), and a session advisory lock serialises applies per environment.
The lock is released by PostgreSQL when the holding process dies, so a killed apply never leaves
a stale lock."""

from __future__ import annotations

import getpass
import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from fraudctl.config.settings import Postgres, Settings

SCHEMA = """
CREATE SCHEMA IF NOT EXISTS fraudctl;
CREATE TABLE IF NOT EXISTS fraudctl.applied (
  env        text        NOT NULL,
  kind       text        NOT NULL,
  name       text        NOT NULL,
  checksum   text        NOT NULL,
  spec       jsonb       NOT NULL,
  version    integer     NOT NULL DEFAULT 1,
  applied_at timestamptz NOT NULL DEFAULT now(),
  applied_by text        NOT NULL,
  PRIMARY KEY (env, kind, name)
);
"""


class LockHeld(Exception):
    pass


@dataclass(frozen=True)
class Record:
    kind: str
    name: str
    checksum: str
    spec: dict[str, Any]
    version: int
    applied_at: datetime


def conninfo(env: Settings, purpose: str) -> str:
    """The owner's connection (the state table and the DDL are the owner's)."""
    pg: Postgres = env.need("postgres")
    return pg.conninfo("owner", purpose)


def _who() -> str:
    return f"{getpass.getuser()}@{socket.gethostname()} pid {os.getpid()}"


class StateStore:
    def __init__(self, env_name: str, env: Settings) -> None:
        self.env_name = env_name
        self.conn = psycopg.connect(conninfo(env, f"fraudctl {env_name} {_who()}"), autocommit=True)
        self.conn.execute(SCHEMA)

    def close(self) -> None:
        self.conn.close()

    def records(self) -> dict[tuple[str, str], Record]:
        rows = self.conn.execute(
            "SELECT kind, name, checksum, spec, version, applied_at FROM fraudctl.applied WHERE env = %s",
            (self.env_name,),
        ).fetchall()
        return {(r[0], r[1]): Record(r[0], r[1], r[2], dict(r[3]), int(r[4]), r[5]) for r in rows}

    def record(self, kind: str, name: str, checksum: str, spec: dict[str, Any]) -> None:
        self.conn.execute(
            """INSERT INTO fraudctl.applied (env, kind, name, checksum, spec, applied_by)
               VALUES (%s, %s, %s, %s, %s, %s)
               ON CONFLICT (env, kind, name) DO UPDATE
               SET checksum = EXCLUDED.checksum, spec = EXCLUDED.spec, applied_by = EXCLUDED.applied_by,
                   version = fraudctl.applied.version + 1, applied_at = now()""",
            (self.env_name, kind, name, checksum, json.dumps(spec, default=str), _who()),
        )

    def forget(self, kind: str, name: str) -> None:
        self.conn.execute(
            "DELETE FROM fraudctl.applied WHERE env = %s AND kind = %s AND name = %s",
            (self.env_name, kind, name),
        )

    @contextmanager
    def lock(self) -> Iterator[None]:
        key = f"fraudctl apply {self.env_name}"
        got = self.conn.execute("SELECT pg_try_advisory_lock(hashtext(%s))", (key,)).fetchone()
        if not got or not got[0]:
            holder = self.conn.execute(
                """SELECT a.application_name, a.backend_start FROM pg_locks l
                   JOIN pg_stat_activity a ON a.pid = l.pid
                   WHERE l.locktype = 'advisory' AND l.objid = hashtext(%s)::oid AND l.granted""",
                (key,),
            ).fetchone()
            who = f"{holder[0]} since {holder[1]:%Y-%m-%d %H:%M:%S}" if holder else "another session"
            raise LockHeld(f"another apply holds the lock on environment {self.env_name!r}: {who}")
        try:
            yield
        finally:
            self.conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (key,))
