"""An app whose metrics the tests read: in process, under uvicorn, under gunicorn.

Each route answers one way: a template with a path parameter, a validation
error, an exception, a contract code, an app's own JSON 503, a stream, and
the worker's PID. ``/metrics`` serves what they recorded.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse, StreamingResponse
from opentelemetry import context, trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags
from pydantic import BaseModel

import hiccup
from hiccup import Code, Problem
from hiccup._metrics import Metrics
from hiccup._middleware import Exchange, HiccupMiddleware, Observer
from hiccup._model import model_call

SETTINGS = hiccup.Settings(
    service_name="writer-api", version="1.4.2", environment="test"
)
#: Where each worker leaves a file named for its PID once its app is built.
READY_DIR = "HICCUP_TEST_READY_DIR"


class Draft(BaseModel):
    prompt: str


class CallersTrace:
    """Stand in for the tracing observer: make the caller's trace current."""

    def started(self, exchange: Exchange) -> object:
        header = exchange.header(b"traceparent")
        if header is None:
            return None
        _, trace_id, span_id, flags = header.decode().split("-")
        span = NonRecordingSpan(
            SpanContext(
                int(trace_id, 16),
                int(span_id, 16),
                is_remote=True,
                trace_flags=TraceFlags(int(flags, 16)),
            )
        )

        return context.attach(trace.set_span_in_context(span))

    def finished(
        self, exchange: Exchange, state: Any, duration: float, route: str | None
    ) -> None:
        if state is not None:
            context.detach(state)


def build(
    metrics: Metrics,
    before: Sequence[Observer] = (),
    settings: hiccup.Settings = SETTINGS,
) -> FastAPI:
    """Build the app, recording into ``metrics``, observed first by ``before``."""
    app = FastAPI()
    _add_routes(app, metrics)
    hiccup.install(app, settings, metrics=metrics)
    stack = app.build_middleware_stack()
    assert isinstance(stack, HiccupMiddleware)
    stack.observers = (*before, *stack.observers)
    app.middleware_stack = stack

    return app


def _add_routes(app: FastAPI, metrics: Metrics) -> None:
    @app.get("/items/{item_id}")
    async def item(item_id: int) -> dict[str, int]:
        return {"item_id": item_id}

    @app.post("/drafts", status_code=201)
    async def drafts(draft: Draft) -> Draft:
        return draft

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("boom")

    @app.get("/problem")
    async def problem() -> None:
        raise Problem(Code.MODEL_TIMEOUT, model="writer-large")

    @app.get("/busy")
    async def busy() -> JSONResponse:
        return JSONResponse({"detail": "busy"}, status_code=503)

    @app.get("/stream")
    async def stream() -> StreamingResponse:
        @model_call("simulated", "writer-large", "chat", metrics=metrics)
        async def chunks() -> AsyncIterator[bytes]:
            for part in (b"one,", b"two"):
                await asyncio.sleep(0)
                yield part

        return StreamingResponse(chunks(), media_type="text/plain")

    @app.get("/pid")
    async def pid() -> dict[str, int]:
        return {"pid": os.getpid()}


def create() -> FastAPI:
    """Build the app with metrics of its own; uvicorn and gunicorn call this."""
    app = build(Metrics(), before=[CallersTrace()])
    ready = os.environ.get(READY_DIR)
    if ready:
        (Path(ready) / str(os.getpid())).touch()

    return app
