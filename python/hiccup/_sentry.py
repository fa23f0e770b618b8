"""Error reporting to Sentry: one event per failed request, redacted, with its IDs.

The middleware reports; sentry-sdk's Starlette and FastAPI integrations are
turned off. They capture inside the app, in its exception handlers, what the
middleware reports when the response is over: with them on, an
``HTTPException(503)`` is reported first by the integration, and sentry-sdk
then drops hiccup's report of the same exception as a duplicate, so the
event that arrives has none of hiccup's tags and no log line has its ID.
Tracing stays OpenTelemetry's: no Sentry transactions are started, and
Sentry adds no trace headers to outgoing requests. Events carry the
OpenTelemetry trace and span IDs instead.

Frames are sent without their local variables: those of the ASGI stack hold
the raw scope, the ``Authorization`` and ``Cookie`` headers among it, in
lists where no key names them for the redaction to find.

What is reported:

- an unexpected exception (anything but a ``Problem``, an ``HTTPException``
  or a validation error), whatever the status, even in a response that had
  already started; Sentry groups these by their stack trace;
- every other response of 500 or more: the app's own errors, the ones it
  chose to answer (a ``Problem``, an ``HTTPException``, a route returning a
  503). They are grouped by code and route, so one failing dependency is one
  issue per route rather than one per line that raised it;
- a 4xx only when the app's ``capture_status`` predicate says so.
"""

from __future__ import annotations

import linecache
import os
import threading
from collections.abc import Callable, Collection, Mapping
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Final, cast
from urllib.parse import parse_qsl

import sentry_sdk
from fastapi.exceptions import RequestValidationError
from sentry_sdk.integrations.fastapi import FastApiIntegration
from sentry_sdk.integrations.logging import ignore_logger
from sentry_sdk.integrations.starlette import StarletteIntegration
from sentry_sdk.transport import HttpTransport
from sentry_sdk.utils import BadDsn, event_from_exception, set_in_app_in_frames
from starlette.exceptions import HTTPException
from starlette.types import Scope

from ._codes import CONTRACT
from ._logging import REDACTED, Redactor, get_logger
from ._metrics import count_dropped
from ._problem import Problem
from ._settings import Settings

if TYPE_CHECKING:
    from sentry_sdk._types import Event, EventDataCategory, EventProcessor, Hint
    from sentry_sdk.envelope import Item

    from ._middleware import Exchange

__all__ = [
    "QUEUE_SIZE",
    "SEND_TIMEOUT",
    "SHUTDOWN_TIMEOUT",
    "SentryObserver",
    "configure_sentry",
    "redact_event",
]

#: Events waiting for the transport, at most; past this, new ones are dropped
#: (and counted) rather than held in memory while the ingest is away.
QUEUE_SIZE: Final = 100
#: Seconds one delivery may take before the transport gives up on it.
SEND_TIMEOUT: Final = 5
#: Seconds the process waits at exit for the queued events to go out.
SHUTDOWN_TIMEOUT: Final = 1.0

UserResolver = Callable[[Scope], Mapping[str, object] | None]
"""Returns the user of a request, from its ASGI scope, or None."""
StatusPredicate = Callable[[int, str | None], bool]
"""Says whether a 4xx response, by status and code, is reported."""

#: Why sentry-sdk drops events by choice rather than by failing to deliver
#: them; only the failures are counted.
_CHOSEN_LOSSES = frozenset({"before_send", "event_processor", "sample_rate"})
#: Headers that carry the client's address: personal data, never sent.
_ADDRESS_HEADERS = frozenset(
    {
        "cf-connecting-ip",
        "forwarded",
        "true-client-ip",
        "x-client-ip",
        "x-forwarded-for",
        "x-real-ip",
    }
)
#: Contract severities and the Sentry level of each.
_LEVELS: Mapping[str, str] = {
    "info": "info",
    "warning": "warning",
    "error": "error",
    "critical": "fatal",
}
#: hiccup's own loggers: their lines report failures the middleware reports
#: to Sentry itself, so the logging integration must not report them again.
_OWN_LOGGERS = ("hiccup.access", "hiccup.error")
#: The event fields that may carry what the request or the app put in them.
_REDACTED_SECTIONS = (
    "breadcrumbs",
    "contexts",
    "extra",
    "logentry",
    "request",
    "tags",
    "user",
)
#: Set on an exception the middleware reported, and in the hint of its event.
_REPORTED = "_hiccup_reported"
_OWN_REPORT = "hiccup_report"
_UNMATCHED = "unmatched"
#: Lines of source before and after each frame's line, as sentry-sdk has it.
_CONTEXT_LINES = 5

_log = get_logger("hiccup.sentry")


