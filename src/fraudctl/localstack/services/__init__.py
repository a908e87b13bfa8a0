"""The services of the local stack, one module each, built from the `local` environment.

Each service says which ports it binds, how to prepare its folders (idempotent, run by `up` only),
how to start it and how to tell it is ready. Start order follows `after`."""

from __future__ import annotations

from collections.abc import Mapping

from fraudctl.config.environment import Environment
from fraudctl.localstack.layout import Layout
from fraudctl.localstack.services import connect, flink, kafka, ksqldb, postgres, s3, scoring, search
from fraudctl.localstack.services.base import (
    HOST,
    STACK_USER,
    Service,
    StackContext,
    StackError,
    ensure_stack_user,
    java_home,
    stack_user,
)
from fraudctl.localstack.services.ksqldb import KSQLDB_START, ksqldb_home

__all__ = [
    "HOST",
    "KSQLDB_START",
    "STACK_USER",
    "Service",
    "StackContext",
    "SUPERVISOR",
    "StackError",
    "build_services",
    "ensure_stack_user",
    "java_home",
    "ksqldb_home",
    "stack_user",
]


def build_services(env: Environment, layout: Layout, secrets: Mapping[str, str], user: str | None) -> list[Service]:
    """Every service's spec. Building them has no side effect (`prepare` runs only on `up`)."""
    ctx = StackContext(env, layout, secrets, user, java_home())
    services = [
        kafka.service(ctx),
        postgres.service(ctx),
        *search.services(ctx),
        *s3.services(ctx),
        connect.service(ctx),
        *flink.services(ctx),
        *scoring.services(ctx),
        ksqldb.service(ctx),
    ]
    return [*services, supervisor_service(env, layout, services)]


SUPERVISOR = "supervisor"


def supervisor_service(env: Environment, layout: Layout, others: list[Service]) -> Service:
    """The supervisor (localstack/supervisor.py) as a service of its own: started after every
    other one, so `down` (reverse order) stops it first and it never restarts what is stopped."""
    import sys

    from fraudctl.localstack import health
    from fraudctl.localstack.process import ProcessSpec, running_pid

    def running() -> health.Health:
        pid = running_pid(layout.run, SUPERVISOR)
        return health.Health(pid is not None, f"watching (pid {pid})" if pid else "not running")

    return Service(
        name=SUPERVISOR,
        ports=(),
        spec=lambda: ProcessSpec(
            SUPERVISOR,
            [
                sys.executable,
                "-m",
                "fraudctl.localstack.supervisor",
                "--env",
                env.name,
                "--state-dir",
                str(layout.root),
            ],
            layout.logs / f"{SUPERVISOR}.log",
            layout.root,
        ),
        check=running,
        after=tuple(s.name for s in others),
        start_timeout=30,
    )
