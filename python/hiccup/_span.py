"""The server span of a request, recorded with a fraction of the SDK's work.

The OpenTelemetry SDK builds every span for the general case: a lock, bounded
lists for events and links, attributes validated one by one as they are set,
and at the end a copy for the span processors. For a small FastAPI route
that costs about as much as the route itself, and the server span is the one
span every request has. So a request's server span is recorded here, on the
same pipeline as the SDK's spans of the tracer provider (its sampler, ID
generator, span limits, resource and span processors), and is itself the
``ReadableSpan`` that processors and exporters receive:

- its attributes are kept as the facts of the request and of its response
  and made into a mapping only when something reads them, which is mostly
  the exporter, off the request's path;
- what the app adds through the OpenTelemetry API (attributes, events,
  links, a status, a name) is validated and bounded as the SDK does it, and
  the app's attributes win over hiccup's of the same name.

Only an SDK ``TracerProvider`` can be used this way (``server_spans``); the
spans of any other provider are made by its own tracer.
"""

from __future__ import annotations

import traceback
from collections.abc import Mapping, Sequence
from time import time_ns
from typing import Final, NamedTuple

from opentelemetry import trace
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import (
    Event,
    ReadableSpan,
    SpanLimits,
    SpanProcessor,
    TracerProvider,
)
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    Decision,
    ParentBased,
    Sampler,
    StaticSampler,
    TraceIdRatioBased,
)
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode
from opentelemetry.trace.span import TraceFlags
from opentelemetry.util.types import AnyValue, Attributes, AttributeValue

__all__ = [
    "Request",
    "Response",
    "ServerSpan",
    "ServerSpans",
    "request_attributes",
    "response_attributes",
    "server_spans",
]

_SAMPLED: Final = TraceFlags(TraceFlags.SAMPLED)
_UNSAMPLED: Final = TraceFlags(TraceFlags.DEFAULT)
_UNSET: Final = Status(StatusCode.UNSET)
_METHODS: Final = frozenset(
    {"CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE"}
)
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}
_TRACE_ID_LIMIT: Final = TraceIdRatioBased.TRACE_ID_LIMIT


class Request(NamedTuple):
    """What a server span records of the request, taken as it starts."""

    method: str
    path: str
    scheme: str
    http_version: str
    #: The ``Host`` header, undecoded, if the client sent one.
    host: bytes | None
    #: The address of the server's socket, ASGI's ``scope["server"]``.
    server: tuple[str, int | None] | None
    client_address: str | None


class Response(NamedTuple):
    """What a server span records of the response, once it is over."""

    status: int
    route: str | None
    code: str | None
    failed: bool


def request_attributes(request: Request) -> dict[str, AttributeValue]:
    """Return the HTTP semantic-convention attributes of a request."""
    method = request.method
    attributes: dict[str, AttributeValue] = {
        "http.request.method": method if method in _METHODS else "_OTHER",
        "url.path": request.path,
        "url.scheme": request.scheme,
        "network.protocol.version": request.http_version,
    }
    if method not in _METHODS:
        attributes["http.request.method_original"] = method
    address, port = _server_address(request)
    if address:
        attributes["server.address"] = address
        if port is not None:
            attributes["server.port"] = port
    if request.client_address:
        attributes["client.address"] = request.client_address

    return attributes


def response_attributes(response: Response) -> dict[str, AttributeValue]:
    """Return the attributes of how a request ended."""
    attributes: dict[str, AttributeValue] = {
        "http.response.status_code": response.status
    }
    if response.route is not None:
        attributes["http.route"] = response.route
    if response.code is not None:
        attributes["hiccup.error.code"] = response.code
    if response.failed:
        # A stream cut short answered 200 yet failed; its code says so.
        attributes["error.type"] = response.code or str(response.status)

    return attributes


def span_name(method: str, route: str | None) -> str:
    """Return a server span's name: the method, and the route once known."""
    name = method if method in _METHODS else "HTTP"

    return f"{name} {route}" if route is not None else name


