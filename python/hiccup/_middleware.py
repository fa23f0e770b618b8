"""The ASGI middleware: one pass per request for IDs, context, errors and logs."""

from __future__ import annotations

import sys
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from types import TracebackType
from typing import Protocol

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import _logging
from ._codes import Code
from ._context import RequestContext, _current
from ._deadline import parse_deadline_ms
from ._envelope import Outcome, negotiate, problem_body, problem_response
from ._ids import accept_request_id, new_request_id, parse_traceparent
from ._logging import exception_fields, get_logger, mark_logged
from ._mapping import outcome_for_exception, outcome_for_status
from ._probes import CHECK_PREFIXES, CONSOLE_PATH, CONSOLE_PREFIX, PROBE_PATHS
from ._settings import Settings

__all__ = [
    "ErrorResponder",
    "Exchange",
    "HiccupMiddleware",
    "Observer",
    "current_exchange",
    "send_problem",
]

_SSE = b"text/event-stream"
#: The request headers read on every request; every other one is skipped with
#: a single set lookup. Those only an error response needs are looked up when
#: one is made.
_READ = frozenset(
    {
        b"host",
        b"traceparent",
        b"tracestate",
        b"baggage",
        b"content-length",
        b"transfer-encoding",
        b"origin",
        b"x-request-deadline-ms",
    }
)
_EXPOSED = b"X-Request-ID, Retry-After, X-Should-Retry, X-Degraded"
#: Headers of a replaced plain-text error response that stay on the envelope.
_KEPT_HEADERS = frozenset(
    {b"allow", b"www-authenticate", b"retry-after", b"set-cookie", b"vary"}
)


#: The answer to a request whose caller had stopped waiting when it came.
_GIVEN_UP = Outcome(status=504, code=Code.SERVER_TIMEOUT, should_retry=False)


class _BodyTooLarge(Exception):
    """Raised inside ``receive`` when a streamed body passes the limit."""


async def _nothing() -> None:
    """What sending a held-back message awaits: nothing is sent."""


