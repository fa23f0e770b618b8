from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.responses import StreamingResponse
from opentelemetry import baggage
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)
from opentelemetry.trace import SpanKind, StatusCode
from starlette.types import ASGIApp
from support import LogCapture, Sent, assert_valid, call, http_scope

import hiccup
from hiccup._middleware import HiccupMiddleware
from hiccup._tracing import (
    TracingObserver,
    configure_tracing,
    disable_fastapi_tracing,
)

SETTINGS = hiccup.Settings(service_name="tests")
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"
TRACEPARENT = (b"traceparent", f"00-{TRACE}-{PARENT}-01".encode())


def build_app() -> FastAPI:
    """A FastAPI app whose routes log, fail, stream and read baggage."""
    app = FastAPI()
    log = hiccup.get_logger("tests.app")

    @app.get("/items/{item_id}")
    async def item(item_id: int) -> dict[str, int]:
        log.info("item.read", item_id=item_id)
        return {"item_id": item_id}

    @app.get("/boom")
    async def boom() -> None:
        log.info("boom.soon")
        logging.getLogger("tests.library").warning("about to fail")
        raise RuntimeError("boom")

    @app.get("/stream")
    async def stream() -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            for n in range(5):
                yield b"chunk %d," % n

        return StreamingResponse(chunks(), media_type="text/plain")

    @app.get("/broken-stream")
    async def broken_stream() -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            yield b"first,"
            raise RuntimeError("stream broke")

        return StreamingResponse(chunks(), media_type="text/plain")

    @app.get("/baggage")
    async def read_baggage() -> dict[str, object]:
        return dict(baggage.get_all())

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        log.info("probe.answered")
        return {"status": "pass"}

    return app


def traced(app: FastAPI, provider: TracerProvider, logs: LogCapture) -> FastAPI:
    """Install hiccup on an app with a tracing observer of ``provider``, as
    ``install`` does once tracing is on, logging into ``logs``."""
    hiccup.install(app, SETTINGS)
    hiccup.configure_logging(SETTINGS, stream=logs.stream)
    build = app.build_middleware_stack

    def build_traced() -> ASGIApp:
        stack = build()
        assert isinstance(stack, HiccupMiddleware)
        stack.observers = (TracingObserver(SETTINGS, provider),)
        return stack

    app.build_middleware_stack = build_traced  # type: ignore[method-assign]
    return app


Configured = Callable[..., TracerProvider]


@pytest.fixture
def configured() -> Iterator[Configured]:
    """Return a factory of providers built by ``configure_tracing`` from
    settings; ``exporter`` is where their spans go."""
    made: list[TracerProvider] = []

    def configure(exporter: SpanExporter, **settings: Any) -> TracerProvider:
        tracing = configure_tracing(
            hiccup.Settings(**settings), exporter=exporter, set_global=False
        )
        assert isinstance(tracing.provider, TracerProvider)
        made.append(tracing.provider)
        return tracing.provider

    yield configure
    for provider in made:
        provider.shutdown()


@pytest.fixture
def app(provider: TracerProvider, logs: LogCapture) -> FastAPI:
    return traced(build_app(), provider, logs)


def get(app: Any, path: str, *headers: tuple[bytes, bytes], query: bytes = b"") -> Sent:
    return asyncio.run(call(app, "GET", path, headers=headers, query=query))


async def call_with_host(app: Any, path: str, host: bytes) -> None:
    """Call an app with a ``Host`` header of its own, and nothing else sent."""
    scope = http_scope("GET", path)
    scope["headers"] = [(b"host", host)]

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        pass

    await app(scope, receive, send)


def server_spans(spans: InMemorySpanExporter) -> list[ReadableSpan]:
    return [s for s in spans.get_finished_spans() if s.kind is SpanKind.SERVER]


def ids(span: ReadableSpan) -> tuple[str, str]:
    context = span.get_span_context()
    assert context is not None
    return format(context.trace_id, "032x"), format(context.span_id, "016x")


# The server span


def test_a_request_gets_one_server_span_named_for_its_route(
    app: FastAPI, spans: InMemorySpanExporter
) -> None:
    get(app, "/items/7")

    [span] = spans.get_finished_spans()
    assert (span.name, span.kind) == ("GET /items/{item_id}", SpanKind.SERVER)
    assert span.status.status_code is StatusCode.UNSET
    assert dict(span.attributes or {}) == {
        "http.request.method": "GET",
        "url.path": "/items/7",
        "url.scheme": "http",
        "network.protocol.version": "1.1",
        "server.address": "testserver",
        "server.port": 80,
        "client.address": "127.0.0.1",
        "http.route": "/items/{item_id}",
        "http.response.status_code": 200,
    }


