"""Prometheus metrics: what hiccup records, where it keeps it, how it is served.

Every metric lives on a ``Metrics``: one ``CollectorRegistry`` of hiccup's
own (not prometheus_client's global one, unless it is passed in) with the
families defined once, in ``Metrics.__init__``. Names follow OpenTelemetry's
semantic conventions in Prometheus form (``http.server.request.duration``
becomes ``http_server_request_duration_seconds``); hiccup's own metrics start
with ``hiccup_``. Every label is bounded: an HTTP method outside the standard
ones is ``_OTHER``, a request that matched no route is ``unmatched``.

Several worker processes (gunicorn, ``uvicorn --workers``) share their
metrics through prometheus_client's multiprocess mode: set
``PROMETHEUS_MULTIPROC_DIR`` to an empty directory before the workers start,
and have gunicorn call ``mark_process_dead`` as each worker exits::

    # gunicorn.conf.py
    import hiccup

    def child_exit(server, worker):
        hiccup.mark_process_dead(worker.pid)

The endpoint then adds up the files of every worker. In that mode there are
no exemplars (prometheus_client does not keep them across processes) and no
process metrics (one worker's memory is not the service's).
"""

from __future__ import annotations

import gzip
import os
import threading
import time
from bisect import bisect_left
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final, cast

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client import multiprocess as _multiprocess
from prometheus_client.openmetrics import exposition as openmetrics
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from ._codes import CONTRACT
from ._settings import Settings

if TYPE_CHECKING:
    from ._middleware import Exchange

__all__ = [
    "AMPLIFICATION_BUCKETS",
    "BREAKER_STATES",
    "EXEMPLAR_SECONDS",
    "FIRST_CHUNK_BUCKETS",
    "HEALTH_DURATION_BUCKETS",
    "HTTP_DURATION_BUCKETS",
    "HTTP_METHODS",
    "JOB_DURATION_BUCKETS",
    "MODEL_DURATION_BUCKETS",
    "OTHER",
    "OTHER_METHOD",
    "SIZE_BUCKETS",
    "TOKEN_BUCKETS",
    "UNMATCHED",
    "Metrics",
    "MetricsEndpoint",
    "MetricsObserver",
    "count_client_event",
    "count_dropped",
    "default_metrics",
    "mark_process_dead",
    "record_breaker_state",
    "record_health_result",
    "use_metrics",
]

#: The bucket bounds OpenTelemetry's stable HTTP conventions advise, seconds.
HTTP_DURATION_BUCKETS: Final = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.25,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    7.5,
    10.0,
)
#: Body sizes in bytes: empty, then powers of four from 256 B to 16 MiB.
SIZE_BUCKETS: Final = (0, *(4**n for n in range(4, 13)))
#: Health check runs: a ping takes milliseconds, a timeout a second or so.
HEALTH_DURATION_BUCKETS: Final = (0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)
#: Attempts per logical call: 1 is a call that needed no retry.
AMPLIFICATION_BUCKETS: Final = (1, 2, 3, 4, 5, 8)
#: The states of a circuit breaker, as the state gauge labels them.
BREAKER_STATES: Final = ("closed", "open", "half_open")
#: Queued jobs take longer than requests: from 50 ms to an hour.
JOB_DURATION_BUCKETS: Final = (
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    120.0,
    300.0,
    600.0,
    1800.0,
    3600.0,
)
#: How often each bucket of a route's duration histogram takes a new exemplar.
EXEMPLAR_SECONDS: Final = 1.0
#: OpenTelemetry's advice for model calls: durations doubling from 10 ms to
#: 82 s, first chunks as for a model server's first token (1 ms to 10 s),
#: tokens by powers of four up to 64 Mi.
MODEL_DURATION_BUCKETS: Final = tuple(round(0.01 * 2**n, 2) for n in range(14))
FIRST_CHUNK_BUCKETS: Final = (
    0.001,
    0.005,
    0.01,
    0.02,
    0.04,
    0.06,
    0.08,
    0.1,
    0.25,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    7.5,
    10.0,
)
TOKEN_BUCKETS: Final = tuple(4**n for n in range(14))

