"""The request context: IDs and bound fields, visible to the whole request.

One ``ContextVar`` holds a ``RequestContext`` for the request being served.
The middleware sets it first and resets it last, so threadpool endpoints,
background tasks and every log line of the request see the same object.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from ._ids import new_request_id

__all__ = ["RequestContext", "current", "request_scope", "time_left"]


class RequestContext:
    """What hiccup knows about the request being served.

    ``fields`` stays None until something is bound: most requests bind
    nothing, and this object is made for every one of them. ``deadline`` is
    the ``time.monotonic()`` instant at which the caller stops waiting, when
    it said (``X-Request-Deadline-Ms``).
    """

    __slots__ = (
        "client_request_id",
        "deadline",
        "fields",
        "request_id",
        "span_id",
        "trace_id",
    )

    def __init__(
        self,
        request_id: str,
        client_request_id: str | None = None,
        trace_id: str | None = None,
        span_id: str | None = None,
        fields: dict[str, object] | None = None,
    ) -> None:
        self.request_id = request_id
        self.client_request_id = client_request_id
        self.trace_id = trace_id
        self.span_id = span_id
        self.fields = fields
        self.deadline: float | None = None

    def __repr__(self) -> str:
        return f"RequestContext(request_id={self.request_id!r})"


_current: ContextVar[RequestContext | None] = ContextVar(
    "hiccup_request_context", default=None
)


def current() -> RequestContext | None:
    """Return the context of the request being served, if any."""
    return _current.get()


def time_left() -> float | None:
    """Return the seconds until the caller stops waiting for the request
    being served, below 0 once it has; None when it gave no deadline."""
    context = _current.get()
    deadline = None if context is None else context.deadline
    if deadline is None:
        return None

    return deadline - time.monotonic()


@contextmanager
def request_scope(
    request_id: str | None = None,
    *,
    client_request_id: str | None = None,
    trace_id: str | None = None,
    span_id: str | None = None,
    **fields: object,
) -> Iterator[RequestContext]:
    """Run a block as if it served a request with these IDs.

    The middleware uses this for every request; queued jobs and scripts use
    it to log with the IDs of the request that started them.
    """
    context = RequestContext(
        request_id or new_request_id(),
        client_request_id,
        trace_id,
        span_id,
        dict(fields) or None,
    )
    token = _current.set(context)
    try:
        yield context
    finally:
        _current.reset(token)
