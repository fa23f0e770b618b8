"""Checks hiccup brings: the event loop, databases, Redis, HTTP, breakers, startup.

Each function here returns a check function for ``Health.add``, and says
which group the check belongs in. The dependency checks take the client the
app already has (its engine, pool or Redis client) and never make one of
their own, except ``http_dependency`` without a client. SQLAlchemy, asyncpg,
redis and httpx are the app's choice, not hiccup's: nothing here imports
them until a check runs, and only httpx then.

Response times are reported in milliseconds, as health+json bodies usually
have them; ``Result.duration`` keeps seconds for metrics.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection, Iterable
from contextlib import AbstractAsyncContextManager
from time import perf_counter
from typing import TYPE_CHECKING, Any, Final, Protocol
from urllib.parse import urlsplit, urlunsplit

from ..resilience import CircuitBreaker, State, breakers
from ._checks import CheckFunction, Result, Status, _check_seconds

if TYPE_CHECKING:
    from ._checks import Health

__all__ = [
    "EXPECTED_STATUSES",
    "LAG_FAIL_AFTER",
    "LAG_WARN_AFTER",
    "NOT_STARTED",
    "Fetcher",
    "HTTPClient",
    "HTTPResponse",
    "Pinger",
    "SQLEngine",
    "asyncpg_ping",
    "breakers_check",
    "event_loop_lag",
    "http_dependency",
    "redis_ping",
    "sqlalchemy_ping",
    "startup_complete",
]

#: Seconds of event loop lag from which ``event_loop_lag`` warns.
LAG_WARN_AFTER: Final = 0.1
#: Seconds of event loop lag from which ``event_loop_lag`` fails.
LAG_FAIL_AFTER: Final = 1.0
#: The output of ``startup_complete`` before the app has started.
NOT_STARTED: Final = "not started yet"
#: The statuses by which ``http_dependency`` passes by default.
EXPECTED_STATUSES: Final = range(200, 400)


class _Connection(Protocol):
    async def exec_driver_sql(self, statement: str) -> object: ...


class SQLEngine(Protocol):
    """What ``sqlalchemy_ping`` needs of an SQLAlchemy ``AsyncEngine``."""

    def connect(self) -> AbstractAsyncContextManager[_Connection]: ...


class Fetcher(Protocol):
    """What ``asyncpg_ping`` needs of an asyncpg ``Pool`` (or ``Connection``)."""

    async def fetchval(self, query: str) -> Any: ...


class Pinger(Protocol):
    """What ``redis_ping`` needs of a ``redis.asyncio`` client."""

    def ping(self) -> Awaitable[Any]: ...


class HTTPResponse(Protocol):
    """What ``http_dependency`` reads of a response."""

    @property
    def status_code(self) -> int: ...


class HTTPClient(Protocol):
    """What ``http_dependency`` needs of an ``httpx.AsyncClient``."""

    async def get(self, url: str) -> HTTPResponse: ...


def _milliseconds(since: float) -> float:
    return round((perf_counter() - since) * 1000, 3)


def _answered(since: float) -> Result:
    return Result(Status.PASS, observed_value=_milliseconds(since), observed_unit="ms")


def _resolve(ran: asyncio.Future[float], loop: asyncio.AbstractEventLoop) -> None:
    # The run may have been cancelled while the callback waited its turn.
    if not ran.done():
        ran.set_result(loop.time())


def event_loop_lag(
    warn_after: float = LAG_WARN_AFTER, fail_after: float = LAG_FAIL_AFTER
) -> CheckFunction:
    """Return a check of how late the event loop runs a callback; for LIVE.

    The check schedules a callback to run as soon as possible and measures
    how long it waited behind the work already queued: the delay any new
    request meets before its code starts. A loop blocked outright answers no
    probe at all, which the probe's own timeout reports; this check shows
    the slowdown that comes before.

    Args:
        warn_after: seconds of lag from which it warns.
        fail_after: seconds of lag from which it fails.

    Raises:
        ValueError: a threshold is not a positive number, or ``warn_after``
            is longer than ``fail_after``.
    """
    if _check_seconds("warn_after", warn_after) > _check_seconds(
        "fail_after", fail_after
    ):
        raise ValueError(
            f"warn_after ({warn_after!r} s) must not be longer than "
            f"fail_after ({fail_after!r} s)"
        )

    async def check() -> Result:
        loop = asyncio.get_running_loop()
        ran: asyncio.Future[float] = loop.create_future()
        scheduled = loop.time()
        loop.call_soon(_resolve, ran, loop)
        lag = await ran - scheduled
        value = round(lag * 1000, 3)
        if lag >= fail_after:
            status, threshold = Status.FAIL, fail_after
        elif lag >= warn_after:
            status, threshold = Status.WARN, warn_after
        else:
            return Result(Status.PASS, observed_value=value, observed_unit="ms")

        return Result(
            status,
            observed_value=value,
            observed_unit="ms",
            output=f"event loop lag {value:g} ms, at least {threshold * 1000:g} ms",
        )

    return check


def sqlalchemy_ping(engine: SQLEngine) -> CheckFunction:
    """Return a check that runs ``SELECT 1`` through an SQLAlchemy
    ``AsyncEngine``; for READY.

    It checks a connection out of the engine's pool, so it fails as well
    when the pool is exhausted and the check's timeout passes first.
    """

    async def check() -> Result:
        started = perf_counter()
        try:
            async with engine.connect() as connection:
                await connection.exec_driver_sql("SELECT 1")
        except Exception as exc:
            driver_error = getattr(exc, "orig", None)
            if not isinstance(driver_error, Exception):
                raise
            # SQLAlchemy's own message repeats the statement and links to
            # its documentation; the driver's words say what went wrong.
            return Result(
                Status.FAIL, output=f"{type(exc).__qualname__}: {driver_error}"
            )

        return _answered(started)

    return check


def asyncpg_ping(pool: Fetcher) -> CheckFunction:
    """Return a check that runs ``SELECT 1`` on an asyncpg pool; for READY.

    A pool with every connection taken makes the check wait, and fail once
    its timeout passes: a service without a free connection is not ready.
    """

    async def check() -> Result:
        started = perf_counter()
        await pool.fetchval("SELECT 1")

        return _answered(started)

    return check


def redis_ping(client: Pinger) -> CheckFunction:
    """Return a check that sends PING through a ``redis.asyncio`` client;
    for READY.

    Give the client socket timeouts of its own: the check's timeout cancels
    the wait, but only the client's make it drop a connection that hangs.
    """

    async def check() -> Result:
        started = perf_counter()
        answer = await client.ping()
        if not answer:
            return Result(Status.FAIL, output=f"PING answered {answer!r}")

        return _answered(started)

    return check


def _shown(url: str) -> str:
    """The URL without its user, password, query and fragment, any of which
    may hold a credential."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]

    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def _described(statuses: Collection[int]) -> str:
    if isinstance(statuses, range) and statuses.step == 1 and len(statuses) > 1:
        return f"{statuses.start}-{statuses.stop - 1}"

    return ", ".join(str(status) for status in sorted(statuses))