def test_neither_the_query_nor_the_user_agent_is_recorded(
    app: FastAPI, spans: InMemorySpanExporter
) -> None:
    get(app, "/items/7", (b"user-agent", b"Mozilla/5.0"), query=b"email=a@b.example")

    [span] = spans.get_finished_spans()
    attributes = dict(span.attributes or {})
    assert "url.query" not in attributes
    assert "user_agent.original" not in attributes
    assert not any("a@b.example" in str(value) for value in attributes.values())


@pytest.mark.parametrize(
    ("host", "address", "port"),
    [
        pytest.param(b"api.example:8443", "api.example", 8443, id="name-and-port"),
        pytest.param(b"api.example", "api.example", 80, id="default-port"),
        pytest.param(b"[::1]:8000", "::1", 8000, id="ipv6"),
    ],
)
def test_server_address_is_the_host_the_client_asked_for(
    app: FastAPI,
    spans: InMemorySpanExporter,
    host: bytes,
    address: str,
    port: int,
) -> None:
    asyncio.run(call_with_host(app, "/items/1", host))

    [span] = spans.get_finished_spans()
    attributes = span.attributes or {}
    assert (attributes["server.address"], attributes["server.port"]) == (address, port)


def test_an_unmatched_path_is_named_by_its_method_alone(
    app: FastAPI, spans: InMemorySpanExporter
) -> None:
    get(app, "/nowhere")

    [span] = spans.get_finished_spans()
    attributes = span.attributes or {}
    assert span.name == "GET"
    assert "http.route" not in attributes
    assert attributes["http.response.status_code"] == 404
    assert attributes["hiccup.error.code"] == "NOT_FOUND"
    assert "error.type" not in attributes
    assert span.status.status_code is StatusCode.UNSET


def test_a_method_outside_the_standard_ones_is_named_other(
    app: FastAPI, spans: InMemorySpanExporter
) -> None:
    asyncio.run(call(app, "PURGE", "/items/1"))

    [span] = spans.get_finished_spans()
    attributes = span.attributes or {}
    assert span.name.split()[0] == "HTTP"
    assert (
        attributes["http.request.method"],
        attributes["http.request.method_original"],
    ) == (
        "_OTHER",
        "PURGE",
    )


def test_a_server_error_marks_the_span_failed_with_its_code(
    app: FastAPI, spans: InMemorySpanExporter
) -> None:
    get(app, "/boom")

    [span] = spans.get_finished_spans()
    attributes = span.attributes or {}
    assert span.status.status_code is StatusCode.ERROR
    assert (attributes["error.type"], attributes["hiccup.error.code"]) == (
        "INTERNAL",
        "INTERNAL",
    )
    assert attributes["http.response.status_code"] == 500
    assert not span.events, "exception messages stay out of spans"


def test_a_stream_cut_short_is_a_failure_despite_its_200(
    app: FastAPI, spans: InMemorySpanExporter
) -> None:
    with pytest.raises(RuntimeError, match="stream broke"):
        get(app, "/broken-stream")

    [span] = spans.get_finished_spans()
    attributes = span.attributes or {}
    assert attributes["http.response.status_code"] == 200
    assert attributes["error.type"] == "INTERNAL"
    assert span.status.status_code is StatusCode.ERROR


def test_a_streamed_response_gets_no_span_per_chunk(
    app: FastAPI, spans: InMemorySpanExporter
) -> None:
    sent = get(app, "/stream")

    assert sent.body.count(b"chunk") == 5
    assert [span.name for span in spans.get_finished_spans()] == ["GET /stream"]


def test_an_untraced_path_gets_no_span_but_keeps_the_callers_trace_id(
    app: FastAPI, spans: InMemorySpanExporter, logs: LogCapture
) -> None:
    get(app, "/healthz", TRACEPARENT)

    assert spans.get_finished_spans() == ()
    assert {line["trace_id"] for line in logs.lines} == {TRACE}


# Joining the caller's trace


def test_the_incoming_traceparent_is_the_parent_of_the_server_span(
    app: FastAPI, spans: InMemorySpanExporter
) -> None:
    get(app, "/items/1", TRACEPARENT)

    [span] = spans.get_finished_spans()
    assert span.parent is not None
    assert span.parent.is_remote
    assert (
        format(span.parent.trace_id, "032x"),
        format(span.parent.span_id, "016x"),
    ) == (
        TRACE,
        PARENT,
    )
    assert ids(span)[0] == TRACE


