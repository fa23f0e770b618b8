"""The ASGI middleware: one pass per request for IDs, context, errors and logs."""

from __future__ import annotations

import sys
import time

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._context import RequestContext, _current
from ._envelope import Outcome, negotiate, problem_body, problem_response
from ._ids import accept_request_id, parse_traceparent
from ._logging import exception_fields, get_logger, mark_logged, write_access
from ._mapping import outcome_for_exception, outcome_for_status
from ._settings import Settings

__all__ = [
    "STATE_KEY",
    "ErrorResponder",
    "Exchange",
    "HiccupMiddleware",
    "send_problem",
]

#: Key of the per-request ``Exchange`` in the ASGI scope.
STATE_KEY = "hiccup.exchange"

_SSE = b"text/event-stream"
#: The request headers the middleware reads; every other one is skipped with
#: a single set lookup.
_READ = frozenset(
    {
        b"traceparent",
        b"accept-language",
        b"content-type",
        b"content-length",
        b"transfer-encoding",
        b"origin",
    }
)
_EXPOSED = b"X-Request-ID, Retry-After, X-Should-Retry"
#: Headers of a replaced plain-text error response that stay on the envelope.
_KEPT_HEADERS = frozenset(
    {b"allow", b"www-authenticate", b"retry-after", b"set-cookie", b"vary"}
)


class _BodyTooLarge(Exception):
    """Raised inside ``receive`` when a streamed body passes the limit."""


class Exchange:
    """What the middleware learns about one request while it is served.

    It reads the request headers it needs in one pass, then records what the
    response did and how the request failed, if it did.
    """

    __slots__ = (
        "accept_language",
        "chunked",
        "complete",
        "content_length",
        "content_type",
        "context",
        "disconnected",
        "error_code",
        "error_status",
        "exception",
        "exception_info",
        "method",
        "origin",
        "request_ids",
        "sse",
        "started",
        "status",
        "too_large",
        "traceparent",
    )

    def __init__(self, scope: Scope, request_id_header: bytes) -> None:
        self.method: str = scope["method"]
        self.request_ids: list[bytes] = []
        self.traceparent: bytes | None = None
        self.accept_language: bytes | None = None
        self.content_type: bytes | None = None
        self.content_length: bytes | None = None
        self.chunked = False
        self.origin = False
        for name, value in scope["headers"]:
            if name == request_id_header:
                self.request_ids.append(value)
            elif name in _READ:
                if name == b"traceparent":
                    self.traceparent = value
                elif name == b"accept-language":
                    self.accept_language = value
                elif name == b"content-type":
                    self.content_type = value
                elif name == b"content-length":
                    self.content_length = value
                elif name == b"transfer-encoding":
                    self.chunked = b"chunked" in value.lower()
                else:
                    self.origin = True
        self.context: RequestContext
        self.started = False
        self.complete = False
        self.sse = False
        self.disconnected = False
        self.too_large = False
        self.status = 0
        self.error_code: str | None = None
        self.error_status = 0
        self.exception: BaseException | None = None
        self.exception_info: dict[str, object] | None = None

    @property
    def request_id(self) -> str:
        """The ID of the request, as sent back in the response."""
        return self.context.request_id

    def outcome_of(self, exc: BaseException, *, debug: bool) -> Outcome:
        """Return what an exception raised while serving this request answers."""
        if self.too_large:
            # Frameworks turn a failed body read into a 400 of their own.
            return outcome_for_status(413)

        return outcome_for_exception(
            _unwrap(exc), content_type=self.content_type, debug=debug
        )

    def problem(self, outcome: Outcome) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """Return the status, headers and body of this request's envelope."""
        context = self.context

        return problem_response(
            outcome,
            request_id=context.request_id,
            accept_language=self.accept_language,
            method=self.method,
            trace_id=context.trace_id,
            client_request_id=context.client_request_id,
        )

    def record(self, exc: BaseException, outcome: Outcome) -> None:
        """Remember the failure of the request, keeping the first one seen."""
        exc = _unwrap(exc)
        if self.exception is None:
            self.exception = exc
            self.error_status = outcome.status
            if outcome.status >= 500:
                # Read the frames now: Starlette clears the traceback of an
                # exception its handlers answered.
                self.exception_info = exception_fields(exc)
        self.error_code = self.error_code or outcome.code


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


