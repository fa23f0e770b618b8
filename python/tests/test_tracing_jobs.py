from __future__ import annotations

import asyncio

import pytest
from fastapi import FastAPI
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)
from opentelemetry.trace import SpanKind, StatusCode
from starlette.types import ASGIApp
from support import LogCapture, call

import hiccup
from hiccup._jobs import TRACE_KEY, continue_trace, inject_trace
from hiccup._middleware import HiccupMiddleware
from hiccup._tracing import TracingObserver

SETTINGS = hiccup.Settings(service_name="tests")
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"


def hex_ids(span: ReadableSpan) -> tuple[str, str]:
    context = span.get_span_context()
    assert context is not None
    return format(context.trace_id, "032x"), format(context.span_id, "016x")


def test_a_queued_job_runs_in_the_trace_of_the_request_that_queued_it(
    provider: TracerProvider, spans: InMemorySpanExporter, logs: LogCapture
) -> None:
    """The worked example: a route queues a job, a worker task that was
    running before the request ran it, and the job's span and log lines are
    in the request's trace."""
    queue: asyncio.Queue[dict[str, object]] = asyncio.Queue()
    app = FastAPI()
    log = hiccup.get_logger("tests.worker")

    @app.post("/drafts/{draft_id}/summary")
    async def summarize(draft_id: int) -> dict[str, bool]:
        await queue.put(inject_trace({"draft_id": draft_id}))
        return {"queued": True}

    async def worker() -> None:
        job = await queue.get()
        with continue_trace(job, "draft.summarize", tracer_provider=provider):
            log.info("draft.summarized", draft_id=job["draft_id"])

    stack: ASGIApp = HiccupMiddleware(
        app, SETTINGS, observers=[TracingObserver(SETTINGS, provider)]
    )

    async def scenario() -> None:
        running = asyncio.create_task(worker())
        await call(
            stack, "POST", "/drafts/7/summary", headers=[(b"x-request-id", b"req-7")]
        )
        await running

    asyncio.run(scenario())

    server, job = sorted(spans.get_finished_spans(), key=lambda s: s.kind.value)
    assert (server.kind, job.kind) == (SpanKind.SERVER, SpanKind.CONSUMER)
    assert job.name == "draft.summarize"
    assert job.parent is not None
    assert hex_ids(job)[0] == hex_ids(server)[0]
    assert format(job.parent.span_id, "016x") == hex_ids(server)[1]
    [line] = logs.events("draft.summarized")
    assert (line["trace_id"], line["span_id"]) == hex_ids(job)
    assert (line["request_id"], line["draft_id"]) == ("req-7", 7)


def test_inject_trace_leaves_the_payload_it_was_given_alone(
    provider: TracerProvider,
) -> None:
    payload = {"draft_id": 1}

    with provider.get_tracer("tests").start_as_current_span("enqueue"):
        carried = inject_trace(payload)

    assert payload == {"draft_id": 1}
    assert carried["draft_id"] == 1
    carrier = carried[TRACE_KEY]
    assert isinstance(carrier, dict)
    assert carrier["traceparent"].startswith("00-")


def test_inject_trace_carries_the_request_id(provider: TracerProvider) -> None:
    with hiccup.context.request_scope("req-9"):
        carried = inject_trace({})

    assert carried[TRACE_KEY] == {"request_id": "req-9"}


def test_a_payload_without_a_trace_starts_one_of_its_own(
    provider: TracerProvider, spans: InMemorySpanExporter
) -> None:
    with continue_trace({"draft_id": 1}, tracer_provider=provider):
        pass

    [job] = spans.get_finished_spans()
    assert (job.name, job.kind, job.parent) == ("job", SpanKind.CONSUMER, None)


def test_a_carried_traceparent_is_the_parent_of_the_job(
    provider: TracerProvider, spans: InMemorySpanExporter
) -> None:
    payload = {TRACE_KEY: {"traceparent": f"00-{TRACE}-{PARENT}-01"}}

    with continue_trace(payload, tracer_provider=provider):
        pass

    [job] = spans.get_finished_spans()
    assert job.parent is not None
    assert (hex_ids(job)[0], format(job.parent.span_id, "016x")) == (TRACE, PARENT)


def test_a_malformed_request_id_is_not_carried_into_the_logs(
    provider: TracerProvider, logs: LogCapture
) -> None:
    payload = {TRACE_KEY: {"request_id": "evil\r\ninjected: yes"}}

    with continue_trace(payload, tracer_provider=provider):
        hiccup.get_logger("tests.worker").info("job.ran")

    [line] = logs.events("job.ran")
    assert "\n" not in line["request_id"]
    assert line["request_id"] != payload[TRACE_KEY]["request_id"]


def test_a_failing_job_marks_its_span_and_raises_on(
    provider: TracerProvider, spans: InMemorySpanExporter
) -> None:
    with (
        pytest.raises(KeyError),
        continue_trace({}, "draft.summarize", tracer_provider=provider),
    ):
        raise KeyError("draft")

    [job] = spans.get_finished_spans()
    assert job.status.status_code is StatusCode.ERROR
    assert (job.attributes or {})["error.type"] == "KeyError"
    assert not job.events, "exception messages stay out of spans"
