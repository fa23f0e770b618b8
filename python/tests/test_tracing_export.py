from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence

import pytest
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import Tracer
from support import LogCapture

from hiccup import _export
from hiccup._export import BoundedExport, SpanRing


class Exporter(SpanExporter):
    """Records what it is asked to export; answers ``result``, after
    ``release`` is set if ``hold`` is."""

    def __init__(
        self, result: SpanExportResult = SpanExportResult.SUCCESS, *, hold: bool = False
    ) -> None:
        self.result = result
        self.batches: list[int] = []
        self.release = threading.Event()
        if not hold:
            self.release.set()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.release.wait()
        self.batches.append(len(spans))
        return self.result

    def shutdown(self) -> None:
        self.release.set()


MakeTracer = Callable[[SpanProcessor], Tracer]


@pytest.fixture
def make_tracer() -> Iterator[MakeTracer]:
    """Return a factory of tracers whose spans go to one processor each."""
    providers: list[TracerProvider] = []

    def make(processor: SpanProcessor) -> Tracer:
        provider = TracerProvider(shutdown_on_exit=False)
        provider.add_span_processor(processor)
        providers.append(provider)
        return provider.get_tracer("tests")

    yield make
    for provider in providers:
        provider.shutdown()


def end_spans(tracer: Tracer, count: int, name: str = "work") -> None:
    for _ in range(count):
        tracer.start_span(name).end()


# BoundedExport


def test_spans_are_exported_in_batches(make_tracer: MakeTracer) -> None:
    exporter = Exporter()
    export = BoundedExport(exporter, max_queue_size=8)
    tracer = make_tracer(export)

    end_spans(tracer, 5)
    export.force_flush()

    assert sum(exporter.batches) == 5
    assert export.dropped == 0


def test_spans_past_a_full_queue_are_dropped_and_counted(
    make_tracer: MakeTracer, logs: LogCapture
) -> None:
    exporter = Exporter(hold=True)
    reported: list[int] = []
    export = BoundedExport(exporter, max_queue_size=4, on_dropped=reported.append)
    tracer = make_tracer(export)

    end_spans(tracer, 10)

    assert export.dropped == 6
    assert reported == [1] * 6
    [warning] = logs.events("tracing.queue_full")
    assert (warning["level"], warning["max_queue_size"]) == ("warning", 4)
    exporter.release.set()


def test_a_failed_export_counts_its_whole_batch(make_tracer: MakeTracer) -> None:
    exporter = Exporter(SpanExportResult.FAILURE)
    reported: list[int] = []
    export = BoundedExport(exporter, max_queue_size=8, on_dropped=reported.append)
    tracer = make_tracer(export)

    end_spans(tracer, 3)
    export.force_flush()

    assert export.dropped == 3
    assert sum(reported) == 3


def test_the_queue_takes_spans_again_once_a_batch_is_out(
    make_tracer: MakeTracer,
) -> None:
    exporter = Exporter()
    export = BoundedExport(exporter, max_queue_size=4)
    tracer = make_tracer(export)

    for _ in range(3):
        end_spans(tracer, 3)
        export.force_flush()

    assert (sum(exporter.batches), export.dropped) == (9, 0)


def test_an_exporter_that_raises_counts_its_batch(make_tracer: MakeTracer) -> None:
    class Raising(Exporter):
        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            raise ConnectionError("collector gone")

    export = BoundedExport(Raising(), max_queue_size=8)
    tracer = make_tracer(export)

    end_spans(tracer, 2)
    export.force_flush()

    assert export.dropped == 2


def test_shutdown_past_its_deadline_drops_what_still_waits(
    make_tracer: MakeTracer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_export, "SHUTDOWN_SECONDS", 0.0)
    exporter = Exporter()
    export = BoundedExport(exporter, max_queue_size=8)
    tracer = make_tracer(export)
    end_spans(tracer, 3)

    export.shutdown()

    assert exporter.batches == []
    assert export.dropped == 3


def test_the_batch_size_never_exceeds_the_queue(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OTEL_BSP_MAX_QUEUE_SIZE", "16")

    export = BoundedExport(Exporter())

    assert export.max_queue_size == 16
    export.shutdown()


# SpanRing


def test_the_ring_groups_spans_by_trace_newest_first(
    make_tracer: MakeTracer,
) -> None:
    ring = SpanRing()
    tracer = make_tracer(ring)
    for name in ("first", "second"):
        with tracer.start_as_current_span(f"{name}.root"):
            tracer.start_span(f"{name}.child").end()

    traces = ring.traces()

    assert [[span["name"] for span in t["spans"]] for t in traces] == [
        ["second.child", "second.root"],
        ["first.child", "first.root"],
    ]
    child, root = traces[0]["spans"]
    assert child["parent_span_id"] == root["span_id"]
    assert root["parent_span_id"] is None
    assert len(traces[0]["trace_id"]) == 32


def test_the_ring_returns_at_most_limit_traces(make_tracer: MakeTracer) -> None:
    ring = SpanRing()
    tracer = make_tracer(ring)
    for n in range(5):
        tracer.start_span(f"trace-{n}").end()

    names = [t["spans"][0]["name"] for t in ring.traces(limit=2)]

    assert names == ["trace-4", "trace-3"]


def test_the_ring_forgets_its_oldest_spans(make_tracer: MakeTracer) -> None:
    ring = SpanRing(size=3)
    tracer = make_tracer(ring)

    for n in range(5):
        tracer.start_span(f"trace-{n}").end()

    names = [t["spans"][0]["name"] for t in ring.traces()]
    assert names == ["trace-4", "trace-3", "trace-2"]
