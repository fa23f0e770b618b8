"""A real Redis for the tests: on a free loopback port, stopped by PID.

    with redis_server(tmp_path) as redis:
        client = redis.asyncio.from_url(redis.url)

It runs Debian's ``redis-server`` with nothing written to disk (no RDB
snapshots, no append-only file), so a test run leaves no state behind.
Readiness and flushing speak the protocol over a plain socket, so the tests
that use it need no Redis client of their own.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from servers import free_port

BINARY = "/usr/bin/redis-server"
#: How long Redis may take to answer its first PING, in seconds.
START_TIMEOUT = 20.0


class RedisServerError(RuntimeError):
    """Raised when redis-server does not start or does not answer a command."""


@dataclass
class RedisServer:
    """A running redis-server and where to reach it."""

    process: subprocess.Popen[bytes]
    port: int
    directory: Path

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def output(self) -> str:
        """What redis-server logged so far."""
        return (self.directory / "redis.log").read_text(errors="replace")

    def command(self, *words: str) -> bytes:
        """Send one inline command; return the first line of the reply."""
        return _command(self.port, " ".join(words))

    def flush(self) -> None:
        """Forget every key of every database.

        Raises:
            RedisServerError: Redis did not answer ``+OK``.
        """
        reply = self.command("FLUSHALL")
        if reply != b"+OK":
            raise RedisServerError(f"FLUSHALL answered {reply!r}, expected b'+OK'")


def _command(port: int, line: str, timeout: float = 2.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(line.encode() + b"\r\n")
        reply = b""
        while not reply.endswith(b"\r\n"):
            chunk = sock.recv(4096)
            if not chunk:
                break
            reply += chunk

    return reply.split(b"\r\n", 1)[0]


def _wait_until_ready(server: RedisServer) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RedisServerError(
                f"redis-server exited with {server.process.returncode}: "
                f"{server.output()[-2000:]}"
            )
        try:
            if server.command("PING") == b"+PONG":
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise RedisServerError(f"redis-server did not answer PING within {START_TIMEOUT} s")


@contextmanager
def redis_server(directory: Path) -> Iterator[RedisServer]:
    """Run redis-server on loopback until the block ends, then stop it.

    Args:
        directory: An empty directory for the log (and Redis's working
            directory, though nothing is written there).

    Raises:
        RedisServerError: The binary is missing, or the server did not start.
    """
    binary = shutil.which(BINARY)
    if binary is None:
        raise RedisServerError(f"{BINARY} is missing: apt-get install redis-server")
    port = free_port()
    with (directory / "redis.log").open("wb") as log:
        process = subprocess.Popen(
            [
                binary,
                "--bind",
                "127.0.0.1",
                "--port",
                str(port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(directory),
                "--daemonize",
                "no",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = RedisServer(process, port, directory)
    try:
        _wait_until_ready(server)
        yield server
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
