"""The environment's PostgreSQL login users (postgres.roles): each a member of the group role that
holds its privileges (postgres/000_roles.sql), with the password its reference names.

Actual state is read from the server: the user, its attributes and group, and whether the password
behind the reference logs in (so a rotated secret is noticed without storing any form of it).
Passwords reach the server only as SCRAM-SHA-256 verifiers computed here, so no statement, log line
or plan holds the value. Login users are never dropped by fraudctl, even with --prune."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

import psycopg
from psycopg import sql

from fraudctl.config.settings import Postgres
from fraudctl.deploy import diff
from fraudctl.deploy.model import CREATE, UPDATE, Change, Resource
from fraudctl.deploy.providers import ReadyWhenWritten
from fraudctl.deploy.state import Record

# The group role of each purpose, as postgres/000_roles.sql creates them.
GROUPS = {"writer": "fraud_pipeline_writer", "analyst": "fraud_analyst_reader"}
# CDC replication is the writer's job (Debezium's slot); the attribute is not inherited from a group.
REPLICATION = {"writer": True, "analyst": False}
NOT_MATCHING = "(the password behind the reference does not log in)"


def scram_verifier(password: str, iterations: int = 4096) -> str:
    """What PostgreSQL stores for a SCRAM-SHA-256 password (RFC 5802 / 7677)."""
    salt = os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", "sha256").digest()

    def b64(b: bytes) -> str:
        return base64.b64encode(b).decode()

    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


class PostgresLoginProvider(ReadyWhenWritten):
    kind = "postgres-login"

    def __init__(self, pg: Postgres, owner_conninfo: str) -> None:
        self.pg = pg
        self.owner = owner_conninfo
        self.writes = 0

    def _purposes(self) -> dict[str, str]:
        """login user -> purpose."""
        if self.pg.roles is None:
            return {}
        return {self.pg.login("writer").user: "writer", self.pg.login("analyst").user: "analyst"}

    def desired(self) -> dict[str, Resource]:
        out = {}
        for user, purpose in self._purposes().items():
            spec = {
                "member_of": GROUPS[purpose],
                "replication": REPLICATION[purpose],
                "password": self.pg.login(purpose).password.ref,  # type: ignore[arg-type]
            }
            out[user] = Resource(self.kind, user, spec)
        return out

    def actual(self, desired: dict[str, Resource], records: dict[tuple[str, str], Record]) -> dict[str, Resource]:
        names = sorted(set(desired) | {name for (kind, name) in records if kind == self.kind})
        if not names:
            return {}
        with psycopg.connect(self.owner, autocommit=True) as conn:
            rows = conn.execute(
                """SELECT r.rolname, r.rolreplication,
                          ARRAY(SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
                                WHERE m.member = r.oid ORDER BY 1)
                   FROM pg_roles r WHERE r.rolcanlogin AND r.rolname = ANY(%s)""",
                (names,),
            ).fetchall()
        out = {}
        purposes = self._purposes()
        for user, replication, groups in rows:
            purpose = purposes.get(user)
            want_group = GROUPS.get(purpose or "", "")
            password = self.pg.login(purpose).password.ref if purpose else ""  # type: ignore[arg-type]
            if purpose and not self._logs_in(user, self.pg.login(purpose).password.resolve()):  # type: ignore[arg-type]
                password = NOT_MATCHING
            spec = {
                "member_of": want_group if want_group in groups else ",".join(groups),
                "replication": bool(replication),
                "password": password,
            }
            out[str(user)] = Resource(self.kind, str(user), spec)
        return out

    def _logs_in(self, user: str, password: str) -> bool:
        try:
            with psycopg.connect(
                host=self.pg.host,
                port=self.pg.port,
                dbname=self.pg.database,
                user=user,
                password=password,
                connect_timeout=10,
                application_name="fraudctl login check",
            ):
                return True
        except psycopg.OperationalError:
            return False

    def plan(
        self, desired: dict[str, Resource], actual: dict[str, Resource], managed: set[str], prune: bool
    ) -> list[Change]:
        changes = diff.compute(self.kind, desired, actual, managed, prune)
        return diff.never_deleted(changes, "login users are never dropped by fraudctl")

    def apply(self, change: Change) -> None:
        if change.op not in (CREATE, UPDATE):
            return
        purpose = self._purposes()[change.name]
        verifier = scram_verifier(self.pg.login(purpose).password.resolve())  # type: ignore[arg-type]
        user = sql.Identifier(change.name)
        group = sql.Identifier(GROUPS[purpose])
        attrs = sql.SQL("REPLICATION" if REPLICATION[purpose] else "NOREPLICATION")
        with psycopg.connect(self.owner, autocommit=False) as conn:
            exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (change.name,)).fetchone()
            verb = sql.SQL("ALTER ROLE" if exists else "CREATE ROLE")
            conn.execute(sql.SQL("{} {} LOGIN {} PASSWORD {}").format(verb, user, attrs, sql.Literal(verifier)))
            conn.execute(sql.SQL("GRANT {} TO {}").format(group, user))
        self.writes += 1
