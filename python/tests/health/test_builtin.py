from __future__ import annotations

import asyncio
import time
from typing import Any

import asyncpg
import httpx
import pytest
import redis.asyncio
from flaky_server import Flaky
from postgres_server import PASSWORD, PostgresServer
from redis_server import RedisServer
from servers import free_port
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from hiccup.health import (
    CheckFunction,
    Health,
    Result,
    Status,
    asyncpg_ping,
    breakers_check,
    event_loop_lag,
    http_dependency,
    redis_ping,
    sqlalchemy_ping,
    startup_complete,
)
from hiccup.resilience import BreakerPolicy, CircuitBreaker, State

WRONG_PASSWORD = "guessed-wrong-91d2"


class Boom(Exception):
    """A dependency failing."""


async def checked(fn: CheckFunction) -> Result:
    """Run a check the way a registry does, exceptions and all."""
    health = Health()
    health.add("dep", fn, timeout=5.0)

    return (await health.refresh("dep"))["dep"]


def engine_for(dsn: str) -> AsyncEngine:
    return create_async_engine(dsn.replace("postgresql://", "postgresql+asyncpg://"))


def refused(port: int) -> str:
    return (
        f"ConnectionRefusedError: [Errno 111] Connect call failed ('127.0.0.1', {port})"
    )


# The event loop.


def test_event_loop_lag_passes_on_an_idle_loop() -> None:
    result = asyncio.run(checked(event_loop_lag()))

    assert (result.status, result.observed_unit) == (Status.PASS, "ms")
    assert isinstance(result.observed_value, float)
    assert 0 <= result.observed_value < 100


