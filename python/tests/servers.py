"""Real servers for the tests: uvicorn on a free loopback port, stopped by PID."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

SERVED_APPS = Path(__file__).parent / "server"


class JsonHandler(BaseHTTPRequestHandler):
    """A request handler for the tests' stand-ins of JSON APIs: it answers
    with ``answer`` and logs nothing."""

    def answer(self, status: int, body: object) -> None:
        """Send ``body`` as JSON with ``status``."""
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        """Keep the tests' output clean."""


@contextmanager
def loopback_http(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """Serve ``handler`` on a free loopback port in a thread; yield its URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Server:
    """A uvicorn process serving ``served_app`` on loopback."""

    process: subprocess.Popen[bytes]
    port: int
    output: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def lines(self) -> list[dict[str, Any]]:
        """Every JSON line the server wrote so far."""
        text = self.output.read_text(encoding="utf-8", errors="replace")
        return [json.loads(line) for line in text.splitlines() if line.startswith("{")]

    def raw_output(self) -> str:
        return self.output.read_text(encoding="utf-8", errors="replace")

    def wait_for(self, predicate: Any, timeout: float = 10) -> list[dict[str, Any]]:
        """Wait until the lines satisfy ``predicate``; return them."""
        deadline = time.monotonic() + timeout
        while True:
            lines = self.lines()
            if predicate(lines) or time.monotonic() > deadline:
                return lines
            time.sleep(0.05)


def _wait_until_listening(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"uvicorn exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"uvicorn did not listen on {port} within 20 s")


@contextmanager
def uvicorn_server(
    app: str,
    output: Path,
    launcher: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    *,
    app_dir: Path = SERVED_APPS,
    factory: bool = True,
) -> Iterator[Server]:
    """Run ``uvicorn --factory app`` on loopback until the block ends.

    Args:
        app: The factory, as ``module:function`` of ``app_dir``; with
            ``factory`` off, the app itself, as ``module:name``.
        output: Where the server's output goes.
        launcher: A command that runs the server's, such as
            ``opentelemetry-instrument``.
        env: Variables for the server, over the tests' own. The server
            stops at once on SIGTERM unless they set ``HICCUP_DRAIN_SECONDS``.
        app_dir: Where the app's module is.
        factory: Whether ``app`` names a factory.
    """
    port = free_port()
    with output.open("wb") as sink:
        process = subprocess.Popen(
            [
                *launcher,
                sys.executable,
                "-m",
                "uvicorn",
                app,
                *(["--factory"] if factory else []),
                "--app-dir",
                str(app_dir),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--timeout-graceful-shutdown",
                "2",
                # Longer than any test keeps a pooled connection idle: with
                # uvicorn's 5 s, a busy machine lets the server close a
                # connection just as the client sends on it again.
                "--timeout-keep-alive",
                "60",
            ],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env={
                **os.environ,
                "PYTHONUNBUFFERED": "1",
                "HICCUP_DRAIN_SECONDS": "0",
                **(env or {}),
            },
        )
    try:
        _wait_until_listening(port, process)
        yield Server(process, port, output)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
