"""The S3-compatible object store (moto's server): keeps buckets in memory, so the archive bucket
is created on every start. It listens on `local_stack.s3_backend_port`; clients reach it through
the fault-injection proxy on `s3.endpoint`."""

from __future__ import annotations

import requests

from fraudctl.localstack import health
from fraudctl.localstack.services import proxy
from fraudctl.localstack.services.base import HOST, Service, StackContext


def services(ctx: StackContext) -> list[Service]:
    port = ctx.local.s3_backend_port

    def after_start() -> None:
        # In AWS the bucket is provisioned with the account; here it exists from the start.
        requests.put(f"http://{HOST}:{port}/{ctx.settings.need('s3').bucket}", timeout=10)

    server = Service(
        name="s3",
        ports=(port,),
        after_start=after_start,
        spec=lambda: ctx.python_module("s3", "moto.server", "-H", HOST, "-p", str(port)),
        check=health.http_ok(f"http://{HOST}:{port}/moto-api/"),
        start_timeout=60,
    )
    return [server, proxy.service(ctx, "s3", ctx.env.port_of("s3.endpoint"), port)]
