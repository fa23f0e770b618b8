"""The server span hiccup records on an SDK provider's pipeline behaves, seen
from the app and from the exporter, as an SDK span would."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest
from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import (
    ReadableSpan,
    Span,
    SpanLimits,
    SpanProcessor,
    TracerProvider,
)
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
    TraceIdRatioBased,
)
from opentelemetry.trace import (
    Link,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    TraceState,
)
from opentelemetry.util.types import Attributes
from support import call

import hiccup
from hiccup._middleware import HiccupMiddleware
from hiccup._span import (
    Request,
    Response,
    ServerSpan,
    _reads_no_attributes,
    server_spans,
)
from hiccup._tracing import TracingObserver

SETTINGS = hiccup.Settings(service_name="tests")
LINKED = SpanContext(0xABC, 0xDEF, is_remote=True)
#: Values as apps set them: a list, a mapping, one of mixed types, a float.
APP_ATTRIBUTES: dict[str, Any] = {
    "app.tags": ["a", "b"],
    "app.nested": {"k": "v"},
    "app.mixed": ["a", 1],
    "app.ratio": 0.5,
}


def build_app() -> FastAPI:
    """Routes that use the current span the way apps do."""
    app = FastAPI()

    @app.get("/annotated/{item}")
    async def annotated(item: str) -> dict[str, str]:
        span = trace.get_current_span()
        span.set_attribute("app.item", item)
        span.set_attributes(APP_ATTRIBUTES)
        span.set_attribute("http.response.status_code", 299)
        span.add_event("cache.miss", {"cache.key": item})
        span.add_link(LINKED, {"link.why": "batch"})
        return {"item": item}

    @app.get("/recorded")
    async def recorded() -> dict[str, str]:
        span = trace.get_current_span()
        try:
            raise KeyError("gone")
        except KeyError as exc:
            span.record_exception(exc)
        span.set_status(StatusCode.ERROR, "handled")
        span.update_name("GET custom")
        return {}

    return app


def traced(provider: trace.TracerProvider) -> HiccupMiddleware:
    return HiccupMiddleware(
        build_app(), SETTINGS, observers=[TracingObserver(SETTINGS, provider)]
    )


def get(app: Any, path: str) -> None:
    sent = asyncio.run(call(app, "GET", path))
    assert sent.status < 500


def only_span(spans: InMemorySpanExporter) -> ReadableSpan:
    (span,) = spans.get_finished_spans()
    return span


def test_an_sdk_provider_gets_hiccups_server_span(
    provider: TracerProvider, spans: InMemorySpanExporter
) -> None:
    get(traced(provider), "/annotated/x")

    span = only_span(spans)
    assert isinstance(span, ServerSpan)
    assert span.kind is SpanKind.SERVER
    assert span.name == "GET /annotated/{item}"
    assert span.instrumentation_scope is not None
    assert span.instrumentation_scope.name == "hiccup"
    assert span.resource is provider.resource
    assert span.start_time is not None
    assert span.end_time is not None
    assert span.start_time <= span.end_time
    assert not span.is_recording()


def test_what_the_app_sets_is_validated_and_wins(
    provider: TracerProvider, spans: InMemorySpanExporter
) -> None:
    get(traced(provider), "/annotated/x")

    attributes = only_span(spans).attributes
    assert attributes is not None
    assert attributes["app.item"] == "x"
    # The same values on a span of the SDK's own come out the same.
    sdk_span = TracerProvider().get_tracer("tests").start_span("sdk")
    sdk_span.set_attributes(APP_ATTRIBUTES)
    sdk_attributes = sdk_span.attributes or {}
    assert {key: attributes.get(key) for key in APP_ATTRIBUTES} == {
        key: sdk_attributes.get(key) for key in APP_ATTRIBUTES
    }
    assert attributes["app.tags"] == ("a", "b")
    assert attributes["http.response.status_code"] == 299
    assert attributes["http.route"] == "/annotated/{item}"
    assert attributes["url.path"] == "/annotated/x"


def test_events_links_exceptions_status_and_name_reach_the_exporter(
    provider: TracerProvider, spans: InMemorySpanExporter
) -> None:
    app = traced(provider)
    get(app, "/annotated/x")
    get(app, "/recorded")

    annotated, recorded = spans.get_finished_spans()
    (event,) = annotated.events
    assert event.name == "cache.miss"
    assert dict(event.attributes or {}) == {"cache.key": "x"}
    (link,) = annotated.links
    assert link.context == LINKED
    assert dict(link.attributes or {}) == {"link.why": "batch"}
    (exception,) = recorded.events
    assert exception.name == "exception"
    assert exception.attributes is not None
    assert exception.attributes["exception.type"] == "KeyError"
    assert "gone" in str(exception.attributes["exception.stacktrace"])
    assert recorded.status.status_code is StatusCode.ERROR
    assert recorded.status.description == "handled"
    # The app's name stands until the route names the span: hiccup's wins.
    assert recorded.name == "GET /recorded"


def test_span_limits_bound_what_the_app_adds(spans: InMemorySpanExporter) -> None:
    limits = SpanLimits(
        max_span_attributes=12, max_events=0, max_links=0, max_attribute_length=3
    )
    provider = TracerProvider(span_limits=limits, shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(spans))
    get(traced(provider), "/annotated/long-item")

    span = only_span(spans)
    assert span.attributes is not None
    assert span.attributes["app.item"] == "lon"
    assert len(span.attributes) == 12
    assert span.dropped_attributes > 0
    assert span.events == ()
    assert span.links == ()


def test_the_otlp_encoder_reads_the_span(
    provider: TracerProvider, spans: InMemorySpanExporter
) -> None:
    get(traced(provider), "/annotated/x")

    request = encode_spans(spans.get_finished_spans())
    (scoped,) = request.resource_spans[0].scope_spans
    (encoded,) = scoped.spans
    assert encoded.name == "GET /annotated/{item}"
    assert encoded.kind == encoded.SPAN_KIND_SERVER
    keys = {attribute.key for attribute in encoded.attributes}
    assert {"app.item", "http.route", "url.path"} <= keys
    assert [event.name for event in encoded.events] == ["cache.miss"]


class Annotating(SpanProcessor):
    """Sets an attribute as each span starts, as baggage processors do."""

    def __init__(self) -> None:
        self.started: list[Span] = []

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        self.started.append(span)
        span.set_attribute("started.by", "processor")


def test_processors_see_the_span_start_and_end(
    provider: TracerProvider, spans: InMemorySpanExporter
) -> None:
    annotating = Annotating()
    provider.add_span_processor(annotating)
    get(traced(provider), "/annotated/x")

    span = only_span(spans)
    assert annotating.started == [span]
    assert span.attributes is not None
    assert span.attributes["started.by"] == "processor"


class Reading(Sampler):
    """Samples the requests whose path it likes."""

    def __init__(self) -> None:
        self.seen: list[Attributes] = []

    def should_sample(  # noqa: PLR0917 - the SDK's signature
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: object = None,
    ) -> SamplingResult:
        self.seen.append(attributes)
        wanted = attributes is not None and attributes["url.path"] == "/recorded"
        decision = Decision.RECORD_AND_SAMPLE if wanted else Decision.DROP
        return SamplingResult(decision, {"sampled.by": "path"} if wanted else None)

    def get_description(self) -> str:
        return "Reading"


def test_a_sampler_that_reads_attributes_gets_them(
    spans: InMemorySpanExporter,
) -> None:
    sampler = Reading()
    provider = TracerProvider(sampler=sampler, shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(spans))
    app = traced(provider)
    get(app, "/annotated/x")
    get(app, "/recorded")

    assert [seen and seen["url.path"] for seen in sampler.seen] == [
        "/annotated/x",
        "/recorded",
    ]
    span = only_span(spans)
    assert span.name == "GET /recorded"
    assert span.attributes is not None
    assert span.attributes["sampled.by"] == "path"


def test_the_sdks_samplers_get_no_attributes_made_for_them() -> None:
    assert _reads_no_attributes(ALWAYS_OFF)
    assert _reads_no_attributes(TraceIdRatioBased(0.5))
    assert _reads_no_attributes(ParentBased(TraceIdRatioBased(0.5)))
    assert not _reads_no_attributes(Reading())
    assert not _reads_no_attributes(ParentBased(Reading()))


def test_an_unsampled_request_has_ids_but_records_nothing(
    spans: InMemorySpanExporter,
) -> None:
    provider = TracerProvider(sampler=ALWAYS_OFF, shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(spans))
    sent = asyncio.run(call(traced(provider), "GET", "/annotated/x"))

    assert sent.status == 200
    assert spans.get_finished_spans() == ()


class Wrapping(trace.TracerProvider):
    """A provider of another kind, handing out an SDK provider's tracers."""

    def __init__(self, inner: TracerProvider) -> None:
        self.inner = inner

    def get_tracer(self, *args: Any, **kwargs: Any) -> trace.Tracer:
        return self.inner.get_tracer(*args, **kwargs)


