"""The scoring service: POST /v1/score, POST /v1/score/batch, GET /healthz, /readyz, /metrics, and
the OpenAPI document. Invalid input is a 4xx naming the field; no input makes it answer 500."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypeVar

import numpy as np
from fastapi import Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fraudctl.contract import Transaction, TransactionContext
from udf_service import features
from udf_service.model import LoadedModel, ModelStore


@dataclass(frozen=True)
class Settings:
    model_path: Path
    token: str | None = None  # the bearer token, when the environment sets one (never from the repo)
    max_batch: int = 1000
    max_body_bytes: int = 2_000_000
    reload_interval: float = 1.0


class ScoreRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    transaction: Transaction
    context: TransactionContext | None = None


class BatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    transactions: list[ScoreRequest] = Field(min_length=1)


class Score(BaseModel):
    transaction_id: str
    risk_score: float = Field(ge=0, le=1)
    model_version: str
    reasons: list[str]
    # The vector scored (udf_service.features.FEATURES order), when asked for with ?features=true.
    features: list[float] | None = None


class BatchScores(BaseModel):
    results: list[Score]


_Body = TypeVar("_Body", bound=BaseModel)


class BodyLimit:
    """Answers 413 as soon as a request body grows past the limit, declared or streamed."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._reject(send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise _TooLarge
            return message

        try:
            await self.app(scope, counted, send)
        except _TooLarge:
            await self._reject(send)

    async def _reject(self, send: Send) -> None:
        body = b'{"detail":"request body larger than %d bytes"}' % self.limit
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    pass