class _Transport(HttpTransport):
    """sentry-sdk's HTTP transport with a shorter timeout, counting the events
    it could not deliver (a full queue, a refused or failed send) in
    ``dropped`` and in ``hiccup_telemetry_dropped_total{sink="sentry"}``."""

    TIMEOUT = SEND_TIMEOUT

    def __init__(self, options: dict[str, Any]) -> None:
        super().__init__(options)
        self._lock = threading.Lock()
        self.dropped = 0

    def record_lost_event(
        self,
        reason: str,
        data_category: EventDataCategory | None = None,
        item: Item | None = None,
        *,
        quantity: int = 1,
    ) -> None:
        super().record_lost_event(reason, data_category, item, quantity=quantity)
        category = item.data_category if item is not None else data_category
        if category == "error" and reason not in _CHOSEN_LOSSES:
            with self._lock:
                self.dropped += 1
            count_dropped("sentry")


class SentryObserver:
    """Report the failure of a request to Sentry once its response is over.

    It is one of the middleware's observers. ``started`` gives every request
    a Sentry scope of its own, so that breadcrumbs never cross requests and
    any event captured while serving it carries its request, ``request_id``
    and trace. ``finished`` reports the failure, if it is one to report (see
    the module's docstring), and binds the event ID to the request as
    ``sentry.event_id``, so that the request's later log lines carry it.

    Args:
        settings: where the service, release and environment tags come from.
        user: returns the user of a request from its ASGI scope; Starlette's
            ``AuthenticationMiddleware`` leaves it at ``scope["user"]``, a
            dependency can leave it in ``request.state`` (``scope["state"]``).
        capture_status: says which 4xx responses are reported, by status and
            code; none are by default.
        user_fields: the keys of the user that reach Sentry. Only ``id`` by
            default: add ``email`` or ``username`` to send them too. An
            ``ip_address`` also needs sentry-sdk's ``send_default_pii``,
            without which its own scrubber drops it.
    """

    __slots__ = ("_capture_status", "_tags", "_user", "_user_fields")

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        user: UserResolver | None = None,
        capture_status: StatusPredicate | None = None,
        user_fields: Collection[str] = ("id",),
    ) -> None:
        settings = settings or Settings()
        self._user = user
        self._capture_status = capture_status
        self._user_fields = frozenset(user_fields)
        self._tags = {
            "service": settings.service_name,
            "release": settings.version,
            "environment": settings.environment,
        }

    def started(self, exchange: Exchange) -> AbstractContextManager[object]:
        """Open the request's Sentry scope; ``finished`` closes it."""
        isolated = sentry_sdk.isolation_scope()
        isolated.__enter__().add_event_processor(_request_fields(exchange, self._tags))

        return isolated

    def finished(
        self, exchange: Exchange, state: object, duration: float, route: str | None
    ) -> None:
        """Report the request's failure, if it is one to report."""
        try:
            event_id = self.report(exchange, route)
            if event_id is not None:
                if exchange.fields is None:
                    exchange.fields = {}
                exchange.fields["sentry.event_id"] = event_id
        except Exception as exc:  # reporting never breaks a response
            _log.warning(
                "sentry.report_failed", **{"error.type": type(exc).__qualname__}
            )
        finally:
            if isinstance(state, AbstractContextManager):
                state.__exit__(None, None, None)

    def should_report(self, exchange: Exchange) -> bool:
        """Whether the request ended in a failure that Sentry must see."""
        if _is_unexpected(exchange.exception):
            return True
        status = _failure_status(exchange)
        if status >= 500:
            return True
        if status < 400 or self._capture_status is None:
            return False

        return self._capture_status(status, exchange.error_code)

    def report(self, exchange: Exchange, route: str | None) -> str | None:
        """Send the request's failure to Sentry if it is one to report.

        Returns:
            The ID of the event, or None when nothing was sent.
        """
        if not self.should_report(exchange):
            return None
        exc = exchange.exception
        code = exchange.error_code
        status = _failure_status(exchange)
        spec = CONTRACT.codes.get(code) if code is not None else None
        tags = {"http.status_code": str(status)}
        if code is not None:
            tags["error.code"] = code
        if spec is not None:
            tags["category"] = spec.category
        if route is not None:
            tags["route"] = route
        details: dict[str, Any] = {
            "tags": tags,
            "level": _LEVELS.get(spec.severity, "error") if spec else "error",
            "user": self._user_of(exchange),
            "extras": dict(exchange.fields or {}),
        }
        unexpected = _is_unexpected(exc)
        if not unexpected:
            details["fingerprint"] = [code or str(status), route or _UNMATCHED]
        if exc is None or isinstance(exc, RequestValidationError):
            # A validation error's text quotes the input: the code says enough.
            where = f"{exchange.method} {route or _UNMATCHED}"
            message = f"{code or 'HTTP'} {status} from {where}"
            return sentry_sdk.capture_message(message, **details)
        # The traceback kept apart: Starlette clears that of an exception one
        # of its handlers answered.
        options = sentry_sdk.get_client().options
        event, hint = event_from_exception(
            (type(exc), exc, exchange.traceback or exc.__traceback__),
            client_options={**options, "include_source_context": False},
            mechanism={"type": "hiccup", "handled": not unexpected},
        )
        if options.get("include_source_context", True):
            _add_source_context(event, options)
        hint[_OWN_REPORT] = True
        event_id = sentry_sdk.capture_event(event, hint, **details)
        exc.__dict__[_REPORTED] = True

        return event_id

    def _user_of(self, exchange: Exchange) -> dict[str, object] | None:
        if self._user is None:
            return None
        try:
            found = self._user(exchange.scope)
        except Exception as exc:  # a broken resolver costs the user, not the event
            _log.warning("sentry.user_failed", **{"error.type": type(exc).__qualname__})
            return None
        if not found:
            return None
        kept = {k: v for k, v in found.items() if k in self._user_fields}

        return kept or None


