"""A Sentry ingest on loopback: it takes envelopes as Sentry does and keeps them.

    with SentryIngest() as ingest:
        sentry_sdk.init(dsn=ingest.dsn)
        ...
        sentry_sdk.flush()
        [event] = ingest.events()

``SentryIngest(answers=False)`` reads every request and never answers it, as
an overloaded ingest does; ``dead_dsn()`` names a port nobody listens on.
"""

from __future__ import annotations

import gzip
import json
import re
import socket
import threading
import zlib
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from servers import JsonHandler

__all__ = [
    "Envelope",
    "Item",
    "SentryIngest",
    "dead_dsn",
    "decode_body",
    "parse_envelope",
]

_ENVELOPE_PATH = re.compile(r"^/api/(?P<project>[^/]+)/envelope/?$")


class UnsupportedEncodingError(ValueError):
    """Raised when a body comes in an encoding the ingest cannot read."""


@dataclass(frozen=True)
class Item:
    """One item of an envelope: its header and its payload, as sent."""

    headers: dict[str, Any]
    payload: bytes

    @property
    def type(self) -> str:
        return str(self.headers.get("type", ""))

    def json(self) -> Any:
        return json.loads(self.payload)


@dataclass(frozen=True)
class Envelope:
    """What one request to the envelope endpoint carried."""

    headers: dict[str, Any]
    items: tuple[Item, ...]
    project: str = ""


def parse_envelope(data: bytes) -> Envelope:
    """Read the envelope wire format.

    A header line of JSON opens the envelope; each item follows as a header
    line and a payload: exactly ``length`` bytes when the header gives one,
    otherwise everything up to the next newline.

    Raises:
        ValueError: the data is not an envelope.
    """
    end = _line_end(data, 0)
    headers = json.loads(data[:end] or b"{}")
    position = end + 1
    items: list[Item] = []
    while position < len(data):
        end = _line_end(data, position)
        line = data[position:end].strip()
        position = end + 1
        if not line:
            continue
        item_headers = json.loads(line)
        length = item_headers.get("length")
        if isinstance(length, int):
            payload = data[position : position + length]
            if len(payload) != length:
                raise ValueError(f"item of {length} bytes cut short at {len(payload)}")
            position += length
            if data[position : position + 1] == b"\n":
                position += 1
        else:
            end = _line_end(data, position)
            payload = data[position:end]
            position = end + 1
        items.append(Item(item_headers, payload))

    return Envelope(headers, tuple(items))


def _line_end(data: bytes, start: int) -> int:
    end = data.find(b"\n", start)

    return len(data) if end < 0 else end


def decode_body(body: bytes, encoding: str | None) -> bytes:
    """Undo a request's ``Content-Encoding``: gzip, deflate, br or none.

    Raises:
        UnsupportedEncodingError: the encoding is another, or br without the
            ``brotli`` module.
    """
    name = (encoding or "identity").strip().lower()
    if name == "identity":
        return body
    if name in {"gzip", "x-gzip"}:
        return gzip.decompress(body)
    if name == "deflate":
        try:
            return zlib.decompress(body)
        except zlib.error:
            # Some clients send raw deflate data without the zlib wrapper.
            return zlib.decompress(body, -zlib.MAX_WBITS)
    if name == "br":
        try:
            import brotli  # type: ignore[import-not-found]  # noqa: PLC0415
        except ImportError:
            raise UnsupportedEncodingError("br needs the brotli module") from None
        return brotli.decompress(body)  # type: ignore[no-any-return]
    raise UnsupportedEncodingError(f"cannot read a body encoded as {encoding!r}")


class SentryIngest:
    """An HTTP server on 127.0.0.1 that records the envelopes sent to it.

    Args:
        answers: answer each envelope as Sentry does; False holds every
            request open without an answer until the ingest stops.
        project: the project ID in the DSN.
    """

    def __init__(self, *, answers: bool = True, project: str = "1") -> None:
        self.answers = answers
        self.project = project
        self.requests = 0
        self._envelopes: list[Envelope] = []
        self._lock = threading.Lock()
        self._released = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="sentry-ingest", daemon=True
        )

    @property
    def port(self) -> int:
        port: int = self._server.server_address[1]
        return port

    @property
    def dsn(self) -> str:
        return f"http://public@127.0.0.1:{self.port}/{self.project}"

    def start(self) -> SentryIngest:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; requests held open get their connections closed."""
        self._released.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def __enter__(self) -> SentryIngest:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def envelopes(self) -> list[Envelope]:
        """Every envelope received so far, oldest first."""
        with self._lock:
            return list(self._envelopes)

    def items(self, kind: str) -> list[Item]:
        """Every item of a type (``event``, ``client_report``, ...) received."""
        return [i for e in self.envelopes() for i in e.items if i.type == kind]

    def events(self) -> list[dict[str, Any]]:
        """The error and message events received, parsed."""
        return [item.json() for item in self.items("event")]

    def _record(self, envelope: Envelope) -> None:
        with self._lock:
            self.requests += 1
            self._envelopes.append(envelope)

    def _hold(self) -> None:
        self._released.wait()


def _handler_for(ingest: SentryIngest) -> type[BaseHTTPRequestHandler]:
    class Handler(JsonHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            match = _ENVELOPE_PATH.match(self.path.split("?", 1)[0])
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if match is None:
                self.answer(404, {"detail": "not an envelope endpoint"})
                return
            try:
                data = decode_body(body, self.headers.get("Content-Encoding"))
                envelope = parse_envelope(data)
            except UnsupportedEncodingError as exc:
                self.answer(415, {"detail": str(exc)})
                return
            except ValueError as exc:
                self.answer(400, {"detail": f"not an envelope: {exc}"})
                return
            envelope = Envelope(envelope.headers, envelope.items, match["project"])
            ingest._record(envelope)
            if not ingest.answers:
                ingest._hold()
                self.close_connection = True
                return
            self.answer(200, {"id": envelope.headers.get("event_id")})

    return Handler


def dead_dsn(project: str = "1") -> str:
    """Return a DSN whose port nobody listens on: every send is refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    return f"http://public@127.0.0.1:{port}/{project}"