class Exchange(RequestContext):
    """One request while the middleware serves it: its context, and more.

    It is the ``RequestContext`` the request's code and log lines see, so
    that a request makes one object and not two. Beyond the context, it
    reads the request headers it needs in one pass and records what the
    response did and how the request failed, if it did. The attributes set
    in ``__init__`` are those every request uses; the class holds the
    defaults of those only a failure or a request body sets.
    """

    #: Whether a streamed body passed the limit.
    too_large = False
    #: Whether the client went away while an error was being sent.
    disconnected = False
    #: The first failure of the request, and its traceback, which Starlette
    #: clears once a handler has answered it.
    exception: BaseException | None = None
    traceback: TracebackType | None = None
    #: Whether an exception failed the request with a status of 500 or more:
    #: its details go in the error line.
    errored = False
    _exception_info: dict[str, object] | None = None
    #: The ``Host`` header, if the request has one.
    host: bytes | None = None
    #: Whether the request has a ``traceparent``, ``tracestate`` or
    #: ``baggage`` header, for tracing to extract.
    propagated = False
    #: Whether the request's trace is sampled, once tracing has said.
    sampled = False
    #: The request's ``X-Request-Deadline-Ms``, if it has one.
    deadline_header: bytes | None = None
    #: Whether the response goes out as the app sent it, even a plain-text
    #: error: the probes' verbose answers are for people, not envelopes.
    verbatim = False
    #: The headers of the response, once it has started.
    response_headers: Sequence[tuple[bytes, bytes]] = ()
    #: The components a fallback or a partial result stood in for, named in
    #: the response's ``X-Degraded`` header.
    degraded: list[str] | None = None
    #: Called with the exchange as its response starts, if an observer set it:
    #: one whose span another instrumentation ends with the response's last
    #: message, before ``finished`` runs.
    on_response: Callable[[Exchange], None] | None = None

    def __init__(  # noqa: PLR0912 - the one pass over the request headers
        self, scope: Scope, send: Send, request_id_header: bytes, trust: bool
    ) -> None:
        request_ids: list[bytes] | None = None
        traceparent = None
        self.content_length: bytes | None = None
        self.chunked = self.origin = False
        for name, value in scope["headers"]:
            if name == request_id_header:
                if request_ids is None:
                    request_ids = [value]
                else:
                    request_ids.append(value)
            elif name in _READ:
                if name == b"host":
                    self.host = value
                elif name == b"traceparent":
                    traceparent = value
                    self.propagated = True
                elif name == b"content-length":
                    self.content_length = value
                elif name == b"transfer-encoding":
                    self.chunked = b"chunked" in value.lower()
                elif name == b"origin":
                    self.origin = True
                elif name == b"x-request-deadline-ms":
                    # The first one counts, as for any header read once.
                    if self.deadline_header is None:
                        self.deadline_header = value
                else:
                    self.propagated = True
        if request_ids is None:
            self.request_id = request_id = new_request_id()
            self.client_request_id = None
        else:
            request_id, self.client_request_id = accept_request_id(
                request_ids, trust=trust
            )
            self.request_id = request_id
        trace = parse_traceparent(traceparent) if traceparent else None
        if trace is None:
            self.trace_id = self.span_id = None
        else:
            self.trace_id, self.span_id = trace
        self.fields = self.deadline = None
        self.scope = scope
        self.method: str = scope["method"]
        self._downstream = send
        self._request_id_header = (request_id_header, request_id.encode())
        self._replaced: list[tuple[bytes, bytes]] | None = None
        self.started = self.complete = False
        self.status = 0
        self.error_code: str | None = None

    @property
    def exception_info(self) -> dict[str, object] | None:
        """The ``exception`` field of the error line, if the request errored.

        It is read off the kept traceback when first asked for, once the
        response is out, rather than while the client waits for it.
        """
        if self._exception_info is None and self.errored and self.exception:
            self._exception_info = exception_fields(self.exception, self.traceback)

        return self._exception_info

    def header(self, name: bytes) -> bytes | None:
        """Return the first value of a request header, by lower-case name."""
        headers: list[tuple[bytes, bytes]] = self.scope["headers"]
        for key, value in headers:
            if key == name:
                return value

        return None

    @property
    def sse(self) -> bool:
        """Whether the response started is a server-sent event stream."""
        return any(
            name == b"content-type" and value.startswith(_SSE)
            for name, value in self.response_headers
        )

    def send(self, message: Message) -> Awaitable[None]:
        """Record a response message, add the request ID, and pass it on.

        It returns what the server's ``send`` returns rather than awaiting
        it, which spares every message a coroutine of its own.
        """
        if message["type"] == "http.response.start":
            status = self.status = message["status"]
            headers = message.get("headers", ())
            if type(headers) is not list:
                headers = list(headers)
            if (
                status >= 400
                and not self.error_code
                and not self.verbatim
                and not _is_json(headers)
            ):
                # A plain-text error from the framework or the app: it is
                # answered with an envelope once its body has been consumed.
                self._replaced = [h for h in headers if _keep(h[0])]
                return _nothing()
            self.started = True
            self.response_headers = headers
            if self.on_response is not None:
                _respond(self.on_response, self)
            headers = [*headers, self._request_id_header]
            if self.degraded is not None:
                headers.append((b"x-degraded", ", ".join(self.degraded).encode()))
            if self.origin:
                _expose_headers(headers)
            message["headers"] = headers
        elif message["type"] == "http.response.body":
            if self._replaced is not None:
                if message.get("more_body", False):
                    return _nothing()
                kept, self._replaced = self._replaced, None
                outcome = outcome_for_status(self.status)
                return send_problem(self.send, self, outcome, extra_headers=kept)
            if not message.get("more_body", False):
                self.complete = True
        return self._downstream(message)

    def outcome_of(self, exc: BaseException, *, debug: bool) -> Outcome:
        """Return what an exception raised while serving this request answers."""
        if self.too_large:
            # Frameworks turn a failed body read into a 400 of their own.
            return outcome_for_status(413)

        return outcome_for_exception(
            _unwrap(exc), content_type=self.header(b"content-type"), debug=debug
        )

    def problem(self, outcome: Outcome) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """Return the status, headers and body of this request's envelope."""
        return problem_response(
            outcome,
            request_id=self.request_id,
            accept_language=self.header(b"accept-language"),
            method=self.method,
            trace_id=self.trace_id,
            client_request_id=self.client_request_id,
        )

    def record(self, exc: BaseException, outcome: Outcome) -> None:
        """Remember the failure of the request, keeping the first one seen."""
        exc = _unwrap(exc)
        if self.exception is None:
            self.exception = exc
            self.traceback = exc.__traceback__
            self.errored = outcome.status >= 500
        self.error_code = self.error_code or outcome.code


