"""The scoring service and the enrichment step (udf_service/): the step consumes detections and
enriched transactions, calls the service over HTTP with its token, and produces scored
transactions and alerts."""

from __future__ import annotations

from fraudctl.config.settings import Scoring
from fraudctl.localstack import health
from fraudctl.localstack import secrets as local_secrets
from fraudctl.localstack.services.base import HOST, Service, StackContext, StackError


def services(ctx: StackContext) -> list[Service]:
    layout = ctx.layout
    settings: Scoring = ctx.settings.need("scoring")
    model = layout.repo / "udf_service" / "models" / "current"
    token_var = (local_secrets.env_name(settings.token) if settings.token else None) or ""
    # Both processes get the token and nothing else of the stack's secrets.
    token_env = {token_var: ctx.secrets.get(token_var, "")}
    url = f"http://{HOST}:{settings.port}"

    def prepare() -> None:
        if token_var not in local_secrets.NAMES:
            raise StackError(
                f"{ctx.env.path}: scoring.token: the local stack generates the service's token; expected "
                f"${{env:NAME}} with NAME one of {', '.join(local_secrets.NAMES)}"
            )

    scoring = Service(
        name="scoring",
        ports=(settings.port,),
        prepare=prepare,
        spec=lambda: ctx.python_module(
            "scoring",
            "udf_service",
            *("--host", HOST, "--port", str(settings.port), "--model", str(model), "--token-env", token_var),
            env=token_env,
        ),
        check=health.http_ok(f"{url}/readyz"),
        start_timeout=60,
        requires=(model,),
    )

    kafka_properties = {
        k: v for k, v in ctx.settings.kafka.librdkafka(resolved=False).items() if k != "bootstrap.servers"
    }
    enrichment = Service(
        name="enrichment",
        ports=(),
        spec=lambda: ctx.python_module(
            "enrichment",
            "udf_service.enrichment",
            *("--bootstrap", ctx.bootstrap, "--scoring-url", url, "--token", str(settings.token)),
            *("--risk-threshold", str(settings.risk_threshold)),
            *("--model-alert-severity", settings.model_alert_severity),
            *(f"--kafka-property={k}={v}" for k, v in kafka_properties.items()),
            env=token_env,
        ),
        check=ctx.pid_running("enrichment", "consuming"),
        after=("kafka", "scoring"),
        start_timeout=30,
    )
    return [scoring, enrichment]
