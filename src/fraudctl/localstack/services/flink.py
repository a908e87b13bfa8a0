"""Flink: a session cluster (JobManager, one TaskManager) and the SQL Gateway, sharing one
rendered config folder."""

from __future__ import annotations

import shutil

import requests

from fraudctl.localstack import health
from fraudctl.localstack.process import ProcessSpec
from fraudctl.localstack.services.base import HOST, Service, StackContext

LOG4J_FILES = ("log4j-console.properties", "log4j.properties", "log4j-cli.properties", "log4j-session.properties")


def _taskmanagers(want: int) -> health.Validator:
    def check(r: requests.Response) -> str | None:
        return "no TaskManager registered yet" if int(r.json().get("taskmanagers", 0)) < want else None

    return check


def services(ctx: StackContext) -> list[Service]:
    layout = ctx.layout
    home = layout.flink_home
    conf = layout.conf / "flink"
    rest = ctx.env.port_of("flink.rest_url")
    gateway = ctx.env.port_of("flink.sql_gateway_url")
    rpc = ctx.local.flink_rpc_port
    env = {
        "FLINK_CONF_DIR": str(conf),
        "FLINK_LOG_DIR": str(layout.logs / "flink"),
        "JAVA_HOME": str(ctx.jhome),
        "FLINK_HOME": str(home),
    }

    def prepare() -> None:
        ctx.render(
            "flink-config.yaml.j2",
            conf / "config.yaml",
            host=HOST,
            rpc_port=rpc,
            rest_port=rest,
            gateway_port=gateway,
            data_dir=layout.data / "flink",
            jobmanager_mb=ctx.heap_mb("flink_jobmanager", 768),
            taskmanager_mb=ctx.heap_mb("flink_taskmanager", 1536),
            state_backend=ctx.settings.flink.state_backend if ctx.settings.flink else None,
        )
        for name in LOG4J_FILES:
            shutil.copy2(home / "conf" / name, conf / name)
        (layout.logs / "flink").mkdir(parents=True, exist_ok=True)

    def process(name: str, command: list[str], extra: dict[str, str] | None = None) -> ProcessSpec:
        return ctx.process(name, command, env={**env, **(extra or {})})

    overview = f"http://{HOST}:{rest}/overview"
    jobmanager = Service(
        name="flink-jobmanager",
        ports=(rest, rpc),
        prepare=prepare,
        spec=lambda: process("flink-jobmanager", [str(home / "bin" / "jobmanager.sh"), "start-foreground"]),
        check=health.http_ok(overview, _taskmanagers(0)),
        requires=(home,),
    )
    taskmanager = Service(
        name="flink-taskmanager",
        ports=(),
        spec=lambda: process("flink-taskmanager", [str(home / "bin" / "taskmanager.sh"), "start-foreground"]),
        check=health.http_ok(overview, _taskmanagers(1)),
        after=("flink-jobmanager",),
        requires=(home,),
    )
    sql_gateway = Service(
        name="flink-sql-gateway",
        ports=(gateway,),
        spec=lambda: process(
            "flink-sql-gateway",
            [
                str(home / "bin" / "sql-gateway.sh"),
                "start-foreground",
                f"-Dsql-gateway.endpoint.rest.address={HOST}",
                f"-Dsql-gateway.endpoint.rest.port={gateway}",
            ],
            {"JVM_ARGS": f"-Xmx{ctx.heap_mb('flink_sql_gateway', 384)}m"},
        ),
        check=health.http_ok(f"http://{HOST}:{gateway}/v1/info"),
        after=("flink-taskmanager",),
        requires=(home,),
    )
    return [jobmanager, taskmanager, sql_gateway]
