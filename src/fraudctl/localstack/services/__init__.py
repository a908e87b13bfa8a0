"""The services of the local stack, one module each, built from the `local` environment.

Each service says which ports it binds, how to prepare its folders (idempotent, run by `up` only),
how to start it and how to tell it is ready. Start order follows `after`."""

from __future__ import annotations

from collections.abc import Mapping

from fraudctl.config.environment import Environment
from fraudctl.localstack.layout import Layout
from fraudctl.localstack.services import connect, flink, kafka, ksqldb, postgres, s3, scoring, search, supervisor
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
from fraudctl.localstack.services.supervisor import SUPERVISOR

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
    return [*services, supervisor.service(ctx, services)]
