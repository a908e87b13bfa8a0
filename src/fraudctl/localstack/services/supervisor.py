"""The supervisor (localstack/supervisor.py) as a service of its own: started after every other
one, so `down` (reverse order) stops it first and it never restarts what is being stopped."""

from __future__ import annotations

from fraudctl.localstack.services.base import Service, StackContext

SUPERVISOR = "supervisor"


def service(ctx: StackContext, others: list[Service]) -> Service:
    return Service(
        name=SUPERVISOR,
        ports=(),
        spec=lambda: ctx.python_module(
            SUPERVISOR,
            "fraudctl.localstack.supervisor",
            *("--env", ctx.env.name, "--state-dir", str(ctx.layout.root)),
        ),
        check=ctx.pid_running(SUPERVISOR, "watching"),
        after=tuple(s.name for s in others),
        start_timeout=30,
    )