def test_tracestate_is_carried_into_the_server_span(
    app: FastAPI, spans: InMemorySpanExporter
) -> None:
    get(app, "/items/1", TRACEPARENT, (b"tracestate", b"vendor=opaque"))

    [span] = spans.get_finished_spans()
    context = span.get_span_context()
    assert context is not None
    assert context.trace_state.get("vendor") == "opaque"


def test_incoming_baggage_is_readable_in_the_route(app: FastAPI) -> None:
    sent = get(app, "/baggage", (b"baggage", b"tenant=acme,plan=pro"))

    assert sent.json() == {"tenant": "acme", "plan": "pro"}


def test_a_request_without_traceparent_starts_a_trace(
    app: FastAPI, spans: InMemorySpanExporter
) -> None:
    get(app, "/items/1")

    [span] = spans.get_finished_spans()
    assert span.parent is None


# One trace ID everywhere


def test_envelope_and_every_log_line_carry_the_server_spans_ids(
    app: FastAPI, spans: InMemorySpanExporter, logs: LogCapture
) -> None:
    sent = get(app, "/boom", TRACEPARENT)

    [span] = spans.get_finished_spans()
    trace_id, span_id = ids(span)
    assert trace_id == TRACE
    assert sent.json()["trace_id"] == TRACE
    events = [line["event"] for line in logs.lines]
    assert events == ["boom.soon", "log", "http.exception", "http.request"]
    for line in logs.lines:
        assert (line["trace_id"], line["span_id"]) == (trace_id, span_id), line
        assert_valid("log-record", line)


def test_log_lines_of_a_fresh_trace_carry_its_ids(
    app: FastAPI, spans: InMemorySpanExporter, logs: LogCapture
) -> None:
    get(app, "/items/3")

    [span] = spans.get_finished_spans()
    assert {(line["trace_id"], line["span_id"]) for line in logs.lines} == {ids(span)}


def test_a_span_opened_in_the_route_is_the_one_its_log_lines_name(
    provider: TracerProvider, spans: InMemorySpanExporter, logs: LogCapture
) -> None:
    app = FastAPI()
    tracer = provider.get_tracer("tests")

    @app.get("/inner")
    async def inner() -> None:
        with tracer.start_as_current_span("load.draft"):
            hiccup.get_logger("tests.app").info("draft.loaded")

    get(traced(app, provider, logs), "/inner")

    inner_span, server_span = spans.get_finished_spans()
    [loaded] = logs.events("draft.loaded")
    [access] = logs.events("http.request")
    assert (loaded["trace_id"], loaded["span_id"]) == ids(inner_span)
    assert (access["trace_id"], access["span_id"]) == ids(server_span)


# Sampling


def test_a_sampled_out_request_still_logs_a_trace_id(
    configured: Configured, logs: LogCapture
) -> None:
    exporter = InMemorySpanExporter()
    tracing = configured(exporter, trace_sample_ratio=0.0)
    app = traced(build_app(), tracing, logs)

    get(app, "/items/1")
    tracing.force_flush()

    assert exporter.get_finished_spans() == ()
    [line] = logs.events("http.request")
    assert len(line["trace_id"]) == 32


def test_a_caller_that_sampled_its_trace_is_followed(
    configured: Configured, logs: LogCapture
) -> None:
    exporter = InMemorySpanExporter()
    tracing = configured(exporter, trace_sample_ratio=0.0)
    app = traced(build_app(), tracing, logs)

    get(app, "/items/1", TRACEPARENT)
    get(app, "/items/2", (b"traceparent", f"00-{TRACE}-{PARENT}-00".encode()))
    tracing.force_flush()

    assert [span.name for span in exporter.get_finished_spans()] == [
        "GET /items/{item_id}"
    ]
    assert [line["trace_id"] for line in logs.events("http.request")] == [TRACE] * 2


# Other instrumentations


