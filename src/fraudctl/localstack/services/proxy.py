"""A fault-injection proxy (localstack/faultproxy.py) as a service: it listens on the endpoint
clients use and forwards to the service's own port."""

from __future__ import annotations

from fraudctl.localstack import health
from fraudctl.localstack.faultproxy import refusing_marker
from fraudctl.localstack.services.base import HOST, Service, StackContext


def service(ctx: StackContext, behind: str, port: int, backend: int) -> Service:
    name = f"{behind}-proxy"
    marker = refusing_marker(ctx.layout.run, name)

    def check() -> health.Health:
        if marker.is_file():
            return health.Health(True, "refusing connections (fault injected)")
        ok = health.port_open(HOST, port)
        return health.Health(ok, f"forwarding {port} -> {backend}" if ok else f"port {port} not open yet")

    return Service(
        name=name,
        ports=(port,),
        spec=lambda: ctx.python_module(
            name,
            "fraudctl.localstack.faultproxy",
            *("--listen", f"{HOST}:{port}", "--target", f"{HOST}:{backend}", "--marker", str(marker)),
        ),
        check=check,
        after=(behind,),
        start_timeout=30,
    )
