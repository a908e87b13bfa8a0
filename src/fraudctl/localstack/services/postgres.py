"""PostgreSQL: initdb on first start (run as the stack user when fraudctl runs as root), scram for
every connection, the environment's database created after start."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path

from fraudctl.config.settings import Postgres
from fraudctl.localstack import health
from fraudctl.localstack import secrets as local_secrets
from fraudctl.localstack.services.base import (
    HOST,
    Service,
    StackContext,
    StackError,
    chown_tree,
    make_traversable,
    run_as,
)

# Written on every start, so a data folder made before this rule gets it too: a password (SCRAM)
# for every connection, the socket included; nothing else is accepted.
PG_HBA = (
    "# Written by fraudctl local up (localstack/services/postgres.py); do not edit.\n"
    "local all all scram-sha-256\n"
    f"host all all {HOST}/32 scram-sha-256\n"
    "local replication all scram-sha-256\n"
    f"host replication all {HOST}/32 scram-sha-256\n"
)
SERVER_SETTINGS = {
    "listen_addresses": HOST,
    "wal_level": "logical",  # the blacklist's CDC source reads the WAL
    "max_wal_senders": "10",
    "max_replication_slots": "10",
    "shared_buffers": "64MB",
    "max_connections": "100",
}


def bindir() -> Path:
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=lambda p: int(p.parts[-3]))
    if candidates:
        return candidates[-1].parent
    found = shutil.which("postgres")
    if found:
        return Path(found).parent
    raise StackError("postgres: PostgreSQL server binaries not found (Debian package 'postgresql')")


def service(ctx: StackContext) -> Service:
    layout, user = ctx.layout, ctx.user
    pg: Postgres = ctx.settings.need("postgres")
    data = layout.data / "postgres"
    socket = layout.run / "pg-socket"

    def prepare() -> None:
        make_traversable(layout.root)
        socket.mkdir(parents=True, exist_ok=True)
        chown_tree(socket, user)
        if not (data / "PG_VERSION").is_file():
            initdb()
        hba = data / "pg_hba.conf"
        hba.write_text(PG_HBA)
        chown_tree(hba, user)

    def initdb() -> None:
        data.mkdir(parents=True, exist_ok=True)
        pwfile = layout.run / "pg-initpw"
        local_secrets.write_private(pwfile, ctx.secrets["FRAUD_PG_PASSWORD"] + "\n")
        chown_tree(data, user)
        chown_tree(pwfile, user)
        res = subprocess.run(  # noqa: S603
            [
                str(bindir() / "initdb"),
                *("-D", str(data), "-U", pg.user, "--pwfile", str(pwfile)),
                "--auth-host=scram-sha-256",
                "--auth-local=scram-sha-256",
                *("-E", "UTF8", "--locale=C.UTF-8"),
            ],
            capture_output=True,
            text=True,
            check=False,
            cwd=data,  # not the caller's folder, which the stack user may not read
            **run_as(user),
        )
        pwfile.unlink(missing_ok=True)
        if res.returncode != 0:
            raise StackError(f"postgres: initdb into {data} failed: {res.stdout}{res.stderr}")

    def after_start() -> None:
        base = [str(bindir() / "psql"), "-h", str(socket), "-p", str(pg.port), "-U", pg.user, "-d", "postgres", "-tAc"]
        owner_env = {**os.environ, "PGPASSWORD": ctx.secrets["FRAUD_PG_PASSWORD"]}
        exists = subprocess.run(  # noqa: S603
            [*base, f"SELECT 1 FROM pg_database WHERE datname = '{pg.database}'"],
            capture_output=True,
            text=True,
            check=False,
            env=owner_env,
        )
        if exists.stdout.strip() != "1":
            subprocess.run(  # noqa: S603
                [*base, f'CREATE DATABASE "{pg.database}"'], capture_output=True, check=True, env=owner_env
            )

    return Service(
        name="postgres",
        ports=(pg.port,),
        prepare=prepare,
        after_start=after_start,
        spec=lambda: ctx.process(
            "postgres",
            [
                str(bindir() / "postgres"),
                *("-D", str(data), "-p", str(pg.port), "-k", str(socket)),
                *(arg for key, value in SERVER_SETTINGS.items() for arg in ("-c", f"{key}={value}")),
            ],
            user=user,
            stop_signal=signal.SIGINT,  # fast shutdown: disconnects clients instead of waiting for them
        ),
        check=health.postgres_ready(str(bindir() / "pg_isready"), HOST, pg.port),
        start_timeout=60,
    )
