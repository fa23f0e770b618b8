from __future__ import annotations

from collections.abc import Iterator

import pytest
from flaky_server import Flaky, flaky_server
from redis_server import RedisServer, redis_server


@pytest.fixture(scope="session")
def redis_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One redis-server on loopback for the whole run, started when first asked."""
    with redis_server(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture
def redis_url(redis_process: RedisServer) -> str:
    """The URL of the shared redis-server, emptied for this test."""
    redis_process.flush()

    return redis_process.url


@pytest.fixture
def flaky() -> Iterator[Flaky]:
    """A loopback HTTP server that answers what the test queues, then 200."""
    with flaky_server() as server:
        yield server
