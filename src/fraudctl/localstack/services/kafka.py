"""Kafka: one KRaft node (broker and controller), formatted on first start, with the analysts'
SCRAM listener when the environment declares one."""

from __future__ import annotations

import subprocess

from confluent_kafka.admin import (  # type: ignore[attr-defined]  # exported without __all__
    AdminClient,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialUpsertion,
)

from fraudctl.localstack import health
from fraudctl.localstack import secrets as local_secrets
from fraudctl.localstack.services.base import HOST, Service, StackContext, StackError


def service(ctx: StackContext) -> Service:
    env, layout = ctx.env, ctx.layout
    port = env.port_of("kafka.bootstrap_servers")
    analyst = ctx.settings.kafka.analyst
    analyst_port = env.port_of("kafka.analyst.bootstrap_servers") if analyst and analyst.bootstrap_servers else None
    controller_port = ctx.local.kafka_controller_port
    data = layout.data / "kafka"
    conf = layout.conf / "kafka.properties"
    heap = ctx.heap_mb("kafka", 512)

    def prepare() -> None:
        ctx.render_log4j()
        ctx.render(
            "kafka.properties.j2",
            conf,
            host=HOST,
            port=port,
            controller_port=controller_port,
            analyst_port=analyst_port,
            data_dir=data,
        )
        if (data / "meta.properties").is_file():
            return
        data.mkdir(parents=True, exist_ok=True)
        storage = [*ctx.kafka_java(), "kafka.tools.StorageTool"]
        uuid = subprocess.run(  # noqa: S603
            [*storage, "random-uuid"], capture_output=True, text=True, check=True
        ).stdout.strip()
        res = subprocess.run(  # noqa: S603
            [*storage, "format", "-t", uuid, "-c", str(conf)],
            capture_output=True,
            text=True,
            check=False,
        )
        if res.returncode != 0:
            raise StackError(f"kafka: formatting {data} failed: {res.stdout}{res.stderr}")

    def after_start() -> None:
        # The analysts' SCRAM login (its password generated like every local secret); upserted on
        # every start, so a rotated password takes effect. What it may do: ACLs, kept by apply.
        if analyst is None:
            return
        name = local_secrets.env_name(analyst.sasl.password)
        if not name or name not in ctx.secrets:
            raise StackError(f"{env.path}: kafka.analyst.sasl.password: expected ${{env:NAME}} of a local secret")
        admin = AdminClient({"bootstrap.servers": ctx.bootstrap})
        info = ScramCredentialInfo(ScramMechanism.SCRAM_SHA_256, 4096)
        upsert = UserScramCredentialUpsertion(analyst.sasl.username, info, ctx.secrets[name].encode())
        for future in admin.alter_user_scram_credentials([upsert]).values():
            future.result(timeout=30)

    return Service(
        name="kafka",
        ports=(port, controller_port, *((analyst_port,) if analyst_port else ())),
        prepare=prepare,
        after_start=after_start,
        spec=lambda: ctx.kafka_jvm("kafka", "kafka.Kafka", heap, str(conf)),
        check=health.kafka_ready(ctx.bootstrap),
        requires=(layout.kafka_lib,),
    )
