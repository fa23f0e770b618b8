from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flaky_server import Flaky, flaky_server
from postgres_server import PostgresServer, postgres_server
from redis_server import RedisServer, redis_server

from hiccup.health import Health

#: What the fake wall clock shows when the fake monotonic clock reads 0.
EPOCH = datetime(2026, 3, 14, 9, 0, tzinfo=UTC)


@dataclass
class FakeClock:
    """A monotonic clock that moves only when told, with a wall clock in step."""

    now: float = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def wall(self) -> datetime:
        return EPOCH + timedelta(seconds=self.now)


@dataclass
class Ticks:
    """A ``sleep`` for the background loop that returns only when the test
    lets it, remembering how long each wait was meant to be."""

    delays: list[float] = field(default_factory=list)
    _released: asyncio.Queue[None] = field(default_factory=asyncio.Queue)

    async def sleep(self, seconds: float) -> None:
        self.delays.append(seconds)
        await self._released.get()

    def release(self, times: int = 1) -> None:
        for _ in range(times):
            self._released.put_nowait(None)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def ticks() -> Ticks:
    return Ticks()


@pytest.fixture
def make_health(clock: FakeClock) -> Callable[..., Health]:
    """Return a factory of registries on the fake clock, with the jitter at
    its midpoint, so that every delay is the interval itself."""

    def make(**options: Any) -> Health:
        options.setdefault("clock", clock)
        options.setdefault("wall_clock", clock.wall)
        options.setdefault("random", lambda: 0.5)
        return Health(**options)

    return make


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL of the test's own, which it may stop."""
    with postgres_server() as server:
        yield server


@pytest.fixture(scope="session")
def redis_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One redis-server on loopback for the whole run, started when first asked."""
    with redis_server(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture
def flaky() -> Iterator[Flaky]:
    """A loopback HTTP server that answers what the test queues, then 200."""
    with flaky_server() as server:
        yield server