#: The methods OpenTelemetry names; any other is recorded as ``_OTHER``.
HTTP_METHODS: Final = frozenset(
    {"CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE"}
)
OTHER_METHOD: Final = "_OTHER"
#: The route label of a request that matched no route.
UNMATCHED: Final = "unmatched"
#: The label value that stands for any name nobody declared.
OTHER: Final = "_other"

_OPENMETRICS = b"application/openmetrics-text"
#: What Prometheus's own clients serve by default, and every version reads.
_TEXT = "text/plain; version=0.0.4; charset=utf-8"
_MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
_VARY = (b"vary", b"Accept, Accept-Encoding")
#: Environments where a mistake in a metric's name should fail loudly.
_DEVELOPMENT = frozenset({"development", "dev", "local", "test"})


class Metrics:
    """Every metric hiccup records, on one registry.

    Making one registers its families on ``registry`` (a new registry of its
    own when none is given) together with the process, platform and garbage
    collector metrics of prometheus_client; two on one registry clash, so an
    app makes one, or lets hiccup make the default (``default_metrics``).
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry = registry or CollectorRegistry(auto_describe=True)
        self.multiprocess = bool(os.environ.get(_MULTIPROC_ENV))
        #: Whether an undeclared business event raises rather than counting
        #: as ``_other``; ``describe`` sets it from the settings.
        self.strict = False
        self.events: dict[str, frozenset[str]] = {}
        self.funnels: dict[str, frozenset[str]] = {}
        self._build: tuple[str, str, str] | None = None
        self._define_http(registry)
        self._define_work(registry)
        self._define_models(registry)
        self._define_health(registry)
        self._define_resilience(registry)
        if not self.multiprocess:
            ProcessCollector(registry=registry)
            PlatformCollector(registry=registry)
            GCCollector(registry=registry)

    def _define_http(self, registry: CollectorRegistry) -> None:
        route = ("http_request_method", "http_route", "http_response_status_code")
        labels = (*route, "error_type")
        self.http_duration = Histogram(
            "http_server_request_duration_seconds",
            "Duration of HTTP server requests.",
            labels,
            registry=registry,
            buckets=HTTP_DURATION_BUCKETS,
        )
        self.http_active = Gauge(
            "http_server_active_requests",
            "Number of HTTP server requests in flight.",
            ("http_request_method",),
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.http_request_size = Histogram(
            "http_server_request_body_size_bytes",
            "Size of HTTP server request bodies, from their Content-Length.",
            labels,
            registry=registry,
            buckets=SIZE_BUCKETS,
        )
        self.http_response_size = Histogram(
            "http_server_response_body_size_bytes",
            "Size of HTTP server response bodies, from their Content-Length.",
            labels,
            registry=registry,
            buckets=SIZE_BUCKETS,
        )
        self.errors = Counter(
            "hiccup_errors",
            "Failed requests, by contract code and category.",
            ("code", "category"),
            registry=registry,
        )

    def _define_work(self, registry: CollectorRegistry) -> None:
        self.queue_depth = Gauge(
            "hiccup_queue_depth",
            "Messages waiting in a queue.",
            ("queue",),
            registry=registry,
            multiprocess_mode="mostrecent",
        )
        self.queue_oldest_age = Gauge(
            "hiccup_queue_oldest_message_age_seconds",
            "Age of the oldest message waiting in a queue.",
            ("queue",),
            registry=registry,
            multiprocess_mode="mostrecent",
        )
        self.queue_jobs = Counter(
            "hiccup_queue_jobs",
            "Jobs taken from a queue, by outcome.",
            ("queue", "outcome"),
            registry=registry,
        )
        self.queue_job_duration = Histogram(
            "hiccup_queue_job_duration_seconds",
            "Duration of the jobs taken from a queue.",
            ("queue",),
            registry=registry,
            buckets=JOB_DURATION_BUCKETS,
        )
        self.business_events = Counter(
            "hiccup_business_events",
            "Declared business events, by feature.",
            ("event", "feature"),
            registry=registry,
        )
        self.funnel_steps = Counter(
            "hiccup_funnel_steps",
            "Steps reached in declared funnels.",
            ("funnel", "step"),
            registry=registry,
        )

    def _define_models(self, registry: CollectorRegistry) -> None:
        labels = (
            "gen_ai_provider_name",
            "gen_ai_request_model",
            "gen_ai_operation_name",
        )
        self.model_duration = Histogram(
            "gen_ai_client_operation_duration_seconds",
            "Duration of generative AI client operations.",
            (*labels, "error_type"),
            registry=registry,
            buckets=MODEL_DURATION_BUCKETS,
        )
        self.model_first_chunk = Histogram(
            "gen_ai_client_operation_time_to_first_chunk_seconds",
            "Time from a streaming model request to its first chunk.",
            labels,
            registry=registry,
            buckets=FIRST_CHUNK_BUCKETS,
        )
        self.model_tokens = Histogram(
            "gen_ai_client_token_usage",
            "Tokens used per generative AI client operation.",
            (*labels, "gen_ai_token_type"),
            registry=registry,
            buckets=TOKEN_BUCKETS,
        )

    def _define_health(self, registry: CollectorRegistry) -> None:
        self.build_info = Gauge(
            "hiccup_build_info",
            "Always 1; the labels say what is running.",
            ("version", "service", "environment"),
            registry=registry,
            multiprocess_mode="livemax",
        )
        self.client_events = Counter(
            "hiccup_client_events",
            "Records the browser SDK reported, by kind and contract code.",
            ("kind", "code"),
            registry=registry,
        )
        self.telemetry_dropped = Counter(
            "hiccup_telemetry_dropped",
            "Telemetry a sink could not deliver and dropped.",
            ("sink",),
            registry=registry,
        )
        self.health_status = Gauge(
            "hiccup_health_check_status",
            "Latest result of a health check: 1 pass, 0.5 warn, 0 fail.",
            ("check", "group"),
            registry=registry,
            multiprocess_mode="livemin",
        )
        self.health_duration = Histogram(
            "hiccup_health_check_duration_seconds",
            "Duration of health check runs.",
            ("check",),
            registry=registry,
            buckets=HEALTH_DURATION_BUCKETS,
        )

    def _define_resilience(self, registry: CollectorRegistry) -> None:
        self.fallbacks = Counter(
            "hiccup_fallbacks",
            "Answers an alternative gave in place of a failed call.",
            ("component", "alternative", "reason"),
            registry=registry,
        )
        self.partial_failures = Counter(
            "hiccup_partial_failures",
            "Components of a partial result that failed, by contract code.",
            ("component", "code"),
            registry=registry,
        )
        self.breaker_state = Gauge(
            "hiccup_breaker_state",
            "1 for the state a circuit breaker is in, 0 for the others.",
            ("breaker", "state"),
            registry=registry,
            multiprocess_mode="livemax",
        )
        self.breaker_transitions = Counter(
            "hiccup_breaker_transitions",
            "Changes of state of circuit breakers, by the state entered.",
            ("breaker", "state"),
            registry=registry,
        )
        self.retry_attempts = Counter(
            "hiccup_retry_attempts",
            "Attempts of retried calls, by outcome.",
            ("dependency", "outcome"),
            registry=registry,
        )
        self.retry_suppressed = Counter(
            "hiccup_retry_suppressed",
            "Retries that were due but not made, by reason.",
            ("dependency", "reason"),
            registry=registry,
        )
        self.retry_budget_tokens = Gauge(
            "hiccup_retry_budget_tokens",
            "Retries a dependency's retry budget would allow now.",
            ("dependency",),
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.retry_amplification = Histogram(
            "hiccup_retry_amplification",
            "Attempts made per logical call.",
            ("dependency",),
            registry=registry,
            buckets=AMPLIFICATION_BUCKETS,
        )

    def describe(self, settings: Settings) -> None:
        """Label ``hiccup_build_info`` with the app's settings and set strictness.

        Undeclared business events raise in development (an environment
        such as ``development``, ``local`` or ``test``, or ``debug`` on) and
        count as ``_other`` everywhere else.
        """
        labels = (settings.version, settings.service_name, settings.environment)
        if self._build is not None and self._build != labels:
            # Multiprocess mode cannot remove a series, only zero it.
            if self.multiprocess:
                self.build_info.labels(*self._build).set(0)
            else:
                self.build_info.remove(*self._build)
        self.build_info.labels(*labels).set(1)
        self._build = labels
        self.strict = settings.debug or settings.environment.lower() in _DEVELOPMENT


_default: Metrics | None = None
_default_lock = threading.Lock()


def default_metrics() -> Metrics:
    """Return the metrics hiccup records into when given none, made on first use."""
    global _default  # noqa: PLW0603 - one default per process, made lazily
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = Metrics()

    return _default


def use_metrics(metrics: Metrics | None) -> Metrics | None:
    """Make ``metrics`` the default for everything recorded after this call.

    Call it before anything records (``hiccup.install`` does). None goes
    back to a default made on first use.

    Returns:
        The previous default, if one had been made.
    """
    global _default
    with _default_lock:
        previous, _default = _default, metrics

    return previous


class _Series:
    """The label children of one kind of request, each looked up once.

    The body-size children are made when a first size comes, so that
    routes without bodies do not serve empty histograms.
    """

    __slots__ = (
        "_exemplified",
        "_metrics",
        "duration",
        "error",
        "labels",
        "request_size",
        "response_size",
    )

    def __init__(
        self, metrics: Metrics, labels: tuple[str, str, str, str], code: str | None
    ) -> None:
        self._metrics = metrics
        self.labels = labels
        self.duration = metrics.http_duration.labels(*labels)
        self.request_size: Histogram | None = None
        self.response_size: Histogram | None = None
        # When each duration bucket last took an exemplar.
        self._exemplified = [-EXEMPLAR_SECONDS] * (len(HTTP_DURATION_BUCKETS) + 1)
        self.error = None
        if code is not None:
            spec = CONTRACT.codes.get(code)
            category = spec.category if spec is not None else "internal"
            self.error = metrics.errors.labels(code, category)

    def takes_exemplar(self, duration: float) -> bool:
        """Whether a duration leaves its trace ID as its bucket's exemplar.

        A bucket shows only its latest exemplar: one per bucket every
        ``EXEMPLAR_SECONDS`` is as much as any scrape can see, and spares
        the other requests the exemplar's cost.
        """
        bucket = bisect_left(HTTP_DURATION_BUCKETS, duration)
        now = time.monotonic()
        if now - self._exemplified[bucket] < EXEMPLAR_SECONDS:
            return False
        self._exemplified[bucket] = now

        return True

    def add_request_size(self) -> Histogram:
        child = self.request_size = self._metrics.http_request_size.labels(*self.labels)

        return child

    def add_response_size(self) -> Histogram:
        child = self._metrics.http_response_size.labels(*self.labels)
        self.response_size = child

        return child


class MetricsObserver:
    """Record the HTTP metrics of every request ``HiccupMiddleware`` serves.

    Labels of ``http_server_request_duration_seconds`` and the body-size
    histograms:

    - ``http_request_method``: one of ``HTTP_METHODS``, else ``_OTHER``;
    - ``http_route``: the route template, ``unmatched`` when none matched;
    - ``http_response_status_code``;
    - ``error_type``: the contract code when the request failed (every
      envelope carries one, a 404 or 422 as much as a 500, and so does a
      stream cut short by an exception after a 200), else the status of a
      5xx that came with no code (an app's own JSON error), else empty.
      ``hiccup_errors_total`` counts the same failures by code and category.

    Body sizes come from ``Content-Length``: a request or a streamed
    response that declares none is not in its histogram.

    In single-process mode, a request whose trace is sampled leaves its
    ``trace_id`` as an exemplar on its duration bucket, served only in the
    OpenMetrics format: the first such request of each bucket in every
    ``EXEMPLAR_SECONDS``. The trace is the one the tracing observer gave the
    request, so that observer must come before this one.

    Every kind of request (method, route, status, code) has its label
    children looked up once and kept, which bounds the cost of a request to
    a few increments.
    """

    __slots__ = ("_active", "_exemplars", "_metrics", "_other_active", "_series")

    def __init__(self, metrics: Metrics | None = None) -> None:
        self._metrics = metrics = metrics or default_metrics()
        active = metrics.http_active
        self._active = {method: active.labels(method) for method in HTTP_METHODS}
        self._other_active = active.labels(OTHER_METHOD)
        self._series: dict[tuple[str, str | None, int, str | None], _Series] = {}
        self._exemplars = not metrics.multiprocess

    def started(self, exchange: Exchange) -> Gauge:
        """Count the request as active; return the gauge to lower when it ends."""
        gauge = self._active.get(exchange.method, self._other_active)
        gauge.inc()

        return gauge

    def finished(
        self, exchange: Exchange, state: object, duration: float, route: str | None
    ) -> None:
        """Record the duration, body sizes and failure of a request."""
        if state is not None:
            cast(Gauge, state).dec()
        method = exchange.method
        if method not in HTTP_METHODS:
            method = OTHER_METHOD
        code = exchange.error_code
        key = (method, route, exchange.status, code)
        series = self._series.get(key) or self._add(key)

        if self._exemplars and exchange.sampled and series.takes_exemplar(duration):
            series.duration.observe(duration, {"trace_id": exchange.trace_id or ""})
        else:
            series.duration.observe(duration)
        length = exchange.content_length
        if length is not None and length.isdigit():
            histogram = series.request_size or series.add_request_size()
            histogram.observe(int(length))
        for name, value in exchange.response_headers:
            if name == b"content-length":
                if value.isdigit():
                    histogram = series.response_size or series.add_response_size()
                    histogram.observe(int(value))
                break
        if series.error is not None:
            series.error.inc()

    def _add(self, key: tuple[str, str | None, int, str | None]) -> _Series:
        method, route, status, code = key
        error_type = code or (str(status) if status >= 500 else "")
        labels = (method, route or UNMATCHED, str(status), error_type)
        series = self._series[key] = _Series(self._metrics, labels, code)

        return series


class MetricsEndpoint:
    """Serve metrics to Prometheus, as an ASGI app or a FastAPI endpoint.

    It answers ``GET`` and ``HEAD`` in the Prometheus text format, or in
    OpenMetrics (the only one with exemplars) when the scraper's ``Accept``
    names ``application/openmetrics-text``, gzipped when the scraper accepts
    that. Rendering runs in a worker thread, off the event loop. With
    ``PROMETHEUS_MULTIPROC_DIR`` set, it serves what every worker process
    recorded there, rather than its own process's registry.

    In FastAPI, mount ``respond`` as a route of FastAPI's own::

        app.add_api_route(path, endpoint.respond, methods=["GET", "HEAD"])

    FastAPI gives only its own routes a template that the middleware can
    see: mounted with ``add_route``, the scrapes would count as ``unmatched``.
    """

    def __init__(self, metrics: Metrics | None = None) -> None:
        self.metrics = metrics or default_metrics()
        if self.metrics.multiprocess:
            self.registry = CollectorRegistry()
            # prometheus_client leaves this one untyped.
            _multiprocess.MultiProcessCollector(self.registry)  # type: ignore[no-untyped-call]
        else:
            self.registry = self.metrics.registry

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"]
        if method in {"GET", "HEAD"}:
            status, headers, body = await self.render(scope["headers"])
        else:
            status, body = 405, b""
            headers = [(b"allow", b"GET, HEAD"), (b"content-length", b"0")]
        await send(
            {"type": "http.response.start", "status": status, "headers": headers}
        )
        await send(
            {"type": "http.response.body", "body": b"" if method == "HEAD" else body}
        )

    async def respond(self, request: Request) -> Response:
        """Answer a scrape as a Starlette or FastAPI endpoint."""
        status, headers, body = await self.render(request.headers.raw)
        response = Response(b"" if request.method == "HEAD" else body, status)
        response.raw_headers = headers

        return response

    async def render(
        self, request_headers: Sequence[tuple[bytes, bytes]]
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """Return the status, headers and body of a scrape with these headers."""
        if _OPENMETRICS in _header(request_headers, b"accept"):
            body = await run_in_threadpool(openmetrics.generate_latest, self.registry)
            content_type = openmetrics.CONTENT_TYPE_LATEST
        else:
            body = await run_in_threadpool(generate_latest, self.registry)
            content_type = _TEXT
        headers = [(b"content-type", content_type.encode()), _VARY]
        if b"gzip" in _header(request_headers, b"accept-encoding"):
            body = gzip.compress(body, compresslevel=5)
            headers.append((b"content-encoding", b"gzip"))
        headers.append((b"content-length", str(len(body)).encode()))

        return 200, headers, body


def _header(headers: Sequence[tuple[bytes, bytes]], name: bytes) -> bytes:
    """Return every value of a request header, joined, lower-cased."""
    values = [value for key, value in headers if key == name]

    return b",".join(values).lower()


def count_dropped(sink: str, amount: int = 1) -> None:
    """Count telemetry a sink dropped: spans, Sentry events, log lines.

    Args:
        sink: Which sink lost it, from a fixed set such as ``otlp`` or
            ``sentry``; it is a label, so never a value from a request.
        amount: How many items were lost.
    """
    default_metrics().telemetry_dropped.labels(sink).inc(amount)


def record_breaker_state(breaker: str, state: str, *, changed: bool = True) -> None:
    """Set a breaker's state gauge, and count the change when it is one.

    Args:
        breaker: the breaker's name; a label, so a name from the code.
        state: the state it is in now: ``closed``, ``open`` or ``half_open``.
        changed: whether it entered that state, rather than started in it.
    """
    metrics = default_metrics()
    for each in BREAKER_STATES:
        metrics.breaker_state.labels(breaker, each).set(1 if each == state else 0)
    if changed:
        metrics.breaker_transitions.labels(breaker, state).inc()


def record_health_result(
    check: str, groups: Sequence[str], score: float, duration: float
) -> None:
    """Set a health check's status gauge in each of its groups and time its run.

    Args:
        check: the check's name; a label, so a name from the code.
        groups: the groups it belongs to: ``live``, ``ready``, ``startup``.
        score: 1 for pass, 0.5 for warn, 0 for fail.
        duration: seconds the run took.
    """
    metrics = default_metrics()
    for group in groups:
        metrics.health_status.labels(check, group).set(score)
    metrics.health_duration.labels(check).observe(duration)


def count_client_event(kind: str, code: str | None = None) -> None:
    """Count one record the browser SDK reported.

    Args:
        kind: What the record is, from the fixed set the reports endpoint
            accepts; it is a label, so the caller bounds it.
        code: The contract code it carries, if any; a code the contract does
            not have is counted as ``_other``.
    """
    if code is None:
        code = ""
    elif code not in CONTRACT.codes:
        code = OTHER
    default_metrics().client_events.labels(kind, code).inc()


def mark_process_dead(pid: int) -> None:
    """Drop the live gauges of a worker process that exited.

    Call it from gunicorn's ``child_exit`` hook; it does nothing unless
    ``PROMETHEUS_MULTIPROC_DIR`` is set. Without it, a dead worker's requests
    in flight would stay in ``http_server_active_requests`` for good.
    """
    if os.environ.get(_MULTIPROC_ENV):
        _multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]
