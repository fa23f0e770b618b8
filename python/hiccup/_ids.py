"""Request IDs and W3C trace context, read from raw ASGI header bytes."""

from __future__ import annotations

import re

from uuid_utils import uuid7

__all__ = [
    "REQUEST_ID_PATTERN",
    "accept_request_id",
    "new_request_id",
    "parse_traceparent",
    "sanitize",
]

#: What an incoming request ID must look like to be kept: UUIDs, ULIDs, nginx's
#: hex IDs and most vendors' fit; nothing that could break a header or a log.
REQUEST_ID_PATTERN = r"[A-Za-z0-9._:-]{1,128}"

_REQUEST_ID = re.compile(REQUEST_ID_PATTERN.encode())
_UNPRINTABLE = re.compile(rb"[^\x21-\x7e]+")
_TRACEPARENT = re.compile(
    rb"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(?:-[\x20-\x7e]*)?"
)
_SANITIZED_LENGTH = 64


def new_request_id() -> str:
    """Return a fresh request ID: a UUIDv7, so IDs sort by creation time."""
    return str(uuid7())


def sanitize(raw: bytes) -> str | None:
    """Return a loggable copy of a rejected ID: printable ASCII, 64 at most.

    Returns:
        The cleaned value, or None when nothing printable is left.
    """
    cleaned = _UNPRINTABLE.sub(b"", raw[: _SANITIZED_LENGTH * 4])[:_SANITIZED_LENGTH]

    return cleaned.decode("ascii") or None


def accept_request_id(values: list[bytes], *, trust: bool) -> tuple[str, str | None]:
    """Decide the request ID from the incoming header values.

    One well-formed value is kept when ``trust`` is on. Anything else (a
    malformed value, or several different ones) gets a fresh ID, and a
    sanitized copy of what arrived is returned beside it.

    Returns:
        ``(request_id, client_request_id)``; the second is None when the
        incoming value was kept or there was none.
    """
    if not values:
        return new_request_id(), None
    first = values[0]
    if trust and _REQUEST_ID.fullmatch(first) and all(v == first for v in values[1:]):
        return first.decode("ascii"), None

    return new_request_id(), sanitize(first)


def parse_traceparent(raw: bytes) -> tuple[str, str] | None:
    """Return ``(trace_id, parent_span_id)`` from a W3C traceparent header.

    Returns:
        None for anything that is not a valid version-00-compatible header:
        wrong shape, version ``ff``, or an all-zero trace or span ID.
    """
    found = _TRACEPARENT.fullmatch(raw.strip())
    if found is None:
        return None
    version, trace_id, span_id, _ = found.groups()
    if version == b"ff" or trace_id == b"0" * 32 or span_id == b"0" * 16:
        return None
    if version == b"00" and found.end(4) != len(raw.strip()):
        return None

    return trace_id.decode(), span_id.decode()
