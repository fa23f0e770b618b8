"""SIGTERM, drained: readiness fails at once, the server's own handler gets
the signal after the drain, or at once on a second SIGTERM."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from types import FrameType

import pytest
from support import LogCapture

from hiccup.health import Group, Health, SigtermDrain, Status


class ServerHandler:
    """Stands for the server's own SIGTERM handler: counts its calls."""

    def __init__(self) -> None:
        self.calls: list[float] = []
        self.loop: asyncio.AbstractEventLoop | None = None

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        assert signum == signal.SIGTERM
        assert self.loop is not None
        self.calls.append(self.loop.time())


@pytest.fixture
def server_handler() -> Iterator[ServerHandler]:
    handler = ServerHandler()
    before = signal.signal(signal.SIGTERM, handler)
    yield handler
    signal.signal(signal.SIGTERM, before)


async def _until(predicate: object, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():  # type: ignore[operator]
            await asyncio.sleep(0.01)


def test_sigterm_drains_then_reaches_the_servers_handler(
    server_handler: ServerHandler,
) -> None:
    health = Health()
    health.mark_started()

    async def scenario() -> tuple[Status, Status, int, float, float]:
        loop = asyncio.get_running_loop()
        server_handler.loop = loop
        drain = SigtermDrain(health, 0.3)
        drain.install()
        signalled = loop.time()
        signal.raise_signal(signal.SIGTERM)
        await _until(lambda: health.draining)
        ready = health.report(Group.READY).status
        live = health.report(Group.LIVE).status
        calls_while_draining = len(server_handler.calls)
        await _until(lambda: server_handler.calls)
        return ready, live, calls_while_draining, signalled, server_handler.calls[0]

    ready, live, calls, signalled, handed_on = asyncio.run(scenario())

    assert (ready, live) == (Status.FAIL, Status.PASS)
    assert calls == 0
    assert handed_on - signalled >= 0.3
    assert server_handler.calls == [handed_on]
    # Handed back, too: the drain is over.
    assert signal.getsignal(signal.SIGTERM) is server_handler


def test_a_second_sigterm_is_handed_on_at_once(server_handler: ServerHandler) -> None:
    health = Health()

    async def scenario() -> int:
        server_handler.loop = asyncio.get_running_loop()
        drain = SigtermDrain(health, 60.0)
        drain.install()
        signal.raise_signal(signal.SIGTERM)
        await _until(lambda: health.draining)
        signal.raise_signal(signal.SIGTERM)
        await _until(lambda: server_handler.calls)
        await asyncio.sleep(0.05)
        return len(server_handler.calls)

    assert asyncio.run(scenario()) == 1
    assert signal.getsignal(signal.SIGTERM) is server_handler


def test_uninstalling_gives_the_signal_back_and_cancels_the_wait(
    server_handler: ServerHandler,
) -> None:
    health = Health()

    async def scenario() -> None:
        server_handler.loop = asyncio.get_running_loop()
        drain = SigtermDrain(health, 0.1)
        drain.install()
        assert drain.installed
        signal.raise_signal(signal.SIGTERM)
        await _until(lambda: health.draining)
        drain.uninstall()
        await asyncio.sleep(0.3)

    asyncio.run(scenario())

    assert server_handler.calls == []
    assert signal.getsignal(signal.SIGTERM) is server_handler


def test_off_the_main_thread_it_leaves_sigterm_alone(
    server_handler: ServerHandler,
) -> None:
    installed: list[bool] = []

    def in_thread() -> None:
        async def scenario() -> None:
            drain = SigtermDrain(Health(), 1.0)
            drain.install()
            installed.append(drain.installed)

        asyncio.run(scenario())

    thread = threading.Thread(target=in_thread)
    thread.start()
    thread.join()

    assert installed == [False]
    assert signal.getsignal(signal.SIGTERM) is server_handler


def test_the_drain_is_logged(server_handler: ServerHandler, logs: LogCapture) -> None:
    health = Health()

    async def scenario() -> None:
        server_handler.loop = asyncio.get_running_loop()
        SigtermDrain(health, 0.05).install()
        signal.raise_signal(signal.SIGTERM)
        await _until(lambda: server_handler.calls)

    asyncio.run(scenario())

    assert [line["event"] for line in logs.lines] == [
        "health.draining",
        "health.drain_started",
    ]
    [started] = logs.events("health.drain_started")
    assert started["seconds"] == 0.05


def test_a_default_sigterm_ends_the_process_after_the_drain() -> None:
    # The default action kills the process, so it runs in one of its own.
    program = """
import asyncio, signal, sys, time
from hiccup.health import Health, SigtermDrain

async def main():
    drain = SigtermDrain(Health(), 0.2)
    drain.install()
    began = time.monotonic()
    signal.raise_signal(signal.SIGTERM)
    await asyncio.sleep(0.1)
    print("still serving", flush=True)
    await asyncio.sleep(5)
    print("never", flush=True)

signal.signal(signal.SIGTERM, signal.SIG_DFL)
asyncio.run(main())
"""
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, timeout=30, check=False
    )

    assert done.returncode == -signal.SIGTERM
    printed = done.stdout.decode().splitlines()
    assert "still serving" in printed
    assert "never" not in printed
