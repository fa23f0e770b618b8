from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from hiccup import Code, Problem
from hiccup import _model as model
from hiccup._metrics import Metrics, use_metrics
from hiccup._model import ModelCall, current_model_call, model_call

LABELS = {
    "gen_ai_provider_name": "openai",
    "gen_ai_request_model": "gpt-4o",
    "gen_ai_operation_name": "chat",
}


@pytest.fixture
def metrics() -> Metrics:
    return Metrics()


@pytest.fixture
def spans(monkeypatch: pytest.MonkeyPatch) -> InMemorySpanExporter:
    """Record hiccup's model spans in memory, without touching the global SDK."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(model, "_tracer", provider.get_tracer("hiccup"))

    return exporter


def call(metrics: Metrics) -> ModelCall:
    return model_call("openai", "gpt-4o", "chat", metrics=metrics)


def calls(metrics: Metrics, error_type: str = "") -> float | None:
    return metrics.registry.get_sample_value(
        "gen_ai_client_operation_duration_seconds_count",
        {**LABELS, "error_type": error_type},
    )


def first_chunks(metrics: Metrics) -> float | None:
    return metrics.registry.get_sample_value(
        "gen_ai_client_operation_time_to_first_chunk_seconds_count", LABELS
    )


def tokens(metrics: Metrics, kind: str, sample: str = "sum") -> float | None:
    return metrics.registry.get_sample_value(
        f"gen_ai_client_token_usage_{sample}", {**LABELS, "gen_ai_token_type": kind}
    )


def only(spans: InMemorySpanExporter) -> ReadableSpan:
    [span] = spans.get_finished_spans()

    return span


def test_a_call_is_timed_and_spanned(
    metrics: Metrics, spans: InMemorySpanExporter
) -> None:
    with call(metrics):
        pass

    assert calls(metrics) == 1
    span = only(spans)
    assert span.name == "chat gpt-4o"
    assert span.kind is SpanKind.CLIENT
    assert dict(span.attributes or {}) == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o",
    }
    assert span.status.status_code is StatusCode.UNSET


def test_an_async_call_is_timed(metrics: Metrics, spans: InMemorySpanExporter) -> None:
    async def ask() -> None:
        async with call(metrics):
            await asyncio.sleep(0)

    asyncio.run(ask())

    assert calls(metrics) == 1
    assert only(spans).name == "chat gpt-4o"


def test_a_call_without_chunks_has_no_time_to_first_chunk(metrics: Metrics) -> None:
    with call(metrics):
        pass

    assert first_chunks(metrics) is None


def test_only_the_first_chunk_is_timed(metrics: Metrics) -> None:
    with call(metrics) as running:
        for _ in range(3):
            running.first_chunk()

    assert first_chunks(metrics) == 1
    assert calls(metrics) == 1


def test_tokens_add_up_and_are_recorded_once(
    metrics: Metrics, spans: InMemorySpanExporter
) -> None:
    with call(metrics) as running:
        running.tokens(input=120)
        running.tokens(output=30)
        running.tokens(output=12)

    assert tokens(metrics, "input") == 120
    assert tokens(metrics, "output") == 42
    assert tokens(metrics, "output", "count") == 1
    attributes = only(spans).attributes or {}
    assert (
        attributes["gen_ai.usage.input_tokens"],
        attributes["gen_ai.usage.output_tokens"],
    ) == (120, 42)


def test_a_call_that_raises_is_counted_by_exception_type(
    metrics: Metrics, spans: InMemorySpanExporter
) -> None:
    with pytest.raises(TimeoutError), call(metrics):
        raise TimeoutError

    assert calls(metrics, "TimeoutError") == 1
    assert calls(metrics) is None
    span = only(spans)
    assert span.status.status_code is StatusCode.ERROR
    assert (span.attributes or {})["error.type"] == "TimeoutError"
    assert [event.name for event in span.events] == ["exception"]


def test_a_problem_is_counted_by_its_code(metrics: Metrics) -> None:
    with pytest.raises(Problem), call(metrics):
        raise Problem(Code.MODEL_OVERLOADED)

    assert calls(metrics, "MODEL_OVERLOADED") == 1


def test_a_call_can_fail_without_an_exception(
    metrics: Metrics, spans: InMemorySpanExporter
) -> None:
    with call(metrics) as running:
        running.fail("content_filter")

    assert calls(metrics, "content_filter") == 1
    assert only(spans).status.status_code is StatusCode.ERROR


def test_a_decorated_function_is_timed_on_every_call(metrics: Metrics) -> None:
    @call(metrics)
    def complete(prompt: str) -> str:
        running = current_model_call()
        assert running is not None
        running.tokens(input=len(prompt))
        return prompt.upper()

    assert [complete("hi"), complete("there")] == ["HI", "THERE"]

    assert calls(metrics) == 2
    assert tokens(metrics, "input") == 7
    assert current_model_call() is None


def test_a_decorated_coroutine_is_timed(metrics: Metrics) -> None:
    @call(metrics)
    async def complete(prompt: str) -> str:
        await asyncio.sleep(0)
        return prompt.upper()

    assert asyncio.run(complete("hi")) == "HI"

    assert calls(metrics) == 1


def test_a_decorated_generator_is_a_stream(
    metrics: Metrics, spans: InMemorySpanExporter
) -> None:
    @call(metrics)
    def stream() -> Iterator[str]:
        running = current_model_call()
        assert running is not None
        yield "one"
        running.tokens(output=2)
        yield "two"

    items = stream()

    assert calls(metrics) is None
    assert next(items) == "one"
    assert current_model_call() is None
    assert list(items) == ["two"]
    assert (calls(metrics), first_chunks(metrics), tokens(metrics, "output")) == (
        1,
        1,
        2,
    )
    assert only(spans).name == "chat gpt-4o"


def test_a_decorated_async_generator_is_a_stream(metrics: Metrics) -> None:
    @call(metrics)
    async def stream() -> AsyncIterator[str]:
        for part in ("one", "two"):
            await asyncio.sleep(0)
            yield part

    async def read() -> list[str]:
        return [part async for part in stream()]

    assert asyncio.run(read()) == ["one", "two"]

    assert (calls(metrics), first_chunks(metrics)) == (1, 1)


def test_a_stream_read_only_in_part_has_not_failed(metrics: Metrics) -> None:
    @call(metrics)
    def stream() -> Iterator[int]:
        yield from range(10)

    for part in stream():
        if part == 2:
            break

    assert calls(metrics) == 1


def test_a_stream_that_breaks_fails_with_its_exception(metrics: Metrics) -> None:
    @call(metrics)
    async def stream() -> AsyncIterator[str]:
        yield "one"
        raise ConnectionResetError

    async def read() -> list[str]:
        return [part async for part in stream()]

    with pytest.raises(ConnectionResetError):
        asyncio.run(read())

    assert calls(metrics, "ConnectionResetError") == 1
    assert first_chunks(metrics) == 1


def test_the_span_is_a_child_of_the_current_span(
    metrics: Metrics, spans: InMemorySpanExporter
) -> None:
    tracer = model._tracer

    with tracer.start_as_current_span("POST /drafts") as parent, call(metrics):
        pass

    model_span, parent_span = spans.get_finished_spans()
    assert model_span.parent is not None
    assert model_span.parent.span_id == parent.get_span_context().span_id
    assert parent_span.name == "POST /drafts"


def test_spans_started_inside_a_call_are_its_children(
    metrics: Metrics, spans: InMemorySpanExporter
) -> None:
    with call(metrics), model._tracer.start_as_current_span("POST upstream"):
        pass

    inner, outer = spans.get_finished_spans()
    assert inner.parent is not None
    assert outer.context is not None
    assert inner.parent.span_id == outer.context.span_id


def test_calls_go_to_the_default_metrics_when_given_none(metrics: Metrics) -> None:
    previous = use_metrics(metrics)
    try:
        with model_call("anthropic", "claude-sonnet", "chat"):
            pass
    finally:
        use_metrics(previous)

    assert metrics.registry.get_sample_value(
        "gen_ai_client_operation_duration_seconds_count",
        {
            "gen_ai_provider_name": "anthropic",
            "gen_ai_request_model": "claude-sonnet",
            "gen_ai_operation_name": "chat",
            "error_type": "",
        },
    ) == pytest.approx(1)
