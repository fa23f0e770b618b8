"""The request context: IDs and bound fields, visible to the whole request.

One ``ContextVar`` holds a ``RequestContext`` for the request being served.
The middleware sets it first and resets it last, so threadpool endpoints,
background tasks and every log line of the request see the same object.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from ._ids import new_request_id

__all__ = ["RequestContext", "current", "request_scope"]


class RequestContext:
    """What hiccup knows about the request being served.

    ``fields`` stays None until something is bound: most requests bind
    nothing, and this object is made for every one of them.
    """

    __slots__ = ("client_request_id", "fields", "request_id", "span_id", "trace_id")

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

    def __repr__(self) -> str:
        return f"RequestContext(request_id={self.request_id!r})"


_current: ContextVar[RequestContext | None] = ContextVar(
    "hiccup_request_context", default=None
)


def current() -> RequestContext | None:
    """Return the context of the request being served, if any."""
    return _current.get()


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