def test_another_kind_of_provider_makes_its_own_spans(
    provider: TracerProvider, spans: InMemorySpanExporter
) -> None:
    wrapping = Wrapping(provider)
    assert server_spans(wrapping, "hiccup") is None
    get(traced(wrapping), "/annotated/x")

    span = only_span(spans)
    assert not isinstance(span, ServerSpan)
    assert span.name == "GET /annotated/{item}"
    assert span.attributes is not None
    assert span.attributes["http.route"] == "/annotated/{item}"
    assert span.attributes["app.item"] == "x"


class Counting(IdGenerator):
    """Hands out trace IDs spread evenly over their range, in turn."""

    def __init__(self) -> None:
        self.next = 0

    def generate_span_id(self) -> int:
        return 0x1234

    def generate_trace_id(self) -> int:
        self.next += 1
        return (self.next * 0x9E3779B97F4A7C15) % (1 << 128) or 1


@pytest.mark.parametrize("ratio", [0.0, 0.25, 0.5, 1.0])
def test_ratio_sampling_decides_as_the_sdks_sampler(ratio: float) -> None:
    sampler = ParentBased(TraceIdRatioBased(ratio))
    provider = TracerProvider(
        sampler=sampler, id_generator=Counting(), shutdown_on_exit=False
    )
    spans = server_spans(provider, "tests")
    assert spans is not None
    request = Request("GET", "/", "http", "1.1", None, None, None)

    decided = []
    expected = []
    for _ in range(400):
        span = spans.start("GET", Context(), request)
        context = span.get_span_context()
        decided.append(context.trace_flags.sampled)
        result = sampler.should_sample(Context(), context.trace_id, "GET")
        expected.append(result.decision is Decision.RECORD_AND_SAMPLE)
        span.end()

    assert decided == expected
    assert sum(decided) == pytest.approx(400 * ratio, abs=40)


