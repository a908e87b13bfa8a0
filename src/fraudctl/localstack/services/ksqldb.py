"""ksqlDB, when a local installation is named (no registry serves it): its own state folder and
service id, on the stack's Kafka, listening on the environment's `ksqldb.url`."""

from __future__ import annotations

import os
from pathlib import Path

import requests

from fraudctl.localstack import health
from fraudctl.localstack.services.base import HOST, Service, StackContext

# An installation's start script, as Confluent Platform and the ksqlDB tarballs lay it out.
KSQLDB_START = Path("bin") / "ksql-server-start"


def ksqldb_home() -> tuple[Path | None, str]:
    """The ksqlDB installation named by KSQLDB_HOME, or None with the reason why not."""
    home = os.environ.get("KSQLDB_HOME")
    if not home:
        return None, (
            "no ksqlDB installation: set KSQLDB_HOME to a Confluent Platform or ksqlDB tarball install "
            f"(with {KSQLDB_START}) to run it here; the engine `ksqldb` environments need it"
        )
    if not (Path(home) / KSQLDB_START).is_file():
        return None, f"KSQLDB_HOME={home} has no {KSQLDB_START}: not a ksqlDB installation"
    return Path(home), ""


def _running(r: requests.Response) -> str | None:
    status = r.json().get("KsqlServerInfo", {}).get("serverStatus")
    return None if status == "RUNNING" else f"server status {status}"


def service(ctx: StackContext) -> Service:
    layout = ctx.layout
    port = ctx.env.port_of("ksqldb.url")
    home, reason = ksqldb_home()
    conf = layout.conf / "ksql-server.properties"
    heap = ctx.heap_mb("ksqldb", 1024)

    def prepare() -> None:
        ctx.render(
            "ksql-server.properties.j2",
            conf,
            host=HOST,
            port=port,
            kafka=ctx.settings.kafka.java(),
            state_dir=layout.data / "ksqldb",
        )

    return Service(
        name="ksqldb",
        ports=(port,),
        prepare=prepare,
        spec=lambda: ctx.process(
            "ksqldb",
            [str((home or Path(".")) / KSQLDB_START), str(conf)],
            env={
                "KSQL_HEAP_OPTS": f"-Xms{heap}m -Xmx{heap}m",
                "JAVA_HOME": str(ctx.jhome),
                "LOG_DIR": str(layout.logs / "ksqldb"),
            },
        ),
        check=health.http_ok(f"http://{HOST}:{port}/info", _running),
        after=("kafka",),
        start_timeout=120,
        skip=None if home else reason,
    )