class HiccupMiddleware:
    """Give every HTTP request an ID, a context, an envelope on failure and one
    access line; pass websocket and lifespan scopes through untouched.

    Install it outermost. ``hiccup.install`` does that for FastAPI apps and
    adds the exception handlers that let errors keep the app's CORS headers.
    """

    def __init__(self, app: ASGIApp, settings: Settings | None = None) -> None:
        self.app = app
        self.settings = settings or Settings()
        self.header = self.settings.request_id_header.lower().encode("latin-1")
        self.out_header = self.settings.request_id_header.lower().encode("latin-1")
        self.limit = self.settings.max_body_bytes
        self.trust = self.settings.trust_request_id
        self.error_log = get_logger("hiccup.error")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        started_at = time.perf_counter()
        exchange = Exchange(scope, self.header)
        request_id, client_request_id = accept_request_id(
            exchange.request_ids, trust=self.trust
        )
        trace = (
            parse_traceparent(exchange.traceparent) if exchange.traceparent else None
        )
        if trace is None:
            context = RequestContext(request_id, client_request_id)
        else:
            context = RequestContext(request_id, client_request_id, *trace)
        exchange.context = context
        scope[STATE_KEY] = exchange
        token = _current.set(context)
        tracked = self._tracking(send, exchange)
        try:
            if self.limit and (exchange.content_length is not None or exchange.chunked):
                await self._serve_limited(scope, receive, tracked, exchange)
            else:
                await self.app(scope, receive, tracked)
        except Exception as exc:  # answered here, logged below
            if await self._fail(exc, exchange, tracked, send):
                raise
        finally:
            if exchange.exception_info is not None:
                self._log_error(exchange)
            self._log_access(scope, exchange, started_at)
            _current.reset(token)

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

    def _tracking(self, send: Send, exchange: Exchange) -> Send:
        rid_header = (self.out_header, exchange.context.request_id.encode())
        # Headers of a plain-text error response being replaced by an envelope.
        replaced: list[tuple[bytes, bytes]] | None = None

        async def tracking(message: Message) -> None:
            nonlocal replaced
            kind = message["type"]
            if kind == "http.response.body":
                if replaced is not None:
                    if not message.get("more_body", False):
                        kept, replaced = replaced, None
                        outcome = outcome_for_status(exchange.status)
                        await send_problem(
                            tracking, exchange, outcome, extra_headers=kept
                        )
                    return
                if not message.get("more_body", False):
                    exchange.complete = True
            elif kind == "http.response.start":
                status = exchange.status = message["status"]
                headers = list(message.get("headers", ()))
                content_type = b""
                for name, value in headers:
                    if name == b"content-type":
                        content_type = value
                        break
                if (
                    status >= 400
                    and not exchange.error_code
                    and b"json" not in content_type.lower()
                ):
                    replaced = [h for h in headers if _keep(h[0])]
                    return
                exchange.started = True
                exchange.sse = content_type.startswith(_SSE)
                headers.append(rid_header)
                if exchange.origin:
                    _expose_headers(headers)
                message["headers"] = headers
            await send(message)

        return tracking

    async def _fail(
        self, exc: Exception, exchange: Exchange, tracked: Send, send: Send
    ) -> bool:
        """Answer an exception if the response allows; return whether to raise it."""
        outcome = exchange.outcome_of(exc, debug=self.settings.debug)
        exchange.record(exc, outcome)
        try:
            if not exchange.started:
                await send_problem(tracked, exchange, outcome)
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
        context = exchange.context
        body = problem_body(
            outcome,
            request_id=context.request_id,
            locale=negotiate(exchange.accept_language),
            trace_id=context.trace_id,
            client_request_id=context.client_request_id,
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

    def _log_access(self, scope: Scope, exchange: Exchange, started_at: float) -> None:
        try:
            route = scope.get("route")
            template = None
            if route is not None:
                path = getattr(route, "path_format", None) or getattr(route, "path", "")
                template = scope.get("root_path", "") + path if path else None
            write_access(
                exchange.context,
                exchange.method,
                exchange.status or (499 if exchange.disconnected else 500),
                # Whole microseconds, as milliseconds: cheaper than round().
                int((time.perf_counter() - started_at) * 1_000_000) / 1000,
                template,
                exchange.error_code,
            )
        except Exception:  # hiccup's logging never breaks a response
            _report_own_failure()


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
            exchange: Exchange | None = scope.get(STATE_KEY)
            if exchange is None or exchange.started or scope["type"] != "http":
                raise
            outcome = exchange.outcome_of(exc, debug=self.settings.debug)
            exchange.record(exc, outcome)
            await send_problem(send, exchange, outcome)


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
