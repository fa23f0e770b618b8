"""Where finished spans go: a bounded OTLP queue that counts what it drops, or
an in-memory ring of recent traces for the local console."""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Sequence
from typing import Literal, TypedDict

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.trace import StatusCode

from ._logging import get_logger

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_QUEUE_SIZE",
    "DEFAULT_RING_SIZE",
    "SHUTDOWN_SECONDS",
    "BoundedExport",
    "RecentSpan",
    "RecentTrace",
    "SpanRing",
]

#: Spans waiting for export at most, unless ``OTEL_BSP_MAX_QUEUE_SIZE`` says.
DEFAULT_QUEUE_SIZE = 2048
#: Spans sent to the collector in one request at most, unless
#: ``OTEL_BSP_MAX_EXPORT_BATCH_SIZE`` says.
DEFAULT_BATCH_SIZE = 512
#: How long an exiting process goes on exporting the spans still waiting.
SHUTDOWN_SECONDS = 3.0
#: Finished spans the in-memory ring keeps.
DEFAULT_RING_SIZE = 2000


class BoundedExport(SpanProcessor):
    """Hand finished spans to a ``BatchSpanProcessor``, never more than its
    queue holds, and count every span that does not reach the collector.

    A span is dropped, and counted, when the spans already waiting or being
    exported fill the queue, and when the export of its batch fails (a
    collector that is down, slow or refusing). The batch processor would drop
    the first kind silently; counting here, before it, is what lets
    ``dropped`` be exact.
    """

    def __init__(
        self,
        exporter: SpanExporter,
        *,
        max_queue_size: int | None = None,
        on_dropped: Callable[[int], None] | None = None,
    ) -> None:
        self.max_queue_size = max_queue_size or _from_env(
            "OTEL_BSP_MAX_QUEUE_SIZE", DEFAULT_QUEUE_SIZE
        )
        self.dropped = 0
        self._on_dropped = on_dropped
        self._pending = 0
        self._full = False
        self._lock = threading.Lock()
        self._log = get_logger("hiccup.tracing")
        self._exports = _Counted(exporter, self)
        batch = _from_env("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", DEFAULT_BATCH_SIZE)
        self._batches = BatchSpanProcessor(
            self._exports,
            max_queue_size=self.max_queue_size,
            max_export_batch_size=min(batch, self.max_queue_size),
        )
        # The batch processor empties its queue in a forked child; so must
        # the count of what waits in it. A weak reference, so that the hook
        # does not keep a processor alive once its provider is gone.
        forget = weakref.WeakMethod(self._forget_pending)
        os.register_at_fork(after_in_child=lambda: _call(forget))

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        self._batches.on_start(span, parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        with self._lock:
            admitted = self._pending < self.max_queue_size
            if admitted:
                self._pending += 1
            starts_dropping = not admitted and not self._full
            self._full = not admitted
        if admitted:
            self._batches.on_end(span)
            return
        if starts_dropping:
            self._log.warning("tracing.queue_full", max_queue_size=self.max_queue_size)
        self.count_dropped(1)

    def count_dropped(self, spans: int) -> None:
        """Add spans to the dropped count and tell ``on_dropped``."""
        with self._lock:
            self.dropped += spans
        if self._on_dropped is not None:
            self._on_dropped(spans)

    def exported(self, spans: int, *, success: bool) -> None:
        """Note that an export of ``spans`` ended, well or not."""
        with self._lock:
            self._pending -= spans
        if not success:
            self.count_dropped(spans)

    def shutdown(self) -> None:
        """Export what waits, for ``SHUTDOWN_SECONDS`` at most, then stop.

        The batch processor would try every waiting batch in turn, each for
        the export timeout, which against a collector that never answers
        holds the exiting process for much longer than a server's grace
        period. Batches still waiting past the deadline are dropped.
        """
        self._exports.deadline = time.monotonic() + SHUTDOWN_SECONDS
        self._batches.shutdown()  # type: ignore[no-untyped-call]  # unannotated in the SDK

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._batches.force_flush(timeout_millis)

    def _forget_pending(self) -> None:
        self._lock = threading.Lock()
        self._pending = 0
        self._full = False


class _Counted(SpanExporter):
    """An exporter that reports the end of each export to ``BoundedExport``."""

    def __init__(self, exporter: SpanExporter, owner: BoundedExport) -> None:
        self._exporter = exporter
        self._owner = owner
        #: ``time.monotonic()`` past which batches are dropped unsent.
        self.deadline: float | None = None

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        result = SpanExportResult.FAILURE
        try:
            if self.deadline is None or time.monotonic() < self.deadline:
                result = self._exporter.export(spans)
        finally:
            self._owner.exported(len(spans), success=result is SpanExportResult.SUCCESS)

        return result

    def shutdown(self) -> None:
        self._exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._exporter.force_flush(timeout_millis)


def _call(method: weakref.WeakMethod[Callable[[], None]]) -> None:
    bound = method()
    if bound is not None:
        bound()


def _from_env(name: str, default: int) -> int:
    """Return an environment variable's positive integer, else ``default``."""
    try:
        value = int(os.environ.get(name, ""))
    except ValueError:
        return default

    return value if value > 0 else default


class RecentSpan(TypedDict):
    """A finished span as the in-memory ring shows it."""

    name: str
    kind: str
    span_id: str
    parent_span_id: str | None
    start_time_unix_nano: int
    duration_ms: float
    status: Literal["ok", "error"]
    attributes: dict[str, object]


class RecentTrace(TypedDict):
    """The spans of one trace the ring still holds, in the order they ended."""

    trace_id: str
    spans: list[RecentSpan]


class SpanRing(SpanProcessor):
    """Keep the last ``size`` finished spans in memory, to show recent traces
    where there is no collector to send them to."""

    def __init__(self, size: int = DEFAULT_RING_SIZE) -> None:
        self._spans: deque[ReadableSpan] = deque(maxlen=size)

    def on_end(self, span: ReadableSpan) -> None:
        # A deque appends atomically: no lock on the request's path.
        self._spans.append(span)

    def traces(self, limit: int = 50) -> list[RecentTrace]:
        """Return the most recent traces, newest first.

        Args:
            limit: How many traces to return at most.
        """
        grouped: dict[str, list[RecentSpan]] = {}
        for span in reversed(self._spans.copy()):
            context = span.get_span_context()
            if context is None:
                continue
            trace_id = format(context.trace_id, "032x")
            if trace_id not in grouped:
                if len(grouped) == limit:
                    continue
                grouped[trace_id] = []
            grouped[trace_id].append(_describe(span))

        return [
            {"trace_id": trace_id, "spans": spans[::-1]}
            for trace_id, spans in grouped.items()
        ]

    def clear(self) -> None:
        """Forget every span kept so far."""
        self._spans.clear()


def _describe(span: ReadableSpan) -> RecentSpan:
    context = span.get_span_context()
    parent = span.parent
    start, end = span.start_time or 0, span.end_time or 0

    return {
        "name": span.name,
        "kind": span.kind.name,
        "span_id": format(context.span_id, "016x") if context else "",
        "parent_span_id": format(parent.span_id, "016x") if parent else None,
        "start_time_unix_nano": start,
        "duration_ms": round((end - start) / 1e6, 3),
        "status": "error" if span.status.status_code is StatusCode.ERROR else "ok",
        "attributes": dict(span.attributes or {}),
    }