def create_app(settings: Settings) -> FastAPI:
    store = ModelStore(settings.model_path)
    registry = CollectorRegistry()
    requests_total = Counter(
        "scoring_requests_total", "Requests by endpoint and status", ["endpoint", "status"], registry=registry
    )
    latency = Histogram(
        "scoring_request_seconds",
        "Request latency",
        ["endpoint"],
        registry=registry,
        buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
    )
    batch_sizes = Histogram(
        "scoring_batch_size",
        "Transactions per batch request",
        registry=registry,
        buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000),
    )
    model_info = Gauge("scoring_model_info", "The model being served (value 1)", ["version"], registry=registry)

    def publish_model() -> None:
        model_info.clear()
        if store.current is not None:
            model_info.labels(store.current.version).set(1)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        store.refresh()
        publish_model()

        async def watch() -> None:
            while True:
                await asyncio.sleep(settings.reload_interval)
                if await asyncio.to_thread(store.refresh):
                    publish_model()

        watcher = asyncio.create_task(watch())
        yield
        watcher.cancel()

    app = FastAPI(
        title="fraud scoring service",
        version="1",
        lifespan=lifespan,
        description="Risk scores for transactions of the fraud pipeline (see fraudctl.contract).",
    )
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)

    class Measure:
        """Counts and times every request (plain ASGI: no per-request task or body copy)."""

        def __init__(self, inner: ASGIApp) -> None:
            self.inner = inner

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await self.inner(scope, receive, send)
                return
            t0 = time.perf_counter()
            status = 500

            async def sending(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = int(message["status"])
                await send(message)

            try:
                await self.inner(scope, receive, sending)
            finally:
                # Labelled by the matched route's template, never the raw path: arbitrary paths
                # would otherwise each create time series (the router sets scope["route"]).
                route = scope.get("route")
                path = str(getattr(route, "path", "unmatched"))
                requests_total.labels(path, str(status)).inc()
                latency.labels(path).observe(time.perf_counter() - t0)

    app.add_middleware(Measure)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        # The reasons without the input values: a non-finite number (NaN, Infinity, which Python's
        # JSON parser accepts) cannot be written back as JSON, and the default answer would be a 500.
        errors = [
            {"loc": list(e.get("loc", ())), "msg": str(e.get("msg")), "type": str(e.get("type"))} for e in exc.errors()
        ]
        return JSONResponse(status_code=422, content={"detail": errors})

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        # Reached only by a bug: say so without leaking internals.
        return JSONResponse(status_code=500, content={"detail": f"internal error ({type(exc).__name__})"})

    async def authorized(request: Request) -> None:
        if settings.token is None:
            return
        header = request.headers.get("authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.encode(), settings.token.encode()):
            raise HTTPException(
                status_code=401,
                detail="missing or wrong bearer token",
                headers={"WWW-Authenticate": "Bearer"},
            )

    async def serving() -> LoadedModel:
        model = store.current
        if model is None:
            raise HTTPException(status_code=503, detail=f"no model loaded: {store.last_error}")
        return model

    # Dependencies as defaults: the app is built in a function, so annotation aliases would not resolve.
    auth_dep = Depends(authorized)
    model_dep = Depends(serving)

    def score_all(model: LoadedModel, items: list[ScoreRequest], with_features: bool = False) -> list[Score]:
        vectors = np.asarray([features.compute(i.transaction, i.context) for i in items], dtype=np.float32)
        scores = np.clip(model.scores(vectors), 0.0, 1.0)
        why = features.reasons_of(vectors, model.metadata)
        # Built without validation: every value is computed here (the score clipped to [0, 1]).
        return [
            Score.model_construct(
                transaction_id=item.transaction.transaction_id,
                risk_score=float(s),
                model_version=model.version,
                reasons=r,
                features=v.tolist() if with_features else None,
            )
            for item, s, r, v in zip(items, scores, why, vectors, strict=True)
        ]

    def parsed(model: type[_Body], body: bytes) -> _Body:
        """The body parsed and validated in one pass (pydantic-core reads the bytes itself), errors
        answered as FastAPI's own validation errors are."""
        try:
            return model.model_validate_json(body)
        except ValidationError as exc:
            raise RequestValidationError(
                [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False, include_input=False)]
            ) from exc

    def answer(value: BaseModel) -> Response:
        # Serialised by pydantic-core straight to bytes: no second validation against a response
        # model and no jsonable_encoder pass (the declared response models document the shape).
        return Response(value.__pydantic_serializer__.to_json(value, exclude_none=True), media_type="application/json")

    def body_schema(model: type[BaseModel]) -> dict[str, Any]:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schema.pop("$defs", None)  # the referenced models are the components of /v1/score's body
        return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}

    @app.post("/v1/score", response_model=Score, responses={401: {}, 413: {}, 422: {}, 503: {}})
    async def score(body: ScoreRequest, _: None = auth_dep, model: LoadedModel = model_dep) -> Response:
        # One row scores in microseconds: run on the event loop, without a thread-pool hop.
        return answer(score_all(model, [body])[0])

    @app.post(
        "/v1/score/batch",
        response_model=BatchScores,
        responses={401: {}, 413: {}, 422: {}, 503: {}},
        openapi_extra=body_schema(BatchRequest),
    )
    async def score_batch(
        request: Request,
        with_features: Annotated[bool, Query(alias="features")] = False,
        _: None = auth_dep,
        model: LoadedModel = model_dep,
    ) -> Response:
        body = parsed(BatchRequest, await request.body())
        if len(body.transactions) > settings.max_batch:
            return JSONResponse(
                status_code=422,
                content={
                    "detail": [
                        {
                            "loc": ["body", "transactions"],
                            "type": "too_long",
                            "msg": f"at most {settings.max_batch} transactions per batch, got {len(body.transactions)}",
                        }
                    ]
                },
            )
        batch_sizes.observe(len(body.transactions))
        return answer(BatchScores.model_construct(results=score_all(model, body.transactions, with_features)))

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "alive"}

    @app.get("/readyz", responses={503: {}})
    def readyz() -> Any:
        if store.current is None:
            return JSONResponse(status_code=503, content={"status": "not ready", "error": store.last_error})
        return {"status": "ready", "model_version": store.current.version}

    @app.get("/metrics")
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return app
