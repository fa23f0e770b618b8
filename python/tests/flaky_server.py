"""A loopback HTTP server that fails on command, for tests of retries."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Flaky:
    """A loopback HTTP server that answers what a test queues, then 200."""

    url: str
    replies: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    seen: list[tuple[str, str | None]] = field(default_factory=list)


@contextmanager
def flaky_server() -> Iterator[Flaky]:
    """Serve on a free loopback port until the block ends."""
    lock = threading.Lock()
    state = Flaky(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.answer()

        def do_POST(self) -> None:
            self.answer()

        def answer(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with lock:
                state.seen.append((self.command, self.headers.get("Idempotency-Key")))
                status, headers = state.replies.pop(0) if state.replies else (200, {})
            body = b"{}"
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            """Keep the test output quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}
    )
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
