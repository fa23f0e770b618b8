"""The apps the benchmark compares, each built by a factory uvicorn can call.

Every variant serves the same three routes (``ROUTES``) and logs to the same
sink, ``os.devnull``, so the variants that log pay for rendering each line
and for the write, but the terminal stays quiet.

Two pairs are compared. ``hiccup`` and ``stacked`` give request IDs, error
bodies and access lines. ``hiccup-full`` and ``stacked-full`` add tracing
with every request sampled, Prometheus metrics and Sentry error reporting;
their spans go to an exporter and their events to a transport that drop
them, so that what is measured is the app's side of the work.
"""

from __future__ import annotations

import functools
import logging
import os
import time
from collections.abc import Callable, Sequence
from typing import Any, BinaryIO

import orjson
import sentry_sdk
import structlog
from asgi_correlation_id import CorrelationIdMiddleware, correlation_id
from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from sentry_sdk.envelope import Envelope
from sentry_sdk.transport import Transport
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.base import RequestResponseEndpoint
from starlette.types import ASGIApp, Receive, Scope, Send

import hiccup

__all__ = [
    "BASELINE",
    "COMPARED",
    "ISOLATED",
    "ROUTES",
    "VARIANTS",
    "devnull",
    "make_fastapi",
    "make_hiccup",
    "make_hiccup_full",
    "make_raw",
    "make_stacked",
    "make_stacked_full",
]

#: Every route of every variant, with the status each must answer with.
ROUTES: dict[str, int] = {"/json": 200, "/missing": 404, "/boom": 500}
#: The variant the others are compared with.
BASELINE = "fastapi"
#: Each hiccup variant, and the stack it is compared with.
COMPARED = {"hiccup": "stacked", "hiccup-full": "stacked-full"}
#: The variants that change the process they run in, and so are measured
#: each in a process of its own: sentry-sdk patches Starlette and FastAPI,
#: and a global tracer provider turns on FastAPI's own request spans.
ISOLATED = frozenset({"hiccup-full", "stacked-full"})
#: A DSN that nothing is ever sent to: the transport drops every envelope.
_DSN = "http://bench@127.0.0.1:9/1"

_JSON = b"application/json"
_RAW_ANSWERS: dict[str, tuple[int, bytes, bytes]] = {
    "/json": (200, _JSON, b'{"hello":"world"}'),
    "/boom": (500, b"text/plain; charset=utf-8", b"Internal Server Error"),
}
_RAW_NOT_FOUND = (404, _JSON, b'{"detail":"Not Found"}')