@pytest.mark.parametrize("sampled", [True, False])
def test_a_parents_decision_and_trace_state_carry_over(sampled: bool) -> None:
    provider = TracerProvider(
        sampler=ParentBased(TraceIdRatioBased(0.0 if sampled else 1.0)),
        shutdown_on_exit=False,
    )
    spans = server_spans(provider, "tests")
    assert spans is not None
    state = TraceState([("vendor", "v1")])
    flags = TraceFlags(TraceFlags.SAMPLED if sampled else TraceFlags.DEFAULT)
    remote = SpanContext(0xABC, 0xDEF, True, flags, state)
    parent = trace.set_span_in_context(trace.NonRecordingSpan(remote))
    request = Request("GET", "/", "http", "1.1", None, None, None)

    span = spans.start("GET", parent, request)
    context = span.get_span_context()

    assert context.trace_id == 0xABC
    assert context.trace_flags.sampled is sampled
    assert context.trace_state == state
    assert span.is_recording() is sampled
    if sampled:
        assert isinstance(span, ServerSpan)
        assert span.parent == remote


def started(provider: TracerProvider, request: Request | None = None) -> ServerSpan:
    spans = server_spans(provider, "tests")
    assert spans is not None
    span = spans.start(
        "GET",
        Context(),
        request or Request("GET", "/", "http", "1.1", None, None, None),
    )
    assert isinstance(span, ServerSpan)
    return span


