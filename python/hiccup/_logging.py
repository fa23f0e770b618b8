"""Structured logs: one set of fields on every line, whoever wrote it.

hiccup's own lines go through structlog; the standard library's records
(uvicorn's among them) go through the same processors by way of
``structlog.stdlib.ProcessorFormatter``. Both end in one sink, as JSON lines
rendered by orjson or, in development, as readable console lines.
"""

from __future__ import annotations

import atexit
import io
import logging
import os
import re
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from types import TracebackType
from typing import Any, BinaryIO, Final, TextIO

import orjson
import structlog
from opentelemetry.trace import SpanContext, get_current_span
from structlog.typing import EventDict, Processor, WrappedLogger

from ._context import RequestContext, current
from ._records import console_tap
from ._settings import DEFAULT_REDACTED_FIELDS, Settings, normalize_field_name

__all__ = [
    "REDACTED",
    "Redactor",
    "add_request_context",
    "add_timestamp",
    "configure_logging",
    "exception_fields",
    "get_logger",
    "log_through_app_setup",
    "mark_logged",
    "was_logged",
    "write_access",
]

REDACTED: Final = "[REDACTED]"

#: Keys whose values hiccup itself writes from validated data; the redactor
#: does not scan them, which keeps the access line cheap.
_TRUSTED_KEYS = frozenset(
    {
        "timestamp",
        "level",
        "logger",
        "event",
        "service",
        "version",
        "env",
        "request_id",
        "trace_id",
        "span_id",
        "http.request.method",
        "http.route",
        "http.response.status_code",
        "duration_ms",
        "error.code",
        "error.type",
        "sentry.event_id",
    }
)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# Authorization schemes as headers write them; "token" in prose is left alone.
_CREDENTIAL = re.compile(r"\b(Bearer|bearer|Basic|Token)\s+[\w\-.~+/=:]+")
_LOGGED = "_hiccup_logged"
_MAX_DEPTH = 6
_MAX_FRAMES = 30
_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
}


def add_request_context(
    logger: WrappedLogger, method: str, event_dict: EventDict
) -> EventDict:
    """Add ``request_id``, ``trace_id``, ``span_id``, ``client_request_id`` and
    the fields bound with ``hiccup.context.bind``; keys passed to the log call
    win over them.

    The trace and span IDs are those of the current OpenTelemetry span (a
    client call's, a job's, the request's own), else the request context's.
    """
    context = current()
    span = get_current_span().get_span_context()
    if context is None:
        if span.is_valid:
            _add_span_ids(event_dict, span)
        return event_dict
    event_dict.setdefault("request_id", context.request_id)
    if context.client_request_id is not None:
        event_dict.setdefault("client_request_id", context.client_request_id)
    if span.is_valid:
        _add_span_ids(event_dict, span)
    elif context.trace_id is not None:
        event_dict.setdefault("trace_id", context.trace_id)
        event_dict.setdefault("span_id", context.span_id)
    if context.fields:
        for key, value in context.fields.items():
            event_dict.setdefault(key, value)

    return event_dict


class _HexIds:
    """The IDs of the span context formatted last, in hex.

    Consecutive lines mostly come from the same span, and formatting its IDs
    costs more than the rest of ``add_request_context``. One tuple holds the
    context and both strings, so that threads never see a half update.
    """

    __slots__ = ("last",)

    def __init__(self) -> None:
        self.last: tuple[SpanContext | None, str, str] = (None, "", "")

    def add(self, event_dict: EventDict, span: SpanContext) -> None:
        last = self.last
        if last[0] is not span:
            last = self.last = (
                span,
                format(span.trace_id, "032x"),
                format(span.span_id, "016x"),
            )
        event_dict.setdefault("trace_id", last[1])
        event_dict.setdefault("span_id", last[2])


_add_span_ids: Final = _HexIds().add