def _add_source_context(event: Event, options: Mapping[str, Any]) -> None:
    """Give the app's frames of an exception event the lines of source
    around them.

    sentry-sdk reads a module's whole source anew for every frame of every
    event, which for a FastAPI stack takes milliseconds of the event loop per
    failure; ``linecache`` reads each file once. Frames of installed
    libraries (those sentry-sdk marks as not the app's, and collapses) get
    no lines: they are most of a FastAPI stack, and serializing their lines
    was most of the cost of an event.
    """
    for value in event.get("exception", {}).get("values", ()):
        frames = value.get("stacktrace", {}).get("frames", ())
        set_in_app_in_frames(
            frames,
            options.get("in_app_exclude"),
            options.get("in_app_include"),
            options.get("project_root"),
        )
        for frame in frames:
            path, lineno = frame.get("abs_path"), frame.get("lineno")
            if frame.get("in_app") is False or not path or not lineno:
                continue
            lines = linecache.getlines(path)
            if not 0 < lineno <= len(lines):
                continue
            at = lineno - 1
            frame["pre_context"] = [
                line.rstrip("\r\n") for line in lines[max(0, at - _CONTEXT_LINES) : at]
            ]
            frame["context_line"] = lines[at].rstrip("\r\n")
            frame["post_context"] = [
                line.rstrip("\r\n") for line in lines[at + 1 : at + 1 + _CONTEXT_LINES]
            ]


def _is_unexpected(exc: BaseException | None) -> bool:
    """Whether an exception is one the app did not mean to raise."""
    return exc is not None and not isinstance(
        exc, Problem | HTTPException | RequestValidationError
    )


def _failure_status(exchange: Exchange) -> int:
    """Return the status a failure answered with, or would have answered with
    had the response not started before it."""
    code = exchange.error_code
    if exchange.status < 400 and code is not None and code in CONTRACT.codes:
        return CONTRACT.codes[code].status

    return exchange.status


def _request_fields(exchange: Exchange, tags: Mapping[str, str]) -> EventProcessor:
    """Return an event processor adding what is known of the request.

    It adds ``request`` (method, URL, query and headers, without the client's
    address), the ``request_id``, ``service``, ``release`` and
    ``environment`` tags, and, when the request is traced, the trace and span
    IDs of its server span as the event's trace context.
    """

    def add(event: Event, hint: Hint) -> Event:
        event.setdefault("request", _request_of(exchange))
        event_tags = event.setdefault("tags", {})
        event_tags.setdefault("request_id", exchange.request_id)
        for key, value in tags.items():
            event_tags.setdefault(key, value)
        if exchange.trace_id is not None and exchange.span_id is not None:
            contexts = event.setdefault("contexts", {})
            contexts["trace"] = {
                "trace_id": exchange.trace_id,
                "span_id": exchange.span_id,
                "type": "trace",
            }

        return event

    return add


def _request_of(exchange: Exchange) -> dict[str, object]:
    scope = exchange.scope
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope["headers"]:
        name = raw_name.decode("latin-1")
        value = raw_value.decode("latin-1")
        if name in _ADDRESS_HEADERS:
            value = REDACTED
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    host = headers.get("host") or "localhost"
    path = scope.get("root_path", "") + scope["path"]
    query = scope.get("query_string", b"").decode("latin-1")

    return {
        "method": exchange.method,
        "url": f"{scope.get('scheme', 'http')}://{host}{path}",
        "query_string": dict(parse_qsl(query, keep_blank_values=True)),
        "headers": headers,
    }


