"""An OTLP/HTTP trace receiver on loopback: what a collector would have seen.

    with otlp_receiver() as receiver:
        ...  # a server exporting to receiver.url
        spans = receiver.wait_for(lambda spans: len(spans) >= 3)

``otlp_receiver(answer=False)`` takes requests and never answers them, as a
stalled collector does.
"""

from __future__ import annotations

import gzip
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

PROTOBUF = "application/x-protobuf"


@dataclass(frozen=True)
class ReceivedSpan:
    """One span as the receiver decoded it, IDs in lower-case hex."""

    name: str
    kind: str
    trace_id: str
    span_id: str
    parent_span_id: str | None
    attributes: dict[str, Any]
    resource: dict[str, Any]
    status: str


class Receiver:
    """What an ``otlp_receiver`` has received so far."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.posts = 0
        self.released = threading.Event()
        self._spans: list[ReceivedSpan] = []
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def spans(self) -> list[ReceivedSpan]:
        with self._lock:
            return list(self._spans)

    def wait_for(
        self, predicate: Callable[[list[ReceivedSpan]], bool], timeout: float = 20
    ) -> list[ReceivedSpan]:
        """Wait until the spans satisfy ``predicate``, or ``timeout`` passes;
        return the spans either way."""
        deadline = time.monotonic() + timeout
        while True:
            spans = self.spans()
            if predicate(spans) or time.monotonic() > deadline:
                return spans
            time.sleep(0.05)

    def record(self, request: ExportTraceServiceRequest) -> None:
        received = [
            _span(span, resource)
            for resource_spans in request.resource_spans
            for resource in [_attributes(resource_spans.resource.attributes)]
            for scope_spans in resource_spans.scope_spans
            for span in scope_spans.spans
        ]
        with self._lock:
            self.posts += 1
            self._spans.extend(received)


@contextmanager
def otlp_receiver(*, answer: bool = True) -> Iterator[Receiver]:
    """Serve ``POST /v1/traces`` on a free loopback port until the block ends.

    Args:
        answer: False to hold every request open, unanswered, until the block
            ends.
    """
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    receiver = Receiver(server.server_address[1])
    server.receiver = receiver  # type: ignore[attr-defined]
    server.answer = answer  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.released.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        receiver: Receiver = self.server.receiver  # type: ignore[attr-defined]
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if not self.server.answer:  # type: ignore[attr-defined]
            receiver.released.wait()
            self.close_connection = True
            return
        if self.path != "/v1/traces" or self.headers.get("Content-Type") != PROTOBUF:
            self._answer(404, b"")
            return
        request = ExportTraceServiceRequest()
        request.ParseFromString(_decoded(body, self.headers.get("Content-Encoding")))
        receiver.record(request)
        self._answer(200, ExportTraceServiceResponse().SerializeToString())

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", PROTOBUF)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Keep the test output free of one line per export."""


def _decoded(body: bytes, encoding: str | None) -> bytes:
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "deflate":
        return zlib.decompress(body)

    return body


def _span(span: Span, resource: dict[str, Any]) -> ReceivedSpan:
    return ReceivedSpan(
        name=span.name,
        kind=Span.SpanKind.Name(span.kind).removeprefix("SPAN_KIND_"),
        trace_id=span.trace_id.hex(),
        span_id=span.span_id.hex(),
        parent_span_id=span.parent_span_id.hex() or None,
        attributes=_attributes(span.attributes),
        resource=resource,
        status=Status.StatusCode.Name(span.status.code).removeprefix("STATUS_CODE_"),
    )


def _attributes(pairs: Any) -> dict[str, Any]:
    return {
        pair.key: _value(pair.value) for pair in pairs if isinstance(pair, KeyValue)
    }


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_value(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return _attributes(value.kvlist_value.values)

    return getattr(value, kind) if kind else None
