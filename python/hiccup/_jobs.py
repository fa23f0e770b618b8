"""Queued work in the trace of the request that queued it.

    await queue.put(hiccup.inject_trace({"draft_id": draft_id}))

    # in the worker
    job = await queue.get()
    with hiccup.continue_trace(job, "draft.summarize"):
        log.info("draft.summarized")   # the request's trace_id and request_id

The payload carries the propagation fields (``traceparent``, ``tracestate``,
``baggage``) and the request ID under one key, as plain strings, so that it
survives any queue that stores JSON.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Final

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import Span, SpanKind, StatusCode
from opentelemetry.util.types import AttributeValue

from ._context import current, request_scope
from ._ids import REQUEST_ID_PATTERN

__all__ = ["TRACE_KEY", "continue_trace", "inject_trace"]

#: The payload key that ``inject_trace`` adds and ``continue_trace`` reads.
TRACE_KEY: Final = "hiccup"
_REQUEST_ID = re.compile(REQUEST_ID_PATTERN)


def inject_trace(
    payload: Mapping[str, object], *, key: str = TRACE_KEY
) -> dict[str, object]:
    """Return a copy of a job's payload that carries the current trace.

    The copy gets, under ``key``, the current span's context as the global
    propagator writes it and the ID of the request being served; the payload
    passed in is left as it was.
    """
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    context = current()
    if context is not None:
        carrier["request_id"] = context.request_id

    return {**payload, key: carrier}


@contextmanager
def continue_trace(
    payload: Mapping[str, object],
    name: str = "job",
    *,
    key: str = TRACE_KEY,
    attributes: Mapping[str, AttributeValue] | None = None,
    tracer_provider: trace.TracerProvider | None = None,
) -> Iterator[Span]:
    """Run a block as a consumer span in the trace a payload carries.

    The span's parent is the span that was current when ``inject_trace``
    made the payload; a payload without one continues the worker's current
    trace, if it has one, or starts a trace of its own.
    Inside the block, log lines carry the trace and span IDs and the
    queuing request's ``request_id``. An exception marks the span failed,
    with ``error.type``, and is raised on.

    Args:
        payload: What ``inject_trace`` returned, after its trip through the
            queue.
        name: The span's name, such as ``"draft.summarize"``.
        key: Where ``inject_trace`` put the trace.
        attributes: Attributes for the span.
        tracer_provider: Trace with this instead of the global provider.
    """
    carrier = _carrier(payload.get(key))
    parent = propagate.extract(carrier, context=otel_context.get_current())
    provider = tracer_provider or trace.get_tracer_provider()
    span = provider.get_tracer("hiccup").start_span(
        name, context=parent, kind=SpanKind.CONSUMER, attributes=attributes
    )
    ids = span.get_span_context()
    request_id = carrier.get("request_id", "")
    token = otel_context.attach(trace.set_span_in_context(span, parent))
    try:
        with request_scope(
            request_id if _REQUEST_ID.fullmatch(request_id) else None,
            trace_id=format(ids.trace_id, "032x") if ids.is_valid else None,
            span_id=format(ids.span_id, "016x") if ids.is_valid else None,
        ):
            yield span
    except Exception as exc:
        span.set_attribute("error.type", type(exc).__qualname__)
        span.set_status(StatusCode.ERROR)
        raise
    finally:
        otel_context.detach(token)
        span.end()


def _carrier(value: object) -> dict[str, str]:
    """Return the string entries of what a payload carries under its key."""
    if not isinstance(value, Mapping):
        return {}

    return {k: v for k, v in value.items() if isinstance(k, str) and isinstance(v, str)}