def redact_event(event: Event, redactor: Redactor) -> Event:
    """Replace secrets and personal data in an event, as in log lines.

    The values of deny-listed keys (headers, cookies, query parameters,
    request data, extra, contexts, tags, breadcrumbs' data, the frames'
    local variables) become ``[REDACTED]``; credentials and e-mail addresses
    are replaced in the messages of the event, its exceptions and its
    breadcrumbs.
    """
    data = cast("dict[str, Any]", event)
    for section in _REDACTED_SECTIONS:
        if section in data:
            data[section] = redactor.value(section, data[section], 0)
    if isinstance(data.get("message"), str):
        data["message"] = redactor.text(data["message"])
    for kind in ("exception", "threads"):
        for value in (data.get(kind) or {}).get("values") or ():
            if isinstance(value.get("value"), str):
                value["value"] = redactor.text(value["value"])
            for frame in (value.get("stacktrace") or {}).get("frames") or ():
                if "vars" in frame:
                    frame["vars"] = redactor.value("vars", frame["vars"], 0)

    return event


def _before_send(
    redactor: Redactor, app_before_send: Callable[[Event, Hint], Event | None] | None
) -> Callable[[Event, Hint], Event | None]:
    """Return the ``before_send`` hook: drop a second report of an exception
    the middleware reported already, run the app's own hook, then redact.

    sentry-sdk drops an event whose ``before_send`` raises, so an event that
    could not be redacted is never sent.
    """

    def before_send(event: Event, hint: Hint) -> Event | None:
        exc_info = hint.get("exc_info")
        exc = exc_info[1] if exc_info else None
        reported = isinstance(exc, BaseException) and exc.__dict__.get(_REPORTED)
        if reported and not hint.get(_OWN_REPORT):
            return None
        if app_before_send is not None:
            kept = app_before_send(event, hint)
            if kept is None:
                return None
            event = kept

        return redact_event(event, redactor)

    return before_send


def configure_sentry(
    settings: Settings | None = None,
    *,
    user: UserResolver | None = None,
    capture_status: StatusPredicate | None = None,
    user_fields: Collection[str] = ("id",),
    **sentry_options: Any,
) -> SentryObserver | None:
    """Start sentry-sdk when a DSN is set and return the observer that reports.

    The DSN is a ``dsn`` option if one is given, else ``settings.sentry_dsn``,
    else ``SENTRY_DSN``. Events carry the settings' version as their release
    and their environment; no default PII and no local variables are sent;
    the transport queue holds ``QUEUE_SIZE`` events and the process waits
    ``SHUTDOWN_TIMEOUT`` seconds for them at exit. A malformed DSN is a
    warning (``sentry.disabled``), never an error: the app runs as it would
    without one.

    Args:
        settings: the DSN, the release, the environment and the redaction
            list, which ``before_send`` shares with the logs.
        user: see ``SentryObserver``.
        capture_status: see ``SentryObserver``.
        user_fields: see ``SentryObserver``.
        **sentry_options: passed on to ``sentry_sdk.init`` and preferred to
            hiccup's defaults; a ``before_send`` of the app runs before the
            redaction, and ``disabled_integrations`` are added to hiccup's.

    Returns:
        The observer to give the middleware, or None when there is no DSN or
        it is malformed.
    """
    settings = settings or Settings()
    dsn = (
        sentry_options.pop("dsn", None)
        or settings.sentry_dsn
        or os.environ.get("SENTRY_DSN")
    )
    if not dsn:
        return None
    redactor = Redactor.from_settings(settings)
    options: dict[str, Any] = {
        "release": settings.version,
        "environment": settings.environment,
        "transport": _Transport,
        "transport_queue_size": QUEUE_SIZE,
        "shutdown_timeout": SHUTDOWN_TIMEOUT,
        "trace_propagation_targets": [],
        "include_local_variables": False,
        # send_default_pii is left unset, which means False: naming it warns
        # in recent sentry-sdk releases, and data_collection, its successor,
        # would turn sentry-sdk's own scrubber off.
        **sentry_options,
        "dsn": dsn,
        "before_send": _before_send(redactor, sentry_options.get("before_send")),
        "disabled_integrations": [
            *sentry_options.get("disabled_integrations", ()),
            StarletteIntegration,
            FastApiIntegration,
        ],
    }
    try:
        sentry_sdk.init(**options)
    except BadDsn as exc:
        _log.warning("sentry.disabled", reason=f"the DSN is malformed: {exc}")
        return None
    for name in _OWN_LOGGERS:
        ignore_logger(name)

    return SentryObserver(
        settings, user=user, capture_status=capture_status, user_fields=user_fields
    )