def current_exchange() -> Exchange | None:
    """Return the exchange of the request being served, if hiccup serves it."""
    context = _current.get()

    return context if isinstance(context, Exchange) else None


async def send_problem(
    send: Send,
    exchange: Exchange,
    outcome: Outcome,
    *,
    extra_headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    """Send the error response of an outcome."""
    status, headers, body = exchange.problem(outcome)
    if extra_headers:
        taken = {name for name, _ in headers}
        headers.extend(h for h in extra_headers if h[0] not in taken)
    exchange.error_code = outcome.code
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class Observer(Protocol):
    """Sees every HTTP request the middleware serves, in the same pass.

    Tracing, metrics and error reporting are observers. ``started`` runs
    before the app sees the request, in the request's context, and may set
    what the request's log lines carry (``exchange.trace_id`` and
    ``span_id``); what it returns is handed back to ``finished``, which runs
    once the response is over, in reverse order of the observers. Neither
    may raise: the middleware reports an observer that does on stderr and
    carries on, since telemetry must never break a response.
    """

    def started(self, exchange: Exchange) -> object:
        """Begin observing a request; return what ``finished`` needs."""
        ...

    def finished(
        self, exchange: Exchange, state: object, duration: float, route: str | None
    ) -> None:
        """End observing a request that took ``duration`` seconds.

        Args:
            exchange: The request, with its final ``status``, ``error_code``
                and ``exception``.
            state: What ``started`` returned.
            duration: Seconds from the request's arrival to the end of its
                response.
            route: The template of the matched route, if one matched.
        """
        ...


class HiccupMiddleware:
    """Give every HTTP request an ID, a context, an envelope on failure and one
    access line; pass websocket and lifespan scopes through untouched.

    Install it outermost. ``hiccup.install`` does that for FastAPI apps and
    adds the exception handlers that let errors keep the app's CORS headers.
    ``observers`` (tracing, metrics, error reporting) see every request in
    the same pass. ``probes``, the health endpoints, answers the probes'
    paths (``/livez``, ``/readyz``, ``/startupz`` and the paths of their
    checks) before the app sees them; ``console``, the local console,
    answers ``/_hiccup`` and the paths under it, unseen by the observers and
    the access log, so that it does not show its own polling.
    """

    def __init__(
        self,
        app: ASGIApp,
        settings: Settings | None = None,
        observers: Sequence[Observer] = (),
        *,
        probes: ASGIApp | None = None,
        console: ASGIApp | None = None,
    ) -> None:
        self.app = app
        self.settings = settings or Settings()
        self.header = self.settings.request_id_header.lower().encode("latin-1")
        self.limit = self.settings.max_body_bytes
        self.trust = self.settings.trust_request_id
        self.error_log = get_logger("hiccup.error")
        self.request_log = get_logger("hiccup.request")
        self.probes = probes
        self.console = console
        # Every path hiccup's own endpoints may serve starts with one of
        # these: one test of a request's path rules all of them out.
        roots = sorted(PROBE_PATHS) if probes is not None else []
        if console is not None:
            roots.append(CONSOLE_PATH)
        self._own_roots = tuple(roots)
        # Probes come every few seconds from every orchestrator: their access
        # lines would drown the app's.
        self.log_probes = self.settings.log_probes
        self.observers = tuple(observers)

    async def __call__(  # noqa: PLR0912 - one frame for every request's pass
        self, scope: Scope, receive: Receive, send: Send
    ) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        started_at = time.perf_counter()
        exchange = Exchange(scope, send, self.header, self.trust)
        token = _current.set(exchange)
        # Which of hiccup's own endpoints serves the request, if one does.
        own = None
        if self._own_roots and scope["path"].startswith(self._own_roots):
            own = self._own(scope["path"])
        probe = own is not None and own is self.probes
        states = (
            _start(self.observers, exchange)
            if self.observers and (own is None or probe)
            else None
        )
        try:
            if own is not None:
                exchange.verbatim = True
                await own(scope, receive, exchange.send)
            elif (header := exchange.deadline_header) is not None and self._given_up(
                exchange, header
            ):
                # Nobody waits for the answer: do none of the work.
                await send_problem(exchange.send, exchange, _GIVEN_UP)
            elif self.limit and (
                exchange.content_length is not None or exchange.chunked
            ):
                await self._serve_limited(scope, receive, exchange.send, exchange)
            else:
                await self.app(scope, receive, exchange.send)
        except Exception as exc:  # answered here, logged below
            if await self._fail(exc, exchange, send):
                raise
        finally:
            duration = time.perf_counter() - started_at
            if not exchange.status:
                exchange.status = 499 if exchange.disconnected else 500
            template = _route_template(scope)
            # Observers finish before the request's lines are written, so
            # that what they bind to the request (the Sentry event ID) is in
            # them.
            if states is not None:
                _finish(self.observers, states, exchange, duration, template)
            # Every failure sets error_code; only those of 500 or more, the
            # exception's details.
            if exchange.error_code is not None and exchange.errored:
                self._log_error(exchange)
            try:
                if own is None or (probe and self.log_probes):
                    _logging.access_writer.write(
                        exchange,
                        exchange.method,
                        exchange.status,
                        duration,
                        template,
                        exchange.error_code,
                    )
            except Exception:  # hiccup's logging never breaks a response
                _report_own_failure()
            _current.reset(token)
            # The traceback holds this frame, which holds the exchange: let
            # the failure go with the request rather than with the next
            # garbage collection.
            exchange.exception = exchange.traceback = None

    def _own(self, path: str) -> ASGIApp | None:
        """Return the endpoint of hiccup's own that serves a path, if one does."""
        if self.probes is not None and (
            path in PROBE_PATHS or path.startswith(CHECK_PREFIXES)
        ):
            return self.probes
        if self.console is not None and (
            path == CONSOLE_PATH or path.startswith(CONSOLE_PREFIX)
        ):
            return self.console

        return None

    def _given_up(self, exchange: Exchange, header: bytes) -> bool:
        """Set the request's deadline from its header; return whether the
        caller gave it no time at all."""
        try:
            milliseconds = parse_deadline_ms(header)
        except ValueError as exc:
            # A client's mistake must not cost it its request: serve it with
            # no deadline, and say why once.
            self.request_log.warning("request.deadline_invalid", reason=str(exc))
            return False
        exchange.deadline = time.monotonic() + milliseconds / 1000

        return milliseconds == 0

    async def _serve_limited(
        self, scope: Scope, receive: Receive, send: Send, exchange: Exchange
    ) -> None:
        declared = exchange.content_length
        if declared is not None:
            if not declared.isdigit():
                await send_problem(send, exchange, outcome_for_status(400))
                return
            if int(declared) > self.limit:
                await send_problem(send, exchange, outcome_for_status(413))
                return
            # The server holds the body to its declared length.
            await self.app(scope, receive, send)
            return
        remaining = self.limit

        async def limited() -> Message:
            nonlocal remaining
            message = await receive()
            if message["type"] == "http.request":
                remaining -= len(message.get("body", b""))
                if remaining < 0:
                    exchange.too_large = True
                    raise _BodyTooLarge
            return message

        await self.app(scope, limited, send)

    async def _fail(self, exc: Exception, exchange: Exchange, send: Send) -> bool:
        """Answer an exception if the response allows; return whether to raise it."""
        outcome = exchange.outcome_of(exc, debug=self.settings.debug)
        exchange.record(exc, outcome)
        try:
            if not exchange.started:
                await send_problem(exchange.send, exchange, outcome)
            elif not exchange.complete and exchange.sse:
                await self._send_sse_error(send, exchange, outcome)
        except OSError:
            exchange.disconnected = True
        # A stream cut short is raised on so that the server drops the
        # connection: ending it cleanly would tell the client it was whole.
        return exchange.started and not exchange.complete

    async def _send_sse_error(
        self, send: Send, exchange: Exchange, outcome: Outcome
    ) -> None:
        body = problem_body(
            outcome,
            request_id=exchange.request_id,
            locale=negotiate(exchange.header(b"accept-language")),
            trace_id=exchange.trace_id,
            client_request_id=exchange.client_request_id,
        )
        frame = b"event: error\ndata: " + orjson.dumps(body, default=str) + b"\n\n"
        await send({"type": "http.response.body", "body": frame, "more_body": False})
        exchange.complete = True

    def _log_error(self, exchange: Exchange) -> None:
        exc = exchange.exception
        assert exc is not None
        try:
            self.error_log.error(
                "http.exception",
                exception=exchange.exception_info,
                **{
                    "error.code": exchange.error_code,
                    "error.type": type(exc).__qualname__,
                },
            )
        except Exception:  # hiccup's logging never breaks a response
            _report_own_failure()
        mark_logged(exc)


class ErrorResponder:
    """Answer unhandled exceptions with an envelope from deep inside an app.

    ``hiccup.install`` puts it innermost among a Starlette app's middleware,
    so the envelope still passes through the app's own middleware (CORS
    among them) on its way out. The outer ``HiccupMiddleware`` logs.
    """

    def __init__(self, app: ASGIApp, settings: Settings | None = None) -> None:
        self.app = app
        self.settings = settings or Settings()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        except Exception as exc:
            exchange = current_exchange()
            if exchange is None or exchange.started or scope["type"] != "http":
                raise
            outcome = exchange.outcome_of(exc, debug=self.settings.debug)
            exchange.record(exc, outcome)
            await send_problem(send, exchange, outcome)


def _start(observers: tuple[Observer, ...], exchange: Exchange) -> list[object]:
    states: list[object] = []
    for observer in observers:
        try:
            states.append(observer.started(exchange))
        except Exception:  # telemetry never breaks a response
            states.append(None)
            _report_own_failure()

    return states


def _respond(callback: Callable[[Exchange], None], exchange: Exchange) -> None:
    try:
        callback(exchange)
    except Exception:  # telemetry never breaks a response
        _report_own_failure()


def _finish(
    observers: tuple[Observer, ...],
    states: list[object],
    exchange: Exchange,
    duration: float,
    route: str | None,
) -> None:
    for observer, state in zip(reversed(observers), reversed(states), strict=True):
        try:
            observer.finished(exchange, state, duration, route)
        except Exception:  # telemetry never breaks a response
            _report_own_failure()


def _route_template(scope: Scope) -> str | None:
    """Return the template of the route that matched, under the root path."""
    route = scope.get("route")
    if route is None:
        return None
    path = getattr(route, "path_format", None) or getattr(route, "path", "")
    root = scope.get("root_path")

    return (root + path if root else path) or None


def _unwrap(exc: BaseException) -> BaseException:
    """Return the exception Starlette re-raised as a RuntimeError, if it did.

    An exception with a handler that is raised after the response started
    cannot be handled; Starlette raises a RuntimeError from it instead, and
    the original says better what went wrong.
    """
    cause = exc.__cause__
    if (
        type(exc) is RuntimeError
        and cause is not None
        and "already started" in str(exc)
    ):
        return cause

    return exc


def _is_json(headers: Iterable[tuple[bytes, bytes]]) -> bool:
    for name, value in headers:
        if name == b"content-type":
            return b"json" in value.lower()

    return False


def _keep(name: bytes) -> bool:
    return name in _KEPT_HEADERS or name.startswith(b"access-control-")


def _expose_headers(headers: list[tuple[bytes, bytes]]) -> None:
    if not any(name == b"access-control-allow-origin" for name, _ in headers):
        return
    for index, (name, value) in enumerate(headers):
        if name == b"access-control-expose-headers":
            headers[index] = (name, value + b", " + _EXPOSED)
            return
    headers.append((b"access-control-expose-headers", _EXPOSED))


def _report_own_failure() -> None:
    """Say on stderr that hiccup's own logging failed, without raising."""
    try:
        kind, value = sys.exc_info()[:2]
        sys.stderr.write(f"hiccup: could not write a log line: {kind!r} {value!r}\n")
    except Exception:  # nothing is left to report to
        pass
