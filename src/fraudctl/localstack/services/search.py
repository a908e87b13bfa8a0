"""Elasticsearch: one node from the unpacked distribution, with its own config folder (the
distribution's stays pristine), run as the stack user when fraudctl runs as root. Its HTTP port is
`local_stack.search_backend_port`; clients reach it through the fault-injection proxy on
`search.url`."""

from __future__ import annotations

import shutil

import requests

from fraudctl.localstack import health
from fraudctl.localstack.services import proxy
from fraudctl.localstack.services.base import HOST, Service, StackContext, chown_tree, make_traversable


def _green_or_yellow(r: requests.Response) -> str | None:
    status = r.json().get("status")
    return None if status in ("green", "yellow") else f"status {status}"


def services(ctx: StackContext) -> list[Service]:
    layout, user = ctx.layout, ctx.user
    port = ctx.local.search_backend_port
    transport = ctx.local.search_transport_port
    home = layout.elasticsearch_home
    data, logs, tmp, conf = (
        layout.data / "search",
        layout.logs / "search",
        layout.run / "search-tmp",
        layout.conf / "search",
    )
    heap = ctx.heap_mb("search", 512)

    def prepare() -> None:
        make_traversable(layout.root)
        for d in (data, logs, tmp, conf):
            d.mkdir(parents=True, exist_ok=True)
        # Security is set explicitly in elasticsearch.yml, so its auto-configuration never runs.
        for name in ("jvm.options", "log4j2.properties"):
            shutil.copy2(home / "config" / name, conf / name)
        ctx.render(
            "elasticsearch.yml.j2",
            conf / "elasticsearch.yml",
            host=HOST,
            http_port=port,
            transport_port=transport,
            data_dir=data,
            logs_dir=logs,
        )
        for d in (data, logs, tmp, conf):
            chown_tree(d, user)

    server = Service(
        name="search",
        ports=(port, transport),
        prepare=prepare,
        spec=lambda: ctx.process(
            "search",
            [str(home / "bin" / "elasticsearch")],
            env={
                "ES_PATH_CONF": str(conf),
                "ES_JAVA_HOME": str(ctx.jhome),
                "ES_JAVA_OPTS": f"-Xms{heap}m -Xmx{heap}m",
                "ES_TMPDIR": str(tmp),
            },
            user=user,
        ),
        check=health.http_ok(f"http://{HOST}:{port}/_cluster/health", _green_or_yellow),
        start_timeout=180,
        requires=(home,),
    )
    return [server, proxy.service(ctx, "search", ctx.env.port_of("search.url"), port)]
