"""The probes under a real uvicorn: a crowd of them costs the dependency
nothing more, and a SIGTERM drains before the server stops."""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from flaky_server import Flaky, flaky_server
from servers import Server, uvicorn_server

CONCURRENT = 1000
INTERVAL = 30.0
DRAIN = 3.0


@pytest.fixture
def dependency() -> Iterator[Flaky]:
    with flaky_server() as running:
        yield running


def _serve(dependency: Flaky, output: Path, **env: str) -> Iterator[Server]:
    return uvicorn_server(  # type: ignore[return-value]
        "health_app:create",
        output,
        env={
            "HICCUP_TEST_DEPENDENCY": f"{dependency.url}/ping",
            "HICCUP_TEST_CHECK_INTERVAL": str(INTERVAL),
            **env,
        },
    )


def _wait_ready(server: Server, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if httpx.get(f"{server.url}/readyz").status_code == 200:
            return
        time.sleep(0.05)
    raise AssertionError(f"not ready within {timeout} s:\n{server.raw_output()}")


async def _probe(port: int) -> int:
    """GET /readyz on a connection of its own; return the status."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /readyz HTTP/1.1\r\nHost: probe\r\nConnection: close\r\n\r\n")
    answer = await reader.read()
    writer.close()
    await writer.wait_closed()

    return int(answer.split(b" ", 2)[1])


async def _crowd(port: int) -> list[int]:
    # Plain sockets: httpx's pool takes far longer to open a thousand
    # connections than the server takes to answer them.
    return list(await asyncio.gather(*(_probe(port) for _ in range(CONCURRENT))))


def test_a_thousand_concurrent_probes_cost_no_dependency_call(
    dependency: Flaky, tmp_path: Path
) -> None:
    with _serve(dependency, tmp_path / "server.jsonl") as server:
        started = time.monotonic()
        _wait_ready(server)
        before = len(dependency.seen)

        statuses = asyncio.run(_crowd(server.port))
        elapsed = time.monotonic() - started

    assert statuses == [200] * CONCURRENT
    # One run as the app starts, then one an interval (less its jitter).
    allowed = 1 + int(elapsed // (INTERVAL * 0.9))
    assert before >= 1
    assert len(dependency.seen) <= allowed
    assert all(method == "GET" for method, _ in dependency.seen)


def test_sigterm_fails_readiness_while_requests_are_still_served(
    dependency: Flaky, tmp_path: Path
) -> None:
    output = tmp_path / "server.jsonl"
    with _serve(dependency, output, HICCUP_DRAIN_SECONDS=str(DRAIN)) as server:
        _wait_ready(server)
        in_flight: dict[str, int] = {}

        def slow() -> None:
            answer = httpx.get(
                f"{server.url}/slow", params={"seconds": 1.5}, timeout=10
            )
            in_flight["status"] = answer.status_code

        thread = threading.Thread(target=slow)
        thread.start()
        time.sleep(0.2)
        signalled = time.monotonic()
        server.process.send_signal(signal.SIGTERM)

        readiness = []
        deadline = signalled + 2
        while time.monotonic() < deadline:
            readiness.append(httpx.get(f"{server.url}/readyz").status_code)
            if readiness[-1] == 503:
                break
            time.sleep(0.02)
        # New connections, during the drain.
        alive = httpx.get(f"{server.url}/livez").status_code
        served = httpx.get(f"{server.url}/drafts").json()
        answered_within = time.monotonic() - signalled
        thread.join(timeout=10)
        server.process.wait(timeout=DRAIN + 10)
        stopped_after = time.monotonic() - signalled
        lines = server.lines()

    assert readiness[-1] == 503, readiness
    assert alive == 200
    assert served == {"draft": "ready"}
    assert in_flight == {"status": 200}
    assert answered_within < DRAIN
    assert stopped_after >= DRAIN
    # uvicorn ends by raising the signal it caught again, as a process that
    # SIGTERM stopped; older releases exited 0.
    assert server.process.returncode in {0, -signal.SIGTERM}
    [drain] = [line for line in lines if line.get("event") == "health.drain_started"]
    assert drain["seconds"] == DRAIN
    assert any(line.get("event") == "health.draining" for line in lines)
