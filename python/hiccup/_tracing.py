"""Tracing with OpenTelemetry: one server span per request, and its IDs in the
envelope and in every log line.

``configure_tracing`` sets up the process's tracer provider from the settings
and the standard ``OTEL_*`` variables, or adopts the one that
``opentelemetry-instrument`` or the app installed first. ``TracingObserver``
is the middleware's observer that opens each request's server span.

What a server span records, and what it leaves out on purpose:

- the method, ``url.path``, ``url.scheme``, ``server.address`` and
  ``server.port`` from the ``Host`` header, ``client.address``,
  ``network.protocol.version``, and once the response is over
  ``http.route``, ``http.response.status_code``, ``error.type`` and
  ``hiccup.error.code``;
- never ``url.query``, which carries whatever users type, nor
  ``user_agent.original``, which with the client address singles out a
  person: spans do not go through the redaction that log lines get;
- no exception messages or stack traces: the error line and Sentry carry
  those, redacted.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from contextvars import Token
from functools import partial
from typing import Any, Final, cast

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.propagators.textmap import Getter
from opentelemetry.sdk.resources import OTELResourceDetector, Resource
from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider
from opentelemetry.sdk.trace.export import SpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased, Sampler, TraceIdRatioBased
from opentelemetry.trace import Span, SpanKind, StatusCode
from opentelemetry.util.types import AttributeValue
from starlette.types import ASGIApp

from ._export import BoundedExport, RecentTrace, SpanRing
from ._logging import get_logger
from ._metrics import count_dropped
from ._middleware import Exchange, _route_template
from ._probes import CHECK_PREFIXES, PROBE_PATHS
from ._settings import Settings
from ._span import (
    Request,
    Response,
    ServerSpan,
    request_attributes,
    response_attributes,
    server_spans,
    span_name,
)

__all__ = [
    "EXPORT_TIMEOUT_SECONDS",
    "RESEND_COUNT",
    "Tracing",
    "TracingObserver",
    "configure_tracing",
    "disable_fastapi_tracing",
    "fastapi_instrumentation_bypass",
    "recent_traces",
    "service_resource",
]

#: How long one export to the collector may take, unless
#: ``OTEL_EXPORTER_OTLP_TRACES_TIMEOUT`` or ``OTEL_EXPORTER_OTLP_TIMEOUT``
#: says; the SDK's 10 s leaves spans piling up behind a stalled collector.
EXPORT_TIMEOUT_SECONDS: Final = 3.0
#: The httpx request extension in which a retrying transport says how often
#: the request was sent before; its client span gets it as
#: ``http.request.resend_count``.
RESEND_COUNT: Final = "hiccup.resend_count"
_TRACER = "hiccup"
#: The scope key FastAPI's own request telemetry looks for: present, FastAPI
#: leaves the request to whoever set it, as it does for a mounted app.
_FASTAPI_TELEMETRY = "fastapi.telemetry"


class Tracing:
    """What ``configure_tracing`` set up, and how to read or stop it.

    Attributes:
        provider: The tracer provider requests are traced with.
        enabled: False when ``OTEL_SDK_DISABLED`` turned tracing off.
        owned: Whether hiccup made the provider, and so may shut it down.
    """

    __slots__ = ("_export", "_ring", "enabled", "owned", "provider")

    def __init__(
        self,
        provider: trace.TracerProvider,
        *,
        owned: bool,
        enabled: bool = True,
        export: BoundedExport | None = None,
        ring: SpanRing | None = None,
    ) -> None:
        self.provider = provider
        self.owned = owned
        self.enabled = enabled
        self._export = export
        self._ring = ring

    @property
    def dropped(self) -> int:
        """Spans that never reached the collector: the queue was full or
        their export failed."""
        return self._export.dropped if self._export else 0

    def observer(self, settings: Settings | None = None) -> TracingObserver:
        """Return the middleware observer that traces with this provider."""
        return TracingObserver(settings, self.provider)

    def recent_traces(self, limit: int = 50) -> list[RecentTrace]:
        """Return the newest traces of the in-memory ring, newest first; none
        when spans go to a collector instead."""
        return self._ring.traces(limit) if self._ring else []

    def force_flush(self) -> bool:
        """Export every finished span now; return whether that succeeded."""
        if isinstance(self.provider, SdkTracerProvider):
            return self.provider.force_flush()

        return True

    def shutdown(self) -> None:
        """Flush and stop the provider, if hiccup made it."""
        if self.owned and isinstance(self.provider, SdkTracerProvider):
            self.provider.shutdown()


_installed: Tracing | None = None
_installing = threading.Lock()


def configure_tracing(
    settings: Settings | None = None,
    *,
    exporter: SpanExporter | None = None,
    on_dropped: Callable[[int], None] | None = None,
    set_global: bool = True,
) -> Tracing:
    """Set up tracing for the process and return what was set up.

    With ``OTEL_EXPORTER_OTLP_ENDPOINT`` or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``
    set, spans are exported over OTLP/HTTP in batches from a bounded queue;
    otherwise they are kept in an in-memory ring that ``recent_traces``
    reads. A tracer provider installed before (by ``opentelemetry-instrument``,
    a distro or the app) is used as it is, exporters and all. Outgoing
    ``httpx`` requests get client spans and a ``traceparent``. Trace context
    travels as the global propagator says: W3C ``traceparent``, ``tracestate``
    and ``baggage`` unless ``OTEL_PROPAGATORS`` names others. Calling this
    again returns what the first call set up.

    Args:
        settings: Where the service name, version, environment and sample
            ratio come from.
        exporter: Export to this instead of what the environment says.
        on_dropped: Called with a number of spans each time spans are
            dropped; it runs on the thread that dropped them and must not
            block. By default they are counted in
            ``hiccup_telemetry_dropped_total{sink="otlp"}``. A provider
            installed before counts nothing: its pipeline is its own.
        set_global: Make the provider the process's global one, which is what
            instrumentations and ``continue_trace`` use. Tests turn it off.
    """
    global _installed  # noqa: PLW0603 - one tracing setup per process
    settings = settings or Settings()
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return Tracing(trace.NoOpTracerProvider(), owned=False, enabled=False)
    if not set_global:
        return _build(settings, exporter, on_dropped, shutdown_on_exit=False)

    with _installing:
        current = trace.get_tracer_provider()
        if _installed is not None and current is _installed.provider:
            return _installed
        if isinstance(current, trace.ProxyTracerProvider):
            tracing = _build(settings, exporter, on_dropped, shutdown_on_exit=True)
            trace.set_tracer_provider(tracing.provider)
        else:
            tracing = Tracing(current, owned=False)
        _installed = tracing
    _instrument_httpx(tracing.provider)

    return tracing


def disable_fastapi_tracing(app: object) -> bool:
    """Turn off the request spans FastAPI makes by itself; return whether the
    app had them to turn off.

    Recent FastAPI releases trace every request natively once a global tracer
    provider is set, in ``FastAPI.__call__``: outside the middleware stack
    that ``install`` wraps, so around hiccup's span with a server span of
    their own, which records the query string. FastAPI offers the switch only
    as a constructor argument (``FastAPI(telemetry={"tracing": False})``);
    this flips the same setting on an app already made. Its metrics and logs
    stay as they were configured.
    """
    config = getattr(app, "_telemetry", None)
    if not isinstance(config, dict) or not config.get("tracing"):
        return False
    config["tracing"] = False

    return True


def fastapi_instrumentation_bypass(app: object) -> Callable[[], ASGIApp] | None:
    """Return the app's own middleware-stack builder if OpenTelemetry's
    FastAPI instrumentation wrapped it, else None.

    ``opentelemetry-instrument`` instruments every FastAPI app as it is made,
    before ``install`` runs: its middleware would sit inside hiccup's and
    record a second span per request (an internal one, with the query string
    and the user agent) and one more per message sent. Building the stack
    with the builder it wrapped leaves hiccup's server span the request's
    only one; the instrumentation's spans of background tasks stay.
    """
    if not getattr(app, "_is_instrumented_by_opentelemetry", False):
        return None
    original = getattr(app, "_original_build_middleware_stack", None)

    return cast("Callable[[], ASGIApp]", original) if callable(original) else None


def recent_traces(limit: int = 50) -> list[RecentTrace]:
    """Return the newest traces kept in memory by ``configure_tracing``."""
    return _installed.recent_traces(limit) if _installed else []


def service_resource(settings: Settings) -> Resource:
    """Return the resource every span of the process carries.

    ``service.name``, ``service.version``, ``deployment.environment.name``
    and the older ``deployment.environment`` come from the settings unless
    ``OTEL_SERVICE_NAME`` or ``OTEL_RESOURCE_ATTRIBUTES`` set them. The SDK
    adds a ``service.instance.id`` of the process and makes a new one in each
    forked worker.
    """
    from_env = OTELResourceDetector().detect().attributes
    environment = from_env.get(
        "deployment.environment.name", from_env.get("deployment.environment")
    )
    ours: dict[str, AttributeValue] = {
        "service.name": settings.service_name,
        "service.version": settings.version,
        "deployment.environment.name": settings.environment,
        "deployment.environment": settings.environment,
    }
    if environment is not None:
        ours["deployment.environment.name"] = ours["deployment.environment"] = (
            environment
        )

    return Resource.create(
        {key: value for key, value in ours.items() if key not in from_env}
    )


def _build(
    settings: Settings,
    exporter: SpanExporter | None,
    on_dropped: Callable[[int], None] | None,
    *,
    shutdown_on_exit: bool,
) -> Tracing:
    provider = SdkTracerProvider(
        sampler=_sampler(settings),
        resource=service_resource(settings),
        shutdown_on_exit=shutdown_on_exit,
    )
    exporter = exporter or _exporter_from_env()
    if exporter is None:
        ring = SpanRing()
        provider.add_span_processor(ring)
        return Tracing(provider, owned=True, ring=ring)
    export = BoundedExport(exporter, on_dropped=on_dropped or _count_dropped)
    provider.add_span_processor(export)

    return Tracing(provider, owned=True, export=export)


def _count_dropped(spans: int) -> None:
    count_dropped("otlp", spans)


def _sampler(settings: Settings) -> Sampler | None:
    """Return the sampler of the settings, or None for the SDK to read
    ``OTEL_TRACES_SAMPLER`` and ``OTEL_TRACES_SAMPLER_ARG``."""
    if os.environ.get("OTEL_TRACES_SAMPLER", "").strip():
        return None

    return ParentBased(TraceIdRatioBased(settings.trace_sample_ratio))


def _exporter_from_env() -> SpanExporter | None:
    env = os.environ
    if not (
        env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        or env.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    ):
        return None
    kind = env.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower() or "otlp"
    protocol = (
        env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        or env.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or "http/protobuf"
    )
    if kind == "none":
        return None
    if kind != "otlp" or protocol != "http/protobuf":
        # Other exporters and transports are for a provider of the app's own.
        get_logger("hiccup.tracing").warning(
            "tracing.exporter_unsupported", exporter=kind, protocol=protocol
        )
        return None
    timeout_set = env.get("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT") or env.get(
        "OTEL_EXPORTER_OTLP_TIMEOUT"
    )
    # The exporter brings protobuf and requests: a tenth of a second to import,
    # paid only by processes that export.
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # noqa: PLC0415
        OTLPSpanExporter,
    )

    return OTLPSpanExporter(timeout=None if timeout_set else EXPORT_TIMEOUT_SECONDS)


def _instrument_httpx(provider: trace.TracerProvider) -> None:
    """Give outgoing ``httpx`` requests client spans and a ``traceparent``."""
    try:
        from opentelemetry.instrumentation.httpx import (  # noqa: PLC0415 - httpx is optional
            HTTPXClientInstrumentor,
        )
    except ImportError:
        return
    instrumentor = HTTPXClientInstrumentor()
    if not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument(
            tracer_provider=provider,
            request_hook=_resend_count,
            async_request_hook=_async_resend_count,
        )


def _resend_count(span: Span, request: Any) -> None:
    """Say on a client span how often its request was sent before, as a
    retrying transport records it in the request's extensions."""
    count = request.extensions.get(RESEND_COUNT) if request.extensions else None
    if count and span.is_recording():
        span.set_attribute("http.request.resend_count", count)


