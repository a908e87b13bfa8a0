"""Kafka Connect: one distributed worker with the repo's plugins, handed only the secrets its
connectors name."""

from __future__ import annotations

from fraudctl.localstack import health
from fraudctl.localstack import secrets as local_secrets
from fraudctl.localstack.services.base import HOST, Service, StackContext


def handed_secrets(ctx: StackContext) -> dict[str, str]:
    """The worker gets the secrets its connectors name (the writer's password, the object store's
    keys, the search cluster's), not the owner's password or the scoring token."""
    typed = ctx.settings
    refs: list[object] = [typed.need("postgres").login("writer").password]
    if typed.s3:
        refs += [typed.s3.access_key_id, typed.s3.secret_access_key]
    if typed.search and typed.search.auth:
        refs.append(typed.search.auth.password)
    return {name: ctx.secrets[name] for name in map(local_secrets.env_name, refs) if name and name in ctx.secrets}


def service(ctx: StackContext) -> Service:
    layout = ctx.layout
    port = ctx.env.port_of("connect.url")
    conf = layout.conf / "connect-distributed.properties"
    env = handed_secrets(ctx)
    heap = ctx.heap_mb("connect", 768)

    def prepare() -> None:
        ctx.render_log4j()
        ctx.render(
            "connect-distributed.properties.j2",
            conf,
            host=HOST,
            port=port,
            bootstrap=ctx.bootstrap,
            plugin_path=layout.plugins,
            env_names=sorted(env),  # exactly what the worker gets as its environment (env= below)
            kafka=ctx.settings.kafka.java(),
        )

    return Service(
        name="connect",
        ports=(port,),
        prepare=prepare,
        spec=lambda: ctx.kafka_jvm(
            "connect", "org.apache.kafka.connect.cli.ConnectDistributed", heap, str(conf), env=env
        ),
        check=health.http_ok(f"http://{HOST}:{port}/connectors"),
        after=("kafka",),
        start_timeout=180,
        requires=(layout.kafka_lib, layout.plugins),
    )