def test_an_ended_span_changes_no_more(
    provider: TracerProvider, spans: InMemorySpanExporter
) -> None:
    span = started(provider)
    span.respond(Response(200, "/", None, failed=False))
    span.end()
    span.end()
    span.set_attribute("late", 1)
    span.set_attributes({"later": 2})
    span.add_event("late")
    span.add_link(LINKED)
    span.update_name("renamed")
    span.set_status(StatusCode.ERROR)
    span.respond(Response(500, "/other", "INTERNAL", failed=True))
    span.record_exception(KeyError("late"))

    assert only_span(spans) is span
    assert (span.name, span.status.status_code) == ("GET /", StatusCode.UNSET)
    assert span.attributes is not None
    assert "late" not in span.attributes
    assert "later" not in span.attributes
    assert span.attributes["http.response.status_code"] == 200
    assert span.attributes["http.route"] == "/"
    assert (span.events, span.links) == ((), ())
    assert repr(span).startswith("ServerSpan(name='GET /'")


def test_attributes_read_while_recording_are_a_snapshot(
    provider: TracerProvider,
) -> None:
    span = started(provider)
    before = dict(span.attributes or {})
    span.set_attribute("app.step", "one")
    during = dict(span.attributes or {})
    span.respond(Response(404, None, "NOT_FOUND", failed=False))
    span.end()

    assert "http.response.status_code" not in before
    assert during["app.step"] == "one"
    assert span.attributes is not None
    assert span.attributes["hiccup.error.code"] == "NOT_FOUND"
    # Once ended, the mapping is made once and kept.
    assert span.attributes == span.attributes
    assert span._attributes is span._attributes


def test_an_ok_status_is_final_and_a_status_object_is_taken_whole(
    provider: TracerProvider,
) -> None:
    span = started(provider)
    span.set_status(Status(StatusCode.OK))
    span.set_status(StatusCode.ERROR, "too late")
    other = started(provider)
    other.set_status(StatusCode.OK, "ignored")
    third = started(provider)
    third.record_exception(ValueError("bad"), {"app.where": "parse"}, escaped=True)

    assert (span.status.status_code, span.status.description) == (StatusCode.OK, None)
    assert (other.status.status_code, other.status.description) == (
        StatusCode.OK,
        None,
    )
    (event,) = third.events
    assert event.attributes is not None
    assert event.attributes["app.where"] == "parse"
    assert event.attributes["exception.escaped"] == "True"


@pytest.mark.parametrize(
    ("host", "server", "expected"),
    [
        (None, ("10.0.0.5", 8080), {"server.address": "10.0.0.5", "server.port": 8080}),
        (None, None, {}),
        (b":8080", ("10.0.0.5", 8080), {}),
        (b"[::1]:9000", None, {"server.address": "::1", "server.port": 9000}),
        (b"api.example", None, {"server.address": "api.example", "server.port": 80}),
        (b"api.example:", None, {"server.address": "api.example", "server.port": 80}),
        (b"api.example:x", None, {"server.address": "api.example"}),
    ],
    ids=[
        "socket",
        "nothing",
        "no-address",
        "ipv6",
        "default-port",
        "empty-port",
        "bad-port",
    ],
)
def test_the_server_address_comes_from_host_or_the_socket(
    provider: TracerProvider,
    host: bytes | None,
    server: tuple[str, int] | None,
    expected: dict[str, object],
) -> None:
    span = started(provider, Request("GET", "/", "http", "1.1", host, server, None))
    span.end()

    attributes = dict(span.attributes or {})
    found = {k: v for k, v in attributes.items() if k.startswith("server.")}
    assert found == expected
    assert "client.address" not in attributes


def test_a_provider_laid_out_otherwise_is_left_to_its_tracer() -> None:
    provider = TracerProvider(shutdown_on_exit=False)
    del provider._active_span_processor

    assert server_spans(provider, "tests") is None