class _Clock:
    """RFC 3339 UTC timestamps with microseconds, formatting each second once.

    ``prefix`` is the text of the current second up to its decimal point, as
    bytes, and ``start`` the time it began, in nanoseconds since the epoch.
    """

    __slots__ = ("prefix", "start")

    def __init__(self) -> None:
        # The first reading sets both.
        self.start = -(10**9)
        self.prefix = b""

    def nanos(self) -> int:
        """Return the nanoseconds since ``start``, moving on to a new second if
        the clock has left the one in ``prefix`` (either way)."""
        nanos = time.time_ns() - self.start
        if not 0 <= nanos < 1_000_000_000:
            second, nanos = divmod(nanos + self.start, 1_000_000_000)
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S.", time.gmtime(second))
            self.prefix = stamp.encode()
            self.start = second * 1_000_000_000
        return nanos

    def now(self) -> str:
        """Return the current time as an RFC 3339 UTC timestamp."""
        nanos = self.nanos()

        return (b"%s%06dZ" % (self.prefix, nanos // 1000)).decode()

    def __call__(
        self, logger: WrappedLogger, method: str, event_dict: EventDict
    ) -> EventDict:
        # A record made elsewhere (the browser's, relayed) keeps its own time.
        if "timestamp" not in event_dict:
            event_dict["timestamp"] = self.now()

        return event_dict


#: Add ``timestamp``: RFC 3339 in UTC, such as ``2026-03-14T09:27:31.004518Z``.
add_timestamp: Final = _Clock()


class _ServiceFields:
    """Add ``service``, ``version`` and ``env`` from the settings."""

    __slots__ = ("_values",)

    def __init__(self, settings: Settings) -> None:
        self._values = {
            "service": settings.service_name,
            "version": settings.version,
            "env": settings.environment,
        }

    def __call__(
        self, logger: WrappedLogger, method: str, event_dict: EventDict
    ) -> EventDict:
        for key, value in self._values.items():
            event_dict.setdefault(key, value)

        return event_dict


def _add_logger_name(
    logger: WrappedLogger, method: str, event_dict: EventDict
) -> EventDict:
    """Add ``logger``: the stdlib logger's name, or the name hiccup gave."""
    record = event_dict.get("_record")
    if record is not None:
        event_dict["logger"] = record.name
    else:
        event_dict.setdefault("logger", getattr(logger, "name", "app"))

    return event_dict


def _add_level(logger: WrappedLogger, method: str, event_dict: EventDict) -> EventDict:
    """Add ``level`` from the method called: ``exception`` logs as ``error``."""
    level = {"exception": "error", "warn": "warning", "fatal": "critical"}.get(
        method, method
    )
    event_dict["level"] = level if level in _LEVELS else "info"

    return event_dict


def _foreign_event(
    logger: WrappedLogger, method: str, event_dict: EventDict
) -> EventDict:
    """Give standard-library records a fixed event name, their text as ``message``."""
    if "_record" in event_dict:
        event_dict["message"] = str(event_dict.get("event", ""))
        event_dict["event"] = "log"

    return event_dict


def exception_fields(
    exc: BaseException, tb: TracebackType | None = None
) -> dict[str, object]:
    """Return an exception as ``{type, message, frames}`` for a log line.

    Frames are read straight off the traceback, outermost first; the source
    lines and column positions ``traceback.extract_tb`` would look up are not
    needed, and cost most of its time.

    Args:
        exc: The exception.
        tb: Its traceback, if kept apart from it; by default its own.
    """
    frames = [
        {
            "filename": frame.f_code.co_filename,
            "lineno": lineno or 0,
            "function": frame.f_code.co_name,
        }
        for frame, lineno in traceback.walk_tb(tb or exc.__traceback__)
    ]

    return {
        "type": type(exc).__qualname__,
        "message": str(exc),
        "frames": frames[-_MAX_FRAMES:],
    }


def _exc_info(value: object) -> BaseException | None:
    if isinstance(value, BaseException):
        return value
    if (
        isinstance(value, tuple)
        and len(value) == 3
        and isinstance(value[1], BaseException)
    ):
        return value[1]
    if value is True:
        return sys.exc_info()[1]

    return None


def _structure_exception(
    logger: WrappedLogger, method: str, event_dict: EventDict
) -> EventDict:
    """Turn ``exc_info`` into a structured ``exception`` field."""
    if "exc_info" not in event_dict:
        return event_dict
    exc = _exc_info(event_dict.pop("exc_info"))
    if exc is not None:
        event_dict["exception"] = exception_fields(exc)
        event_dict.setdefault("error.type", type(exc).__qualname__)

    return event_dict


class Redactor:
    """Replace secrets and personal data in every field of a log line.

    A key in the deny-list (compared lower-cased, ``-`` as ``_``) has its
    value replaced whole; in other strings, credentials after ``Bearer``,
    ``Basic`` or ``Token`` and, unless turned off, e-mail addresses are
    replaced. Nested mappings and lists are walked. Sentry's ``before_send``
    uses the same object, so both redact alike.
    """

    __slots__ = ("emails", "fields")

    def __init__(self, fields: Iterable[str] = (), *, emails: bool = True) -> None:
        self.fields = frozenset(
            normalize_field_name(f) for f in (*DEFAULT_REDACTED_FIELDS, *fields)
        )
        self.emails = emails

    @classmethod
    def from_settings(cls, settings: Settings) -> Redactor:
        """Build the redactor the settings describe."""
        return cls(settings.redact_fields, emails=settings.redact_emails)

    def __call__(
        self, logger: WrappedLogger, method: str, event_dict: EventDict
    ) -> EventDict:
        for key in event_dict.keys() - _TRUSTED_KEYS:
            value = event_dict[key]
            if key == "exception" and isinstance(value, dict):
                # Only the message can carry data; the frames are code paths.
                event_dict[key] = {
                    **value,
                    "message": self.text(str(value.get("message"))),
                }
            else:
                event_dict[key] = self.value(key, value, 0)

        return event_dict

    def is_sensitive(self, key: object) -> bool:
        """Whether a key's value must be replaced whole."""
        return isinstance(key, str) and normalize_field_name(key) in self.fields

    def text(self, value: str) -> str:
        """Return a string with credentials and e-mail addresses replaced."""
        if "earer" in value or "Basic" in value or "Token" in value:
            value = _CREDENTIAL.sub(lambda m: f"{m.group(1)} {REDACTED}", value)
        if self.emails and "@" in value:
            value = _EMAIL.sub(REDACTED, value)

        return value

    def value(self, key: object, value: object, depth: int) -> object:
        """Return a value with everything sensitive in it replaced."""
        if self.is_sensitive(key):
            return REDACTED
        if isinstance(value, str):
            return self.text(value)
        if depth >= _MAX_DEPTH:
            return value
        if isinstance(value, Mapping):
            return {k: self.value(k, v, depth + 1) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(None, v, depth + 1) for v in value]

        return value


_JSON_OPTIONS = orjson.OPT_APPEND_NEWLINE | orjson.OPT_NON_STR_KEYS
#: Keys that open every JSON line, in this order; the rest follow as logged.
_LEADING = ("timestamp", "level", "logger", "event")


def _render_json(logger: WrappedLogger, method: str, event_dict: EventDict) -> bytes:
    ordered = {k: event_dict[k] for k in _LEADING if k in event_dict}
    ordered.update(event_dict)
    return orjson.dumps(ordered, default=repr, option=_JSON_OPTIONS)


class _ConsoleRenderer:
    """structlog's console renderer, as bytes with a newline."""

    __slots__ = ("_render",)

    def __init__(self, colors: bool) -> None:
        self._render = structlog.dev.ConsoleRenderer(colors=colors)

    def __call__(
        self, logger: WrappedLogger, method: str, event_dict: EventDict
    ) -> bytes:
        event_dict.pop("timestamp", None)
        text = self._render(logger, method, event_dict)

        return f"{text}\n".encode()


def _as_text(
    renderer: Callable[[WrappedLogger, str, EventDict], Any],
) -> Callable[[WrappedLogger, str, EventDict], str]:
    """Adapt a bytes renderer to ``ProcessorFormatter``, which wants text."""

    def render(logger: WrappedLogger, method: str, event_dict: EventDict) -> str:
        line: bytes = renderer(logger, method, event_dict)
        return line.decode().rstrip("\n")

    return render


class _Sink:
    """Where every line ends.

    A stream backed by a file descriptor is written to unbuffered, one write
    per line, so lines from threads and processes never interleave within a
    line and nothing waits in a buffer when the process dies. The sink writes
    through a duplicate of the descriptor, its own: closing the stream does
    not leave it writing to whatever file takes the number next. Other
    streams are written to and flushed under a lock.
    """

    __slots__ = ("_lock", "_raw", "_stream")

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._lock = threading.Lock()
        self._raw: io.FileIO | None = None
        try:
            fd = stream.fileno()
        except (OSError, ValueError, AttributeError):
            return
        stream.flush()
        self._raw = io.FileIO(os.dup(fd), "wb", closefd=True)

    def close(self) -> None:
        """Close the sink's own descriptor, if it has one, but not the stream:
        lines written later go to the stream."""
        raw, self._raw = self._raw, None
        if raw is not None:
            raw.close()

    def write(self, line: bytes) -> None:
        raw = self._raw
        if raw is not None:
            written = raw.write(line) or 0
            while written < len(line):
                written += raw.write(memoryview(line)[written:]) or 0
            return
        with self._lock:
            self._stream.write(line)
            self._stream.flush()


class _TextOutput:
    """A binary face for a text stream that has no binary buffer, such as the
    standard output of a notebook or a harness that replaced it."""

    def __init__(self, text: TextIO) -> None:
        self._text = text

    def write(self, data: bytes) -> int:
        self._text.write(data.decode("utf-8", "replace"))
        return len(data)

    def flush(self) -> None:
        self._text.flush()

    def isatty(self) -> bool:
        return self._text.isatty()


def _standard_output() -> BinaryIO:
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is not None:
        return buffer  # type: ignore[no-any-return]

    return _TextOutput(sys.stdout)  # type: ignore[return-value]


class _SinkLogger:
    """The logger structlog wraps: it writes rendered lines to the sink."""

    __slots__ = ("name", "sink")

    def __init__(self, sink: _Sink, name: str) -> None:
        self.sink = sink
        self.name = name

    def msg(self, line: bytes) -> None:
        self.sink.write(line)

    debug = info = warning = error = critical = exception = msg


class _SinkLoggerFactory:
    __slots__ = ("sink",)

    def __init__(self, sink: _Sink) -> None:
        self.sink = sink

    def __call__(self, *args: Any) -> _SinkLogger:
        name = args[0] if args and isinstance(args[0], str) else "app"
        return _SinkLogger(self.sink, name)


class _SinkHandler(logging.Handler):
    """A stdlib handler that writes formatted records to the sink."""

    def __init__(self, sink: _Sink, formatter: logging.Formatter) -> None:
        super().__init__()
        self.sink = sink
        self.setFormatter(formatter)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.sink.write(self.format(record).encode() + b"\n")
        except Exception:
            # The stdlib way: report on stderr, never raise into the caller.
            self.handleError(record)


class _AlreadyLogged(logging.Filter):
    """Drop a server's report of an exception that hiccup has logged already."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None

        return exc is None or not was_logged(exc)


def mark_logged(exc: BaseException) -> None:
    """Note that an exception has had its one error line."""
    exc.__dict__[_LOGGED] = True


def was_logged(exc: BaseException) -> bool:
    """Whether an exception has had its error line already."""
    return bool(exc.__dict__.get(_LOGGED, False))


class _Quoted(dict[str, bytes]):
    """JSON string literals of the few values an access line repeats.

    Methods, route templates and error codes come from a small set, so each
    is encoded once; past ``_QUOTED_LIMIT`` entries values are encoded each
    time instead, so that no sequence of requests can grow it without end.
    """

    def __missing__(self, value: str) -> bytes:
        quoted = orjson.dumps(value)
        if len(self) < _QUOTED_LIMIT:
            self[value] = quoted
        return quoted


_QUOTED_LIMIT = 1024
#: The fields of an access line hiccup writes itself; bound fields of the same
#: name do not replace them.
_ACCESS_KEYS = frozenset(
    {
        "timestamp",
        "level",
        "logger",
        "event",
        "request_id",
        "client_request_id",
        "trace_id",
        "span_id",
        "service",
        "version",
        "env",
        "http.request.method",
        "http.response.status_code",
        "duration_ms",
        "http.route",
        "error.code",
    }
)


class _AccessWriter:
    """Writes the access line of each request, the one line on the hot path.

    In JSON mode it assembles the line as text, with the fields the shared
    processors would add, which costs a fraction of a trip through structlog:

    - request IDs and trace IDs are inserted as they are, since the middleware
      only keeps values of a pattern that needs no JSON escaping;
    - methods, routes, error codes and a rejected client ID are encoded by
      orjson, the first three once each (see ``_Quoted``);
    - fields the app bound to the request are redacted and encoded by orjson.

    In console mode, where looks matter more than speed, it logs through
    structlog.
    """

    __slots__ = (
        "_error_head",
        "_errors",
        "_fast",
        "_info_head",
        "_infos",
        "_middle",
        "_quoted",
        "_redactor",
        "_sink",
    )

    def __init__(self, settings: Settings, sink: _Sink | None) -> None:
        self._sink = sink
        self._fast = sink is not None and not settings.console_logs
        threshold = _LEVELS[settings.log_level]
        self._infos = threshold <= logging.INFO
        self._errors = threshold <= logging.ERROR
        self._redactor = Redactor.from_settings(settings)
        self._quoted = _Quoted()
        # The constant stretches of a line: from the end of the timestamp to
        # the start of the request ID, and from the service fields to the
        # method's value.
        head = b'","level":"%s","logger":"hiccup.access","event":"http.request"'
        self._info_head = head % b"info" + b',"request_id":"'
        self._error_head = head % b"error" + b',"request_id":"'
        service = {
            "service": settings.service_name,
            "version": settings.version,
            "env": settings.environment,
        }
        self._middle = b',%s,"http.request.method":' % orjson.dumps(service)[1:-1]

    def write(  # noqa: PLR0917 - positional: this runs once per request
        self,
        context: RequestContext,
        method: str,
        status: int,
        seconds: float,
        route: str | None,
        error_code: str | None,
    ) -> None:
        """Write the ``http.request`` line of a request that took ``seconds``."""
        if status < 500:
            if not self._infos:
                return
            head = self._info_head
        elif self._errors:
            head = self._error_head
        else:
            return
        if not self._fast:
            level = "info" if status < 500 else "error"
            duration_ms = round(seconds * 1000, 3)
            self._through_structlog(
                level, method, status, duration_ms, route, error_code
            )
            return
        quoted = self._quoted
        ids = b""
        if context.client_request_id is not None:
            ids = b',"client_request_id":' + orjson.dumps(context.client_request_id)
        if context.trace_id is not None:
            ids += b',"trace_id":"%s","span_id":"%s"' % (
                context.trace_id.encode(),
                context.span_id.encode(),  # type: ignore[union-attr]
            )
        tail = b""
        if route is not None:
            tail = b',"http.route":' + quoted[route]
        if error_code is not None:
            tail += b',"error.code":' + quoted[error_code]
        if context.fields:
            tail += self._bound(context.fields)
        clock = add_timestamp
        nanos = clock.nanos()
        # _fast is only set with a sink.
        self._sink.write(  # type: ignore[union-attr]
            b'{"timestamp":"%s%06dZ%s%s"%s%s%s,"http.response.status_code":%d'
            b',"duration_ms":%.3f%s}\n'
            % (
                clock.prefix,
                nanos // 1000,
                head,
                context.request_id.encode(),
                ids,
                self._middle,
                quoted[method],
                status,
                seconds * 1000,
                tail,
            )
        )

    def _bound(self, fields: dict[str, object]) -> bytes:
        """Return the bound fields as JSON members, each after a comma."""
        redactor = self._redactor
        extra = {
            key: redactor.value(key, value, 0)
            for key, value in fields.items()
            if key not in _ACCESS_KEYS
        }
        if not extra:
            return b""
        members = orjson.dumps(extra, default=repr, option=orjson.OPT_NON_STR_KEYS)

        return b"," + members[1:-1]

    def _through_structlog(  # noqa: PLR0917 - mirrors write()
        self,
        level: str,
        method: str,
        status: int,
        duration_ms: float,
        route: str | None,
        error_code: str | None,
    ) -> None:
        fields: dict[str, object] = {
            "http.request.method": method,
            "http.response.status_code": status,
            "duration_ms": duration_ms,
        }
        if route is not None:
            fields["http.route"] = route
        if error_code is not None:
            fields["error.code"] = error_code
        getattr(get_logger("hiccup.access"), level)("http.request", **fields)


def _shared_processors(settings: Settings) -> list[Processor]:
    processors: list[Processor] = [
        add_request_context,
        _ServiceFields(settings),
        _add_logger_name,
        _add_level,
        add_timestamp,
        _foreign_event,
        _structure_exception,
        Redactor.from_settings(settings),
    ]
    if settings.console_enabled:
        processors.append(console_tap)

    return processors


def configure_logging(
    settings: Settings | None = None, *, stream: BinaryIO | None = None
) -> None:
    """Route every log line of the process through hiccup's processors.

    structlog is configured for hiccup's own lines and the app's; the root
    logger of the standard library gets one handler with the same processors,
    and uvicorn's loggers hand their records to it. uvicorn's own access log is
    silenced, since the middleware writes one access line per request.

    Args:
        settings: where ``log_format``, ``log_level``, the service fields and
            the redaction list come from.
        stream: a binary stream for the lines; standard output by default.
    """
    settings = settings or Settings()
    stream = stream or _standard_output()
    sink = _Sink(stream)
    level = _LEVELS[settings.log_level]
    colors = settings.console_logs and stream.isatty()
    renderer: Processor = (
        _ConsoleRenderer(colors) if settings.console_logs else _render_json
    )
    shared = _shared_processors(settings)

    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=_SinkLoggerFactory(sink),
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            _as_text(renderer),
        ],
        use_get_message=True,
        pass_foreign_args=False,
    )
    global access_writer, _sink  # noqa: PLW0603 - one logging setup per process
    access_writer = _AccessWriter(settings, sink)
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _SinkHandler)]:
        root.removeHandler(handler)
    root.addHandler(_SinkHandler(sink, formatter))
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        server_logger = logging.getLogger(name)
        server_logger.handlers.clear()
        server_logger.propagate = True
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    error_logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _AlreadyLogged) for f in error_logger.filters):
        error_logger.addFilter(_AlreadyLogged())
    if _sink is not None:
        _sink.close()
    _sink = sink


def log_through_app_setup(settings: Settings) -> None:
    """Send hiccup's access lines through structlog as the app set it up.

    What ``install`` does instead of ``configure_logging`` when the settings
    leave logging to the app; the other lines go through structlog already.
    """
    global access_writer  # noqa: PLW0603 - one logging setup per process
    access_writer = _AccessWriter(settings, None)


def get_logger(name: str) -> Any:
    """Return a structlog logger whose lines carry ``logger=name``."""
    return structlog.get_logger(name)


access_writer = _AccessWriter(Settings(), None)
#: The sink of the current setup, closed when another replaces it.
_sink: _Sink | None = None


@atexit.register
def _close_sink() -> None:
    if _sink is not None:
        _sink.close()


def write_access(  # noqa: PLR0917 - positional: this runs once per request
    context: RequestContext,
    method: str,
    status: int,
    seconds: float,
    route: str | None = None,
    error_code: str | None = None,
) -> None:
    """Write the access line of a request through the configured output.

    Lines at ``error`` for a status of 500 or more, ``info`` otherwise, with
    ``duration_ms`` to the microsecond.
    """
    access_writer.write(context, method, status, seconds, route, error_code)