async def _async_resend_count(span: Span, request: Any) -> None:
    _resend_count(span, request)


class _Headers(Getter[list[tuple[bytes, bytes]]]):
    """Read propagation fields from an ASGI scope's raw header list."""

    def get(self, carrier: list[tuple[bytes, bytes]], key: str) -> list[str] | None:
        name = _HEADER_NAMES.get(key) or key.lower().encode("latin-1")
        values = [
            value.decode("latin-1") for header, value in carrier if header == name
        ]

        return values or None

    def keys(self, carrier: list[tuple[bytes, bytes]]) -> list[str]:
        return [header.decode("latin-1") for header, _ in carrier]


_HEADERS: Final = _Headers()
#: The names the default propagators ask for, encoded once.
_HEADER_NAMES = {
    name: name.encode() for name in ("traceparent", "tracestate", "baggage")
}
#: The propagation headers the middleware notes in its own pass over the
#: request headers (``Exchange.propagated``).
_NOTED = frozenset(_HEADER_NAMES.values())


class _Traced:
    """A request's span, and the token that made it current if hiccup did."""

    __slots__ = ("span", "token")

    def __init__(self, span: Span, token: Token[Context] | None) -> None:
        self.span = span
        self.token = token


class TracingObserver:
    """Give every HTTP request one server span, whose IDs the request's log
    lines and envelope carry.

    The span's parent is what the request's headers propagate (``traceparent``,
    ``tracestate``, ``baggage``, or whatever ``OTEL_PROPAGATORS`` names).
    Paths in ``settings.untraced_paths`` get no span, and neither do the
    health probes unless ``settings.trace_probes``; their lines keep the
    caller's trace ID, if it sent one. When another instrumentation has
    already opened a server span around the middleware, that span is the
    request's: it is annotated, not doubled. FastAPI's own request telemetry
    is told to stand aside for requests hiccup traces. With an SDK tracer
    provider, the span is recorded as ``ServerSpan`` on the provider's
    pipeline; with another provider, its tracer makes the span.
    """

    __slots__ = ("_fields", "_prefixes", "_spans", "_tracer", "_untraced")

    def __init__(
        self,
        settings: Settings | None = None,
        tracer_provider: trace.TracerProvider | None = None,
    ) -> None:
        settings = settings or Settings()
        provider = tracer_provider or trace.get_tracer_provider()
        self._tracer = provider.get_tracer(_TRACER)
        self._spans = server_spans(provider, _TRACER)
        untraced = frozenset(settings.untraced_paths)
        # The probes' paths, and their checks' under them.
        self._prefixes: tuple[str, ...] = ()
        if settings.health and settings.trace_probes:
            untraced -= PROBE_PATHS
        elif settings.health:
            untraced |= PROBE_PATHS
            self._prefixes = CHECK_PREFIXES
        self._untraced = untraced
        # The headers the global propagator reads, as it is when the observer
        # is made; None when the middleware notes them all in its own pass.
        fields = propagate.get_global_textmap().fields
        names = frozenset(name.lower().encode("latin-1") for name in fields)
        self._fields = None if names <= _NOTED else names

    def started(self, exchange: Exchange) -> _Traced | None:
        """Open the request's server span and make it current."""
        scope = exchange.scope
        path = scope["path"]
        if path in self._untraced or path.startswith(self._prefixes):
            return None
        parent = otel_context.get_current()
        outer = trace.get_current_span(parent)
        if outer.is_recording() and getattr(outer, "kind", None) is SpanKind.SERVER:
            _take_ids(exchange, outer)
            # Instrumentations end their span with the response's last
            # message, before ``finished`` runs: annotate it as it starts.
            exchange.on_response = partial(_annotate_on_response, outer)
            return _Traced(outer, None)

        parent_span: Span | None = outer
        if self._propagated(exchange):
            parent = propagate.extract(
                scope["headers"], context=parent, getter=_HEADERS
            )
            parent_span = None
        request = _request(exchange)
        name = span_name(exchange.method, None)
        span: Span
        if self._spans is not None:
            span = self._spans.start(name, parent, request, parent_span)
        else:
            span = self._tracer.start_span(
                name, parent, SpanKind.SERVER, request_attributes(request)
            )
        token = otel_context.attach(trace.set_span_in_context(span, parent))
        scope.setdefault(_FASTAPI_TELEMETRY, None)
        _take_ids(exchange, span)

        return _Traced(span, token)

    def finished(
        self, exchange: Exchange, state: object, duration: float, route: str | None
    ) -> None:
        """Record how the request ended, and end the span if hiccup opened it."""
        if not isinstance(state, _Traced):
            return
        span, token = state.span, state.token
        if token is None:
            # A failure after the response started comes to light only now.
            _annotate(span, exchange, route)
            return
        otel_context.detach(token)
        if not span.is_recording():
            return

        _annotate(span, exchange, route)
        span.end()

    def _propagated(self, exchange: Exchange) -> bool:
        """Whether the request carries a header the propagator reads."""
        if self._fields is None:
            return exchange.propagated
        fields = self._fields

        return any(name in fields for name, _ in exchange.scope["headers"])