@pytest.mark.parametrize(
    ("blocked", "warn_after", "fail_after", "status", "threshold"),
    [
        (0.06, 0.03, 1.0, Status.WARN, "30"),
        (0.06, 0.01, 0.03, Status.FAIL, "30"),
    ],
    ids=["warn", "fail"],
)
def test_event_loop_lag_counts_the_work_queued_before_it(
    blocked: float,
    warn_after: float,
    fail_after: float,
    status: Status,
    threshold: str,
) -> None:
    check = event_loop_lag(warn_after=warn_after, fail_after=fail_after)

    async def scenario() -> Any:
        # Queued ahead of the check's own callback: it waits this long.
        asyncio.get_running_loop().call_soon(time.sleep, blocked)
        return await check()

    result = asyncio.run(scenario())

    assert result.status is status
    assert result.observed_value >= blocked * 1000
    assert result.output.startswith("event loop lag ")
    assert result.output.endswith(f" ms, at least {threshold} ms")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"warn_after": 0}, "warn_after must be a positive number"),
        ({"fail_after": -1}, "fail_after must be a positive number"),
        ({"fail_after": float("nan")}, "fail_after must be a positive number"),
        ({"warn_after": 2.0, "fail_after": 1.0}, "must not be longer than"),
    ],
    ids=["zero", "negative", "not-a-number", "crossed"],
)
def test_event_loop_lag_refuses_thresholds_out_of_range(
    options: dict[str, float], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        event_loop_lag(**options)


# PostgreSQL through SQLAlchemy.


def test_sqlalchemy_ping_passes_while_postgres_answers(
    postgres: PostgresServer,
) -> None:
    async def scenario() -> Result:
        engine = engine_for(postgres.dsn)
        try:
            return await checked(sqlalchemy_ping(engine))
        finally:
            await engine.dispose()

    result = asyncio.run(scenario())

    assert (result.status, result.observed_unit, result.output) == (
        Status.PASS,
        "ms",
        None,
    )
    assert isinstance(result.observed_value, float)


def test_sqlalchemy_ping_fails_once_postgres_stops(
    own_postgres: PostgresServer,
) -> None:
    async def scenario() -> list[Result]:
        engine = engine_for(own_postgres.dsn)
        check = sqlalchemy_ping(engine)
        try:
            results = [await checked(check)]
            own_postgres.stop()
            results += [await checked(check), await checked(check)]
        finally:
            await engine.dispose()
        return results

    up, *down = asyncio.run(scenario())

    assert up.status is Status.PASS
    assert [result.status for result in down] == [Status.FAIL, Status.FAIL]
    assert down[-1].output == refused(own_postgres.port)
    for result in down:
        assert result.output is not None
        assert PASSWORD not in result.output
        assert "[SQL:" not in result.output


def test_sqlalchemy_ping_fails_on_a_closed_port() -> None:
    port = free_port()

    async def scenario() -> Result:
        engine = engine_for(f"postgresql://hiccup:{PASSWORD}@127.0.0.1:{port}/app")
        try:
            return await checked(sqlalchemy_ping(engine))
        finally:
            await engine.dispose()

    result = asyncio.run(scenario())

    assert (result.status, result.output) == (Status.FAIL, refused(port))


def test_sqlalchemy_ping_names_a_refused_login_without_its_password(
    postgres: PostgresServer,
) -> None:
    async def scenario() -> Result:
        dsn = postgres.dsn.replace(PASSWORD, WRONG_PASSWORD)
        engine = engine_for(dsn)
        try:
            return await checked(sqlalchemy_ping(engine))
        finally:
            await engine.dispose()

    result = asyncio.run(scenario())

    assert result.status is Status.FAIL
    assert result.output is not None
    assert 'password authentication failed for user "hiccup"' in result.output
    assert WRONG_PASSWORD not in result.output


# PostgreSQL through asyncpg.


def test_asyncpg_ping_passes_while_postgres_answers(postgres: PostgresServer) -> None:
    async def scenario() -> Result:
        pool = await asyncpg.create_pool(postgres.dsn, min_size=1, max_size=2)
        try:
            return await checked(asyncpg_ping(pool))
        finally:
            await pool.close()

    result = asyncio.run(scenario())

    assert (result.status, result.observed_unit) == (Status.PASS, "ms")


def test_asyncpg_ping_fails_once_postgres_stops(
    own_postgres: PostgresServer,
) -> None:
    async def scenario() -> list[Result]:
        # No floor of connections: the pool would keep reconnecting, and
        # logging each attempt, in the background.
        pool = await asyncpg.create_pool(own_postgres.dsn, min_size=0, max_size=1)
        check = asyncpg_ping(pool)
        try:
            results = [await checked(check)]
            own_postgres.stop()
            results += [await checked(check), await checked(check)]
        finally:
            pool.terminate()
        return results

    up, *down = asyncio.run(scenario())

    assert up.status is Status.PASS
    assert [result.status for result in down] == [Status.FAIL, Status.FAIL]
    assert down[-1].output == refused(own_postgres.port)
    for result in down:
        assert result.output is not None
        assert PASSWORD not in result.output


def test_asyncpg_ping_fails_on_a_closed_port() -> None:
    port = free_port()

    async def scenario() -> Result:
        dsn = f"postgresql://hiccup:{PASSWORD}@127.0.0.1:{port}/app"
        pool = await asyncpg.create_pool(dsn, min_size=0)
        try:
            return await checked(asyncpg_ping(pool))
        finally:
            pool.terminate()

    result = asyncio.run(scenario())

    assert (result.status, result.output) == (Status.FAIL, refused(port))


def test_asyncpg_ping_names_a_refused_login_without_its_password(
    postgres: PostgresServer,
) -> None:
    async def scenario() -> Result:
        dsn = postgres.dsn.replace(PASSWORD, WRONG_PASSWORD)
        pool = await asyncpg.create_pool(dsn, min_size=0)
        try:
            return await checked(asyncpg_ping(pool))
        finally:
            pool.terminate()

    result = asyncio.run(scenario())

    assert result.status is Status.FAIL
    assert result.output == (
        'InvalidPasswordError: password authentication failed for user "hiccup"'
    )


# Redis.


def test_redis_ping_passes_while_redis_answers(redis_process: RedisServer) -> None:
    async def scenario() -> Result:
        client = redis.asyncio.from_url(redis_process.url, socket_timeout=1)
        try:
            return await checked(redis_ping(client))
        finally:
            await client.aclose()

    result = asyncio.run(scenario())

    assert (result.status, result.observed_unit) == (Status.PASS, "ms")


def test_redis_ping_fails_on_a_closed_port() -> None:
    port = free_port()

    async def scenario() -> Result:
        client = redis.asyncio.from_url(
            f"redis://:{WRONG_PASSWORD}@127.0.0.1:{port}/0", socket_connect_timeout=1
        )
        try:
            return await checked(redis_ping(client))
        finally:
            await client.aclose()

    result = asyncio.run(scenario())

    assert result.status is Status.FAIL
    assert result.output is not None
    assert result.output.startswith("ConnectionError: ")
    assert f"127.0.0.1:{port}" in result.output
    assert WRONG_PASSWORD not in result.output


def test_redis_ping_fails_on_an_answer_that_is_not_pong() -> None:
    class Confused:
        async def ping(self) -> bool:
            return False

    result = asyncio.run(checked(redis_ping(Confused())))

    assert (result.status, result.output) == (Status.FAIL, "PING answered False")


# HTTP dependencies.


def test_http_dependency_passes_on_an_expected_status(flaky: Flaky) -> None:
    result = asyncio.run(checked(http_dependency(f"{flaky.url}/health")))

    assert (result.status, result.observed_unit) == (Status.PASS, "ms")
    assert flaky.seen == [("GET", None)]


def test_http_dependency_fails_on_another_status(flaky: Flaky) -> None:
    flaky.replies.append((503, {}))

    result = asyncio.run(checked(http_dependency(f"{flaky.url}/health")))

    assert (result.status, result.output) == (
        Status.FAIL,
        f"GET {flaky.url}/health answered 503, expected 200-399",
    )


def test_http_dependency_uses_the_client_it_is_given(flaky: Flaky) -> None:
    async def scenario() -> Result:
        async with httpx.AsyncClient(headers={"Idempotency-Key": "probe"}) as client:
            return await checked(http_dependency(flaky.url, client, expect={204}))

    result = asyncio.run(scenario())

    assert (result.status, result.output) == (
        Status.FAIL,
        f"GET {flaky.url} answered 200, expected 204",
    )
    assert flaky.seen == [("GET", "probe")]


def test_http_dependency_shows_no_credential_of_its_url(flaky: Flaky) -> None:
    flaky.replies.append((500, {}))
    host = flaky.url.removeprefix("http://")
    url = f"http://probe:{WRONG_PASSWORD}@{host}/health?token=abc123#frag"

    result = asyncio.run(checked(http_dependency(url)))

    assert result.output == f"GET {flaky.url}/health answered 500, expected 200-399"


def test_http_dependency_fails_on_a_closed_port() -> None:
    url = f"http://127.0.0.1:{free_port()}/health"

    result = asyncio.run(checked(http_dependency(url)))

    assert (result.status, result.output) == (
        Status.FAIL,
        "ConnectError: All connection attempts failed",
    )


@pytest.mark.parametrize(
    ("url", "expect", "message"),
    [
        ("ftp://files.example/health", range(200, 400), "must be an http"),
        ("/health", range(200, 400), "must be an http"),
        ("http://svc.example/health", (), "at least one status"),
    ],
    ids=["scheme", "relative", "no-status"],
)
def test_http_dependency_refuses_what_it_cannot_check(
    url: str, expect: Any, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        http_dependency(url, expect=expect)


# Circuit breakers.


class Clock:
    def __init__(self) -> None:
        self.now = 500.0

    def __call__(self) -> float:
        return self.now


async def trip(breaker: CircuitBreaker) -> None:
    async def failing() -> None:
        raise Boom("upstream down")

    for _ in range(breaker.policy.minimum_calls):
        with pytest.raises(Boom):
            await breaker.call(failing)


def breaker(name: str, clock: Clock) -> CircuitBreaker:
    # Two failures open it, for exactly five seconds.
    policy = BreakerPolicy(minimum_calls=2, open_base=5.0)
    return CircuitBreaker(name, policy, clock=clock, random=lambda: 0.5)


def test_breakers_check_passes_while_every_breaker_is_closed() -> None:
    closed = breaker("health-closed", Clock())

    result = asyncio.run(checked(breakers_check(lambda: [closed])))

    assert (result.status, result.observed_value, result.output) == (
        Status.PASS,
        0,
        None,
    )


def test_breakers_check_warns_naming_an_open_breaker() -> None:
    clock = Clock()
    model = breaker("health-model", clock)
    closed = breaker("health-search", clock)

    async def scenario() -> Result:
        await trip(model)
        return await checked(breakers_check())

    result = asyncio.run(scenario())

    assert model.state is State.OPEN
    assert closed.state is State.CLOSED
    assert result.status is Status.WARN
    assert result.output is not None
    assert "health-model (open, 5.0 s more)" in result.output
    assert "health-search" not in result.output


def test_breakers_check_names_half_open_breakers_and_counts_them() -> None:
    clock = Clock()
    model, search = breaker("health-model-2", clock), breaker("health-search-2", clock)

    async def scenario() -> Result:
        await trip(model)
        await trip(search)
        clock.now += 5.0
        return await checked(breakers_check(lambda: [model, search]))

    result = asyncio.run(scenario())

    assert (result.status, result.observed_value, result.output) == (
        Status.WARN,
        2,
        "circuit breakers not closed: "
        "health-model-2 (half-open), health-search-2 (half-open)",
    )


# Startup.


def test_startup_complete_fails_until_the_app_has_started() -> None:
    health = Health()
    check = startup_complete(health)

    before = asyncio.run(checked(check))
    health.mark_started()
    after = asyncio.run(checked(check))

    assert (before.status, before.output) == (Status.FAIL, "not started yet")
    assert (after.status, after.output) == (Status.PASS, None)