def _server_address(request: Request) -> tuple[str | None, int | None]:
    """Return the host and port the client addressed, from ``Host`` if sent."""
    if request.host is not None:
        return _split_host(request.host.decode("latin-1"), request.scheme)
    if request.server:
        return request.server

    return None, None


def _split_host(host: str, scheme: str) -> tuple[str | None, int | None]:
    if host.startswith("["):
        address, _, rest = host[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    else:
        address, _, port = host.partition(":")
    if not address:
        return None, None
    if port.isdigit():
        return address, int(port)

    return address, None if port else _DEFAULT_PORTS.get(scheme)


#: Where ``ParentBased`` keeps the samplers it delegates to.
_DELEGATES: Final = (
    "_root",
    "_remote_parent_sampled",
    "_remote_parent_not_sampled",
    "_local_parent_sampled",
    "_local_parent_not_sampled",
)


def _delegates(sampler: object) -> list[object] | None:
    """Return the root and the four parent samplers of an SDK ``ParentBased``,
    or None for any other sampler. A delegate this SDK release keeps
    elsewhere is an ``object()``, which neither sampler test below accepts."""
    if type(sampler) is not ParentBased:
        return None
    missing = object()

    return [getattr(sampler, name, missing) for name in _DELEGATES]


def _reads_no_attributes(sampler: object) -> bool:
    """Whether a sampler decides without a span's attributes, as the SDK's
    own samplers do: those need not be made before the decision."""
    delegates = _delegates(sampler)
    if delegates is not None:
        return all(_reads_no_attributes(delegate) for delegate in delegates)

    return type(sampler) in {StaticSampler, TraceIdRatioBased}


def _full(items: Sequence[object], limit: int | None) -> bool:
    return limit is not None and len(items) >= limit


class _Plan(NamedTuple):
    """How a sampler is consulted."""

    #: Whether it decides without a span's attributes.
    blind: bool
    #: For ``ParentBased(TraceIdRatioBased(ratio))`` with the default
    #: delegates, the ratio's bound on trace IDs: the decision is then made
    #: here, as the SDK makes it, without the sampler's calls.
    bound: int | None


def _plan(sampler: Sampler) -> _Plan:
    bound = None
    delegates = _delegates(sampler)
    if delegates is not None:
        root, *parents = delegates
        default = parents == [ALWAYS_ON, ALWAYS_OFF, ALWAYS_ON, ALWAYS_OFF]
        if type(root) is TraceIdRatioBased and default:
            bound = root.bound

    return _Plan(_reads_no_attributes(sampler), bound)


class ServerSpans:
    """Start the server spans of one SDK tracer provider."""

    __slots__ = ("_limits", "_plan", "_processor", "_provider", "_sampler", "_scope")

    def __init__(
        self,
        provider: TracerProvider,
        processor: SpanProcessor,
        limits: SpanLimits,
        scope: InstrumentationScope,
    ) -> None:
        self._provider = provider
        self._processor = processor
        self._limits = limits
        self._scope = scope
        self._sampler: Sampler | None = None
        self._plan = _Plan(blind=False, bound=None)

    def start(
        self,
        name: str,
        parent: Context,
        request: Request,
        parent_span: trace.Span | None = None,
    ) -> trace.Span:
        """Start a server span as a child of the span current in ``parent``.

        The span records when the provider's sampler says so; otherwise it is
        a non-recording span that still has IDs of its own, as the SDK's
        tracer makes it.

        Args:
            name: The span's name.
            parent: The context the span is a child in.
            request: The request's facts, its attributes.
            parent_span: The span current in ``parent``, if the caller has it.
        """
        provider = self._provider
        ids = provider.id_generator
        parent_context: SpanContext | None
        parent_context = (
            parent_span or trace.get_current_span(parent)
        ).get_span_context()
        if parent_context.is_valid:
            trace_id = parent_context.trace_id
        else:
            parent_context = None
            trace_id = ids.generate_trace_id()
        sampler = provider.sampler
        if sampler is not self._sampler:
            self._sampler, self._plan = sampler, _plan(sampler)
        added: Attributes = None
        if self._plan.bound is not None:
            if parent_context is None:
                sampled = trace_id & _TRACE_ID_LIMIT < self._plan.bound
                trace_state = None
            else:
                sampled = parent_context.trace_flags.sampled
                trace_state = parent_context.trace_state
            recording = sampled
        else:
            attributes = None if self._plan.blind else request_attributes(request)
            sampling = sampler.should_sample(
                parent, trace_id, name, SpanKind.SERVER, attributes
            )
            sampled = sampling.decision is Decision.RECORD_AND_SAMPLE
            recording = sampling.decision is not Decision.DROP
            trace_state = sampling.trace_state
            added = sampling.attributes
        context = SpanContext(
            trace_id,
            ids.generate_span_id(),
            is_remote=False,
            trace_flags=_SAMPLED if sampled else _UNSAMPLED,
            trace_state=trace_state,
        )
        if not recording:
            return trace.NonRecordingSpan(context)
        span = ServerSpan(self, name, context, parent_context, request)
        if added:
            span.set_attributes(added)
        # Processors get the span itself, as the SDK hands them its own.
        self._processor.on_start(span, parent)  # type: ignore[arg-type]

        return span


def server_spans(provider: trace.TracerProvider, name: str) -> ServerSpans | None:
    """Return what starts server spans on an SDK tracer provider's pipeline;
    None for a provider of another kind, or one this SDK release lays out
    differently, whose own tracer must make the spans.

    Args:
        provider: The tracer provider.
        name: The name of the instrumentation scope of the spans.
    """
    if not isinstance(provider, TracerProvider):
        return None
    processor = getattr(provider, "_active_span_processor", None)
    limits = getattr(provider, "_span_limits", None)
    if not isinstance(processor, SpanProcessor) or not isinstance(limits, SpanLimits):
        return None

    return ServerSpans(provider, processor, limits, InstrumentationScope(name))


class ServerSpan(trace.Span, ReadableSpan):
    """A request's server span: recording until it ends, and then the
    finished span that the processors receive."""

    __slots__ = (
        "_context",
        "_end_time",
        "_instrumentation_scope",
        "_name",
        "_parent",
        "_request",
        "_response",
        "_spans",
        "_start_time",
    )

    # What a span has until the app adds to it. Every span sets its slots,
    # and most never need the instance dictionary these would make.
    _kind = SpanKind.SERVER
    _instrumentation_info = None
    _added: BoundedAttributes | None = None
    _built: BoundedAttributes | dict[str, AttributeValue] | None = None
    _events: tuple[Event, ...] | list[Event] = ()
    _links: tuple[Link, ...] | list[Link] = ()
    _status = _UNSET

    def __init__(
        self,
        spans: ServerSpans,
        name: str,
        context: SpanContext,
        parent: SpanContext | None,
        request: Request,
    ) -> None:
        # ReadableSpan's constructor is not called: every field its
        # properties read is set here, or made once the span ends.
        self._spans = spans
        self._name = name
        self._context = context
        self._parent = parent
        self._request = request
        self._response: Response | None = None
        self._instrumentation_scope = spans._scope
        self._start_time = time_ns()
        self._end_time: int | None = None

    @property
    def _attributes(  # type: ignore[override]  # ReadableSpan's field, made when read
        self,
    ) -> BoundedAttributes | dict[str, AttributeValue]:
        """Every attribute of the span, made from its facts when first read
        after it ended."""
        built = self._built
        if built is not None:
            return built
        attributes = request_attributes(self._request)
        if self._response is not None:
            attributes.update(response_attributes(self._response))
        result: BoundedAttributes | dict[str, AttributeValue] = attributes
        if self._added is not None:
            limits = self._spans._limits
            result = BoundedAttributes(
                limits.max_span_attributes,
                attributes,
                immutable=False,
                max_value_len=limits.max_span_attribute_length,
            )
            for key, value in self._added.items():
                result[key] = value
        if self._end_time is not None:
            self._built = result

        return result

    @property
    def _resource(self) -> Resource:  # type: ignore[override]  # read when asked
        # The provider's resource, read when asked: a forked worker process
        # gets a service.instance.id of its own.
        return self._spans._provider.resource

    def get_span_context(self) -> SpanContext:
        return self._context  # type: ignore[return-value]  # set by the constructor

    def is_recording(self) -> bool:
        return self._end_time is None

    def set_attributes(self, attributes: Mapping[str, AnyValue]) -> None:
        if self._end_time is not None:
            return
        added = self._added or self._add()
        for key, value in attributes.items():
            added[key] = value

    def set_attribute(self, key: str, value: AnyValue) -> None:
        if self._end_time is None:
            (self._added or self._add())[key] = value

    def add_event(
        self, name: str, attributes: Attributes = None, timestamp: int | None = None
    ) -> None:
        limits = self._spans._limits
        if self._end_time is not None or _full(self._events, limits.max_events):
            return
        bounded = BoundedAttributes(
            limits.max_event_attributes,
            attributes,
            immutable=True,
            max_value_len=limits.max_attribute_length,
        )
        event = Event(name, bounded, timestamp or time_ns())
        self._events = [*self._events, event]

    def add_link(self, context: SpanContext, attributes: Attributes = None) -> None:
        limits = self._spans._limits
        if self._end_time is not None or _full(self._links, limits.max_links):
            return
        if not context.is_valid and not attributes:
            return
        bounded = BoundedAttributes(
            limits.max_link_attributes,
            attributes,
            immutable=True,
            max_value_len=limits.max_attribute_length,
        )
        self._links = [*self._links, Link(context, bounded)]

    def update_name(self, name: str) -> None:
        if self._end_time is None:
            self._name = name

    def set_status(
        self, status: Status | StatusCode, description: str | None = None
    ) -> None:
        # As in the SDK: OK is final, and only an error has a description.
        if self._end_time is not None or self._status.status_code is StatusCode.OK:
            return
        if isinstance(status, Status):
            self._status = status
        else:
            text = description if status is StatusCode.ERROR else None
            self._status = Status(status, text)

    def record_exception(
        self,
        exception: BaseException,
        attributes: Attributes = None,
        timestamp: int | None = None,
        escaped: bool = False,
    ) -> None:
        kind = type(exception)
        module = kind.__module__
        qualname = kind.__qualname__
        recorded: dict[str, AnyValue] = {
            "exception.type": (
                f"{module}.{qualname}" if module and module != "builtins" else qualname
            ),
            "exception.message": str(exception),
            "exception.stacktrace": "".join(traceback.format_exception(exception)),
            "exception.escaped": str(escaped),
        }
        if attributes:
            recorded.update(attributes)
        self.add_event("exception", recorded, timestamp)

    def respond(self, response: Response) -> None:
        """Record how the request ended: its status, route and error code,
        which also name the span and set its status."""
        if self._end_time is not None:
            return
        self._response = response
        if response.route is not None:
            self._name = span_name(self._request.method, response.route)
        if response.failed:
            self.set_status(StatusCode.ERROR)

    def end(self, end_time: int | None = None) -> None:
        if self._end_time is not None:
            return
        self._end_time = end_time or time_ns()
        self._spans._processor.on_end(self)

    def _add(self) -> BoundedAttributes:
        limits = self._spans._limits
        self._added = added = BoundedAttributes(
            limits.max_span_attributes,
            immutable=False,
            max_value_len=limits.max_span_attribute_length,
        )

        return added

    def __repr__(self) -> str:
        return f"ServerSpan(name={self._name!r}, context={self._context})"