def http_dependency(
    url: str,
    client: HTTPClient | None = None,
    expect: Collection[int] = EXPECTED_STATUSES,
) -> CheckFunction:
    """Return a check that GETs a URL and expects one of some statuses;
    for READY.

    Args:
        url: an ``http://`` or ``https://`` URL. Outputs show it without its
            user, password, query and fragment.
        client: an ``httpx.AsyncClient`` (or anything with its ``get``). By
            default each run opens and closes a client of its own, so a
            connection that went bad is never reused; that needs httpx.
        expect: the statuses by which it passes.

    Raises:
        ValueError: the URL is not an HTTP one, or ``expect`` is empty.
    """
    if urlsplit(url).scheme not in {"http", "https"} or not urlsplit(url).netloc:
        raise ValueError(f"url must be an http:// or https:// URL, not {_shown(url)!r}")
    if not expect:
        raise ValueError("expect must hold at least one status")
    shown = _shown(url)
    expected = _described(expect)

    async def check() -> Result:
        started = perf_counter()
        if client is not None:
            response = await client.get(url)
        else:
            # httpx is an optional extra; type checkers without it see the
            # import as missing.
            import httpx  # type: ignore[import-not-found, unused-ignore]  # noqa: PLC0415

            async with httpx.AsyncClient() as own:
                response = await own.get(url)
        elapsed = _milliseconds(started)
        if response.status_code in expect:
            return Result(Status.PASS, observed_value=elapsed, observed_unit="ms")

        return Result(
            Status.FAIL,
            observed_value=elapsed,
            observed_unit="ms",
            output=f"GET {shown} answered {response.status_code}, expected {expected}",
        )

    return check


def breakers_check(
    source: Callable[[], Iterable[CircuitBreaker]] = breakers,
) -> CheckFunction:
    """Return a check that warns while a circuit breaker is open or
    half-open; for READY.

    It warns rather than fails: a breaker protects the process from a
    dependency, which the process may well serve without (with a fallback,
    say), and the dependency has checks of its own. The output names each
    breaker that is not closed, and how long an open one still refuses
    calls; the observed value is how many there are.

    Args:
        source: returns the breakers to look at; by default every breaker
            of the process.
    """

    async def check() -> Result:
        troubled = []
        for breaker in source():
            state = breaker.state
            if state is State.OPEN:
                wait = breaker.retry_after
                troubled.append(f"{breaker.name} (open, {wait:.1f} s more)")
            elif state is State.HALF_OPEN:
                troubled.append(f"{breaker.name} (half-open)")
        if not troubled:
            return Result(Status.PASS, observed_value=0)

        return Result(
            Status.WARN,
            observed_value=len(troubled),
            output=f"circuit breakers not closed: {', '.join(troubled)}",
        )

    return check


def startup_complete(health: Health) -> CheckFunction:
    """Return a check that fails until ``health.mark_started()``; for STARTUP.

    Every ``Health`` has one already, named ``startup``.
    """

    async def check() -> Result:
        if health.started:
            return Result(Status.PASS)

        return Result(Status.FAIL, output=NOT_STARTED)

    return check
