"""``hiccup.install``: everything hiccup does, added to a FastAPI app in one call."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp

from ._envelope import problem_response
from ._exceptions import HiccupError
from ._ids import new_request_id
from ._logging import configure_logging, get_logger, log_through_app_setup
from ._mapping import outcome_for_exception
from ._metrics import (
    Metrics,
    MetricsEndpoint,
    MetricsObserver,
    count_client_event,
    default_metrics,
    use_metrics,
)
from ._middleware import ErrorResponder, HiccupMiddleware, Observer, current_exchange
from ._openapi import document_problems
from ._problem import Problem
from ._reports import ClientReports
from ._settings import Settings
from ._tracing import (
    configure_tracing,
    disable_fastapi_tracing,
    fastapi_instrumentation_bypass,
)

if TYPE_CHECKING:
    from fastapi import FastAPI

    from ._sentry import SentryObserver
    from .health import Health
    from .health._endpoints import HealthEndpoints

__all__ = ["InstallError", "install"]


class InstallError(HiccupError, RuntimeError):
    """Raised when ``install`` cannot wrap an app, such as one already serving."""


def _handler(settings: Settings) -> Callable[[Request, Exception], Awaitable[Response]]:
    header = settings.request_id_header.lower().encode("latin-1")

    async def answer(request: Request, exc: Exception) -> Response:
        exchange = current_exchange()
        if exchange is not None:
            outcome = exchange.outcome_of(exc, debug=settings.debug)
            exchange.record(exc, outcome)
            status, headers, body = exchange.problem(outcome)
        else:
            # Served without the outer middleware (a sub-app mounted in an app
            # without hiccup): still an envelope, with a request ID of its own.
            content_type = request.headers.get("content-type", "").encode("latin-1")
            outcome = outcome_for_exception(
                exc, content_type=content_type or None, debug=settings.debug
            )
            request_id = new_request_id()
            status, headers, body = problem_response(
                outcome,
                request_id=request_id,
                accept_language=None,
                method=request.method,
            )
            headers.append((header, request_id.encode()))
        response = Response(content=body, status_code=status)
        response.raw_headers = headers

        return response

    return answer


def install(
    app: FastAPI,
    settings: Settings | None = None,
    *,
    metrics: Metrics | None = None,
    sentry: SentryObserver | None = None,
    health: Health | None = None,
) -> FastAPI:
    """Add hiccup to a FastAPI (or Starlette) app and return the app.

    This configures logging, registers exception handlers that answer with
    envelopes, puts ``HiccupMiddleware`` outside Starlette's
    ``ServerErrorMiddleware`` and, when the app has middleware of its own, an
    ``ErrorResponder`` inside it (so errors keep CORS headers), and documents
    the envelope in the OpenAPI schema. With the settings' defaults it also
    traces every request (``configure_tracing``), records Prometheus metrics
    and serves them at ``metrics_path``, reports failures to Sentry when a
    DSN is set, takes the browser SDK's records when
    ``client_reports_path`` is set, and serves the health probes
    (``/livez``, ``/readyz``, ``/startupz``). The probes' checks run while
    the app's lifespan does: they start before it, readiness and startup
    pass once its startup is over, and a SIGTERM drains for
    ``settings.drain_delay`` seconds before the server shuts down. In
    development, or with ``debug`` on, it serves the local console at
    ``/_hiccup``.

    Args:
        metrics: the metrics to record into, instead of the process's own.
        sentry: the Sentry reporter to use, instead of one made by
            ``configure_sentry`` from the settings (when they name a DSN).
        health: the checks to serve, instead of a registry of hiccup's own;
            either way it is ``app.state.hiccup_health``, and it gets an
            ``event_loop`` check for liveness unless it has one already.

    Raises:
        InstallError: the app has started serving already.
    """
    settings = settings or Settings()
    if getattr(app, "middleware_stack", None) is not None:
        raise InstallError(
            "hiccup.install() must run before the app serves its first request"
        )
    if getattr(app.state, "hiccup_settings", None) is not None:
        raise InstallError("hiccup.install() was called twice on the same app")
    app.state.hiccup_settings = settings
    if settings.manage_logging:
        configure_logging(settings)
    else:
        log_through_app_setup(settings)

    observers = _observers(app, settings, metrics, sentry)
    probes = _serve_health(app, settings, health) if settings.health else None
    console = None
    if settings.console_enabled:
        from ._console import Console, ConsoleObserver  # noqa: PLC0415

        console = Console()
        observers.append(ConsoleObserver())
    if settings.client_reports_path is not None:
        reports = ClientReports(count=count_client_event if settings.metrics else None)
        _add_route(app, settings.client_reports_path, reports.__call__, ["POST"])
    answer = _handler(settings)
    for kind in (HTTPException, RequestValidationError, Problem, Exception):
        app.add_exception_handler(kind, answer)
    build = app.build_middleware_stack
    if getattr(app.state, "hiccup_tracing", None) is not None:
        original = fastapi_instrumentation_bypass(app)
        if original is not None:
            build = original
            get_logger("hiccup.tracing").info(
                "tracing.fastapi_instrumentation_bypassed"
            )
    responder = Middleware(ErrorResponder, settings=settings)

    def build_with_hiccup() -> ASGIApp:
        # The app's middleware and handlers are settled by now: Starlette
        # refuses more middleware once the stack is built. An envelope needs
        # making inside that middleware, if there is some, to pass through it
        # (CORS among it) on its way out; and before a 500 handler of the
        # app's own, if it has one, so that routes answer alike either way.
        # Otherwise HiccupMiddleware answers the same, one layer further out.
        own_handler = any(
            app.exception_handlers.get(key, answer) is not answer
            for key in (500, Exception)
        )
        if (
            app.user_middleware or own_handler
        ) and responder not in app.user_middleware:
            app.user_middleware.append(responder)
        stack = build()
        if isinstance(stack, ServerErrorMiddleware) and stack.handler is answer:
            # Left with hiccup's handler, it would answer an exception as
            # HiccupMiddleware does, one layer further out, and cost every
            # request a layer.
            stack = stack.app
        return HiccupMiddleware(
            stack, settings, observers, probes=probes, console=console
        )

    # Starlette puts ServerErrorMiddleware outermost when it builds the stack;
    # wrapping the builder is how hiccup ends up outside it.
    app.build_middleware_stack = build_with_hiccup  # type: ignore[method-assign]
    if hasattr(app, "openapi"):
        document_problems(app, settings.request_id_header)

    return app


def _observers(
    app: FastAPI,
    settings: Settings,
    metrics: Metrics | None,
    sentry: SentryObserver | None,
) -> list[Observer]:
    """Return what watches every request: tracing, metrics, then error reporting.

    Tracing comes first, so that the others start inside the request's span
    and finish before it ends; the error reporter last, so that it finishes
    first, while the span (which its events name) is still open.
    """
    observers: list[Observer] = []
    if settings.tracing:
        tracing = configure_tracing(settings)
        if tracing.enabled:
            # FastAPI's own request spans would wrap hiccup's: one is enough.
            disable_fastapi_tracing(app)
            app.state.hiccup_tracing = tracing
            observers.append(tracing.observer(settings))
    if settings.metrics:
        if metrics is not None:
            use_metrics(metrics)
        metrics = default_metrics()
        metrics.describe(settings)
        endpoint = MetricsEndpoint(metrics)
        _add_route(app, settings.metrics_path, endpoint.respond, ["GET", "HEAD"])
        observers.append(MetricsObserver(metrics))
    if sentry is None and (settings.sentry_dsn or os.environ.get("SENTRY_DSN")):
        # sentry-sdk takes a while to import: only apps that report pay.
        from ._sentry import configure_sentry  # noqa: PLC0415

        sentry = configure_sentry(settings)
    if sentry is not None:
        observers.append(sentry)

    return observers


def _serve_health(
    app: FastAPI, settings: Settings, health: Health | None
) -> HealthEndpoints:
    """Return the probes' endpoints, and run their checks with the app's
    lifespan."""
    from .health import Group, Health, event_loop_lag  # noqa: PLC0415
    from .health._drain import SigtermDrain  # noqa: PLC0415
    from .health._endpoints import HealthEndpoints  # noqa: PLC0415

    health = health if health is not None else Health()
    if not any(check.name == "event_loop" for check in health.checks()):
        health.add("event_loop", event_loop_lag(), groups=Group.LIVE, measurement="lag")
    app.state.hiccup_health = health
    router = app.router
    lifespan = router.lifespan_context

    @contextlib.asynccontextmanager
    async def with_health(target: Any) -> AsyncIterator[Any]:
        drain = SigtermDrain(health, settings.drain_delay)
        async with health, lifespan(target) as state:
            health.mark_started()
            # After the server's own handlers, which it sets up first.
            if drain.seconds > 0:
                drain.install()
            try:
                yield state
            finally:
                drain.uninstall()

    router.lifespan_context = with_health

    return HealthEndpoints(health, settings)


def _add_route(
    app: FastAPI,
    path: str,
    endpoint: Callable[[Request], Awaitable[Response]],
    methods: list[str],
) -> None:
    # FastAPI names the matched route in the scope only for its own routes;
    # a plain Starlette route would show up as unmatched in logs and metrics.
    add = getattr(app, "add_api_route", None) or app.add_route
    add(path, endpoint, methods=methods, include_in_schema=False)
