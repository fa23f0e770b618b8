"""Read the IDs of the request being served and bind fields to its logs.

    from hiccup import context

    context.bind(user_id=user.id, tenant=tenant.slug)
    log.info("draft.saved")          # carries request_id, user_id, tenant

    left = context.time_left()       # seconds the caller still waits, or None

Everything here works in async endpoints, threadpool endpoints and
background tasks alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from ._context import RequestContext, current, request_scope, time_left
from ._exceptions import HiccupError

__all__ = [
    "NoRequestError",
    "RequestContext",
    "bind",
    "current",
    "fields",
    "request_id",
    "request_scope",
    "time_left",
    "trace_id",
    "unbind",
]


class NoRequestError(HiccupError, LookupError):
    """Raised when fields are bound outside any request or ``request_scope``."""


def request_id() -> str | None:
    """Return the ID of the request being served, or None outside one."""
    context = current()

    return context.request_id if context else None


def trace_id() -> str | None:
    """Return the trace ID of the request being served, if it has one."""
    context = current()

    return context.trace_id if context else None


def bind(**values: object) -> None:
    """Add fields to every later log line of the request being served.

    Raises:
        NoRequestError: there is no request; wrap jobs in ``request_scope``.
    """
    context = current()
    if context is None:
        raise NoRequestError(
            "hiccup.context.bind() was called outside a request; wrap the work "
            "in hiccup.context.request_scope() to give it one"
        )
    if context.fields is None:
        context.fields = {}
    context.fields.update(values)


def unbind(*names: str) -> None:
    """Remove bound fields; names that are not bound are ignored."""
    context = current()
    if context is not None and context.fields is not None:
        for name in names:
            context.fields.pop(name, None)


def fields() -> Mapping[str, object]:
    """Return a read-only view of the fields bound to the current request."""
    context = current()

    return MappingProxyType((context.fields if context else None) or {})