@functools.cache
def devnull() -> BinaryIO:
    """Return the sink every variant logs to, opened once per process."""
    return open(os.devnull, "wb")


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _raw(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    status, content_type, body = _RAW_ANSWERS.get(scope["path"], _RAW_NOT_FOUND)
    headers = [
        (b"content-type", content_type),
        (b"content-length", b"%d" % len(body)),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def make_raw() -> ASGIApp:
    """Return a bare ASGI callable with fixed answers: the floor of the chart."""
    return _raw


def make_fastapi() -> FastAPI:
    """Return a FastAPI app with the three routes and nothing else."""
    app = FastAPI()

    @app.get("/json")
    async def hello() -> dict[str, str]:
        return {"hello": "world"}

    @app.get("/missing")
    async def missing() -> None:
        raise HTTPException(status_code=404)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("boom")

    return app


def make_hiccup() -> FastAPI:
    """Return the FastAPI app with hiccup's IDs, envelopes and access lines,
    logging JSON to the sink."""
    # The format and level are pinned so that HICCUP_* variables in the
    # environment cannot change what is measured. Tracing and metrics are
    # off: the stacked variant it is compared with has neither.
    settings = hiccup.Settings(
        service_name="bench",
        log_format="json",
        log_level="info",
        tracing=False,
        metrics=False,
    )
    app = hiccup.install(make_fastapi(), settings)
    # install() sends the lines to standard output; send them to the sink.
    hiccup.configure_logging(settings, stream=devnull())

    return app


def _access_logger() -> Any:
    """Return a structlog logger set up as the usual JSON recipe has it.

    The processors are those a typical ``structlog.configure`` call lists. They
    are bound to this logger alone because the benchmark builds every variant
    in one process, where a global configuration would replace hiccup's; the
    cached logger costs the same per line as a globally configured one.
    """
    return structlog.wrap_logger(
        structlog.BytesLogger(devnull()),
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(serializer=orjson.dumps),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        cache_logger_on_first_use=True,
    )


def _add_access_log(app: FastAPI) -> None:
    log = _access_logger()

    @app.middleware("http")
    async def log_request(
        request: Request, call_next: RequestResponseEndpoint
    ) -> Response:
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=correlation_id.get())
        started = time.perf_counter()
        status = 500
        try:
            response = await call_next(request)
            status = response.status_code
        except Exception:
            log.exception("unhandled_exception")
            raise
        finally:
            log.info(
                "request",
                method=request.method,
                path=request.url.path,
                status_code=status,
                duration_ms=round((time.perf_counter() - started) * 1000, 3),
            )

        return response


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        body = {"detail": exc.detail, "request_id": correlation_id.get()}
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def unhandled_error(request: Request, exc: Exception) -> Response:
        # This handler runs outside every middleware, the request ID one
        # included, so the header has to be set here.
        request_id = correlation_id.get()
        body = {"detail": "Internal Server Error", "request_id": request_id}
        headers = {"X-Request-ID": request_id or ""}
        return JSONResponse(body, status_code=500, headers=headers)


def make_stacked() -> FastAPI:
    """Return the FastAPI app with what is usually stacked for the same features.

    That is asgi-correlation-id for the request ID, an HTTP middleware that
    binds it with structlog and writes one JSON access line per request, and
    exception handlers that put the request ID in a JSON error body.
    """
    app = make_fastapi()
    _add_access_log(app)
    # Added last, so outermost: the access log middleware sees its ID.
    app.add_middleware(CorrelationIdMiddleware)
    _add_error_handlers(app)

    return app


class _DroppedSpans(SpanExporter):
    """Take every batch of spans and do nothing with it."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


class _DroppedEvents(Transport):
    """Take every Sentry envelope and do nothing with it."""

    def capture_envelope(self, envelope: Envelope) -> None:
        pass


def make_hiccup_full() -> FastAPI:
    """Return the FastAPI app with everything of hiccup's on: every request
    traced, metrics at /metrics, failures reported to Sentry."""
    settings = hiccup.Settings(
        service_name="bench",
        log_format="json",
        log_level="info",
        trace_sample_ratio=1.0,
    )
    hiccup.configure_tracing(settings, exporter=_DroppedSpans())
    sentry = hiccup.configure_sentry(settings, dsn=_DSN, transport=_DroppedEvents)
    app = hiccup.install(make_fastapi(), settings, sentry=sentry)
    hiccup.configure_logging(settings, stream=devnull())

    return app


def make_stacked_full() -> FastAPI:
    """Return the stacked app with what is usually added for the same
    telemetry: prometheus-fastapi-instrumentator, OpenTelemetry's FastAPI
    instrumentation with every request sampled, and sentry-sdk, whose
    Starlette and FastAPI integrations turn on by themselves."""
    # Imported here, so that only this variant's process loads them.
    from opentelemetry.instrumentation.fastapi import (  # noqa: PLC0415
        FastAPIInstrumentor,
    )
    from opentelemetry.sdk.trace import TracerProvider  # noqa: PLC0415
    from opentelemetry.sdk.trace.export import BatchSpanProcessor  # noqa: PLC0415
    from prometheus_client import CollectorRegistry  # noqa: PLC0415
    from prometheus_fastapi_instrumentator import Instrumentator  # noqa: PLC0415

    sentry_sdk.init(dsn=_DSN, transport=_DroppedEvents)
    app = make_stacked()
    Instrumentator(registry=CollectorRegistry()).instrument(app).expose(app)
    # Not the global provider: that would turn on FastAPI's own spans too.
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(_DroppedSpans()))
    FastAPIInstrumentor.instrument_app(app, tracer_provider=provider)

    return app


#: Each variant's factory, in the order of every table.
VARIANTS: dict[str, Callable[[], ASGIApp]] = {
    "raw": make_raw,
    "fastapi": make_fastapi,
    "hiccup": make_hiccup,
    "stacked": make_stacked,
    "hiccup-full": make_hiccup_full,
    "stacked-full": make_stacked_full,
}