def test_an_outer_server_span_is_annotated_not_doubled(
    provider: TracerProvider, spans: InMemorySpanExporter, logs: LogCapture
) -> None:
    app = OpenTelemetryMiddleware(
        HiccupMiddleware(
            build_app(), SETTINGS, observers=[TracingObserver(SETTINGS, provider)]
        ),
        tracer_provider=provider,
        exclude_spans=["receive", "send"],
    )

    sent = get(app, "/boom", TRACEPARENT)

    [span] = server_spans(spans)
    assert span.instrumentation_scope is not None
    assert span.instrumentation_scope.name == "opentelemetry.instrumentation.asgi"
    attributes = span.attributes or {}
    assert attributes["hiccup.error.code"] == "INTERNAL"
    assert attributes["http.route"] == "/boom"
    assert sent.json()["trace_id"] == ids(span)[0] == TRACE
    [access] = logs.events("http.request")
    assert (access["trace_id"], access["span_id"]) == ids(span)


@pytest.fixture
def instrumented(provider: TracerProvider) -> Iterator[FastAPI]:
    app = build_app()
    FastAPIInstrumentor.instrument_app(app, tracer_provider=provider)
    yield app
    FastAPIInstrumentor.uninstrument_app(app)


def test_fastapi_instrumentation_inside_adds_no_second_server_span(
    instrumented: FastAPI,
    provider: TracerProvider,
    spans: InMemorySpanExporter,
    logs: LogCapture,
) -> None:
    app = HiccupMiddleware(
        instrumented, SETTINGS, observers=[TracingObserver(SETTINGS, provider)]
    )

    for n in range(3):
        get(app, f"/items/{n}", TRACEPARENT)

    servers = server_spans(spans)
    assert [span.name for span in servers] == ["GET /items/{item_id}"] * 3
    assert {span.instrumentation_scope.name for span in servers} == {"hiccup"}  # type: ignore[union-attr]
    for span in spans.get_finished_spans():
        assert ids(span)[0] == TRACE


def test_fastapis_own_telemetry_stands_aside_for_hiccups_span(
    provider: TracerProvider, spans: InMemorySpanExporter, logs: LogCapture
) -> None:
    native = FastAPI(telemetry={"tracer_provider": provider})

    @native.get("/items/{item_id}")
    async def item(item_id: int) -> dict[str, int]:
        return {"item_id": item_id}

    app = HiccupMiddleware(
        native, SETTINGS, observers=[TracingObserver(SETTINGS, provider)]
    )

    get(app, "/items/1", TRACEPARENT)

    [span] = spans.get_finished_spans()
    assert span.instrumentation_scope is not None
    assert (span.name, span.instrumentation_scope.name) == (
        "GET /items/{item_id}",
        "hiccup",
    )


def test_fastapis_own_server_span_outside_hiccup_is_the_only_one(
    provider: TracerProvider, spans: InMemorySpanExporter, logs: LogCapture
) -> None:
    native = FastAPI(telemetry={"tracer_provider": provider})

    @native.get("/boom")
    async def boom() -> None:
        raise RuntimeError("boom")

    # As middleware of the app's, hiccup runs inside FastAPI's own telemetry.
    native.add_middleware(
        HiccupMiddleware,
        settings=SETTINGS,
        observers=[TracingObserver(SETTINGS, provider)],
    )

    sent = get(native, "/boom", TRACEPARENT)

    [span] = server_spans(spans)
    assert span.instrumentation_scope is not None
    assert span.instrumentation_scope.name == "fastapi"
    assert (span.attributes or {})["hiccup.error.code"] == "INTERNAL"
    assert sent.json()["trace_id"] == ids(span)[0] == TRACE
    for line in logs.lines:
        assert (line["trace_id"], line["span_id"]) == ids(span)


def test_fastapis_own_tracing_can_be_turned_off_for_hiccups(
    provider: TracerProvider, spans: InMemorySpanExporter, logs: LogCapture
) -> None:
    native = FastAPI(telemetry={"tracer_provider": provider})

    @native.get("/items/{item_id}")
    async def item(item_id: int) -> dict[str, int]:
        return {"item_id": item_id}

    assert disable_fastapi_tracing(native)
    get(traced(native, provider, logs), "/items/1")

    [span] = spans.get_finished_spans()
    assert span.instrumentation_scope is not None
    assert (span.name, span.instrumentation_scope.name) == (
        "GET /items/{item_id}",
        "hiccup",
    )


@pytest.mark.parametrize(
    "candidate",
    [
        pytest.param(FastAPI(telemetry={"tracing": False}), id="already-off"),
        pytest.param(object(), id="not-fastapi"),
    ],
)
def test_there_is_no_fastapi_tracing_to_turn_off(candidate: object) -> None:
    assert not disable_fastapi_tracing(candidate)