def _request(exchange: Exchange) -> Request:
    scope = exchange.scope
    client = scope.get("client")

    return Request(
        exchange.method,
        scope["path"],
        scope.get("scheme") or "http",
        scope.get("http_version") or "1.1",
        exchange.host,
        scope.get("server"),
        client[0] if client else None,
    )


def _annotate(span: Span, exchange: Exchange, route: str | None) -> None:
    """Record the outcome of the request on its span, while it records."""
    if not span.is_recording():
        return
    status = exchange.status
    failed = status >= 500 or exchange.errored
    response = Response(status, route, exchange.error_code, failed)
    if isinstance(span, ServerSpan):
        span.respond(response)
        return
    span.set_attributes(response_attributes(response))
    if route is not None:
        span.update_name(span_name(exchange.method, route))
    if failed:
        span.set_status(StatusCode.ERROR)


def _annotate_on_response(span: Span, exchange: Exchange) -> None:
    _annotate(span, exchange, _route_template(exchange.scope))


def _take_ids(exchange: Exchange, span: Span) -> None:
    """Give the exchange the span's IDs, for its envelope and log lines."""
    context = span.get_span_context()
    if context.is_valid:
        exchange.trace_id = f"{context.trace_id:032x}"
        exchange.span_id = f"{context.span_id:016x}"
        exchange.sampled = context.trace_flags.sampled
