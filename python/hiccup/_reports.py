"""The endpoint that takes the browser SDK's records and logs them with the server's.

The SDK's beacon reporter posts JSON arrays of log records, in the same
schema as the server's own lines. Each accepted record is redacted and
written through the same logging pipeline, with the frontend as its
service, so that one query and one dashboard see both sides.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

import orjson
from jsonschema import Draft202012Validator, FormatChecker
from opentelemetry import context as otel_context
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from ._codes import CONTRACT, Code
from ._context import _current
from ._logging import get_logger
from ._problem import FieldError, Problem
from ._schemas import load_schema

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_RECORDS",
    "ClientReports",
    "RateLimit",
    "event_kind",
]

#: The largest batch accepted, in bytes: what a browser lets a page queue
#: with ``sendBeacon``.
DEFAULT_MAX_BYTES = 64 * 1024
#: The most records one batch may hold.
DEFAULT_MAX_RECORDS = 200
#: Batches a client may send at once, and how many it earns back a second.
DEFAULT_BURST = 20
DEFAULT_PER_SECOND = 2.0
#: How many clients the rate limit remembers; the least recent is forgotten.
_MAX_CLIENTS = 10_000

#: The kind each SDK event is counted as.
_KINDS: Mapping[str, str] = {
    "http.client.failure": "error",
    "http.client.retry": "retry",
    "ui.failure_modal.shown": "modal_shown",
    "ui.failure_modal.recovered": "recovered",
}
_LEVELS = frozenset({"debug", "info", "warning", "error", "critical"})


def event_kind(event: str) -> str:
    """Return the kind an SDK event is counted as; ``other`` for any other name."""
    return _KINDS.get(event, "other")


class RateLimit:
    """A token bucket per client: ``burst`` batches at once, refilled over time.

    It remembers at most ``_MAX_CLIENTS`` clients, forgetting the one heard
    from least recently, so a flood of addresses cannot grow it without end.
    """

    __slots__ = ("_buckets", "_clock", "burst", "per_second")

    def __init__(
        self,
        burst: int = DEFAULT_BURST,
        per_second: float = DEFAULT_PER_SECOND,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if burst < 1 or per_second <= 0:
            raise ValueError(
                f"a rate limit needs burst >= 1 and per_second > 0, "
                f"not {burst!r} and {per_second!r}"
            )
        self.burst = burst
        self.per_second = per_second
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, client: str) -> float:
        """Take one batch's token for ``client``.

        Returns:
            0 when there was one, else the seconds until there is.
        """
        now = self._clock()
        tokens, then = self._buckets.pop(client, (float(self.burst), now))
        tokens = min(self.burst, tokens + (now - then) * self.per_second)
        wait = 0.0
        if tokens >= 1:
            tokens -= 1
        else:
            wait = (1 - tokens) / self.per_second
        self._buckets[client] = (tokens, now)
        if len(self._buckets) > _MAX_CLIENTS:
            self._buckets.popitem(last=False)

        return wait


class ClientReports:
    """Answer ``POST`` requests carrying a JSON array of SDK log records.

    Each record is checked against the log-record schema. The valid ones
    are redacted, logged and counted; the answer (200) says how many were
    accepted and why each other one was not. A batch with no valid record
    is a 422 whose field errors point at the first problem of each record.
    A body that is too big is a 413, one that is not a JSON array a 400, and
    a client sending faster than the rate limit a 429 with ``Retry-After``.

    Args:
        count: Called with the kind and the contract code of every accepted
            record, for the ``hiccup_client_events_total`` counter.
        max_bytes: The largest body accepted.
        max_records: The most records one batch may hold.
        rate: The per-client rate limit.
    """

    def __init__(
        self,
        *,
        count: Callable[[str, str], None] | None = None,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_records: int = DEFAULT_MAX_RECORDS,
        rate: RateLimit | None = None,
    ) -> None:
        self.count = count
        self.max_bytes = max_bytes
        self.max_records = max_records
        self.rate = rate or RateLimit()
        self.validator = Draft202012Validator(
            load_schema("log-record"), format_checker=FormatChecker()
        )
        self.log = get_logger("hiccup.client")

    async def __call__(self, request: Request) -> Response:
        """Take one batch."""
        client = request.client.host if request.client else "unknown"
        wait = self.rate.take(client)
        if wait:
            seconds = math.ceil(wait)
            raise Problem(
                Code.RATE_LIMITED,
                seconds=seconds,
                retry_after_ms=seconds * 1000,
                detail="This client sent more batches than the rate limit allows.",
            )
        records = _parse(await self._body(request), self.max_records)

        accepted = 0
        rejected: list[dict[str, object]] = []
        errors: list[FieldError] = []
        for index, record in enumerate(records):
            problem = self._problem_with(record)
            if problem is None and isinstance(record, dict):
                self._write(record)
                accepted += 1
            elif problem is not None:
                where, message = problem
                rejected.append({"index": index, "reason": message})
                errors.append(
                    FieldError(
                        Code.FIELD_INVALID_FORMAT,
                        pointer=f"/{index}{where}",
                        detail=message,
                    )
                )
        if not accepted and errors:
            raise Problem(
                Code.VALIDATION_FAILED,
                errors=errors[:20],
                detail=f"None of the {len(records)} records is a valid log record.",
            )

        return JSONResponse({"accepted": accepted, "rejected": rejected})

    async def _body(self, request: Request) -> bytes:
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise _too_large(self.max_bytes)
        chunks: list[bytes] = []
        size = 0
        try:
            async for chunk in request.stream():
                size += len(chunk)
                if size > self.max_bytes:
                    raise _too_large(self.max_bytes)
                chunks.append(chunk)
        except ClientDisconnect:
            # Nothing to answer: the page is gone, and so is its batch.
            raise Problem(Code.BAD_REQUEST, detail="The client went away.") from None

        return b"".join(chunks)

    def _problem_with(self, record: object) -> tuple[str, str] | None:
        """Return where a record breaks the schema and how, or None if it does not."""
        if not isinstance(record, dict):
            return "", f"a record must be a JSON object, not {type(record).__name__}"
        error = next(iter(self.validator.iter_errors(record)), None)
        if error is None:
            return None
        where = "".join(f"/{_escape(part)}" for part in error.absolute_path)

        return where, f"{where or '/'}: {error.message}"

    def _write(self, record: dict[str, Any]) -> None:
        # Underscored keys are structlog's own.
        fields = {k: v for k, v in record.items() if not k.startswith("_")}
        level = fields.pop("level")
        event = fields.pop("event")
        fields["log.source"] = "client"
        # Outside the request's context and span: the batch's own request ID
        # and trace are not the ones the records are about.
        token = _current.set(None)
        span_token = otel_context.attach(otel_context.Context())
        try:
            getattr(self.log, level if level in _LEVELS else "info")(event, **fields)
        finally:
            otel_context.detach(span_token)
            _current.reset(token)
        if self.count is not None:
            code = record.get("error.code")
            known = code if isinstance(code, str) and code in CONTRACT.codes else ""
            self.count(event_kind(event), known)


def _parse(body: bytes, max_records: int) -> list[object]:
    try:
        records = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise Problem(
            Code.MALFORMED_REQUEST, detail=f"The body is not JSON: {exc.msg}."
        ) from None
    if not isinstance(records, list):
        raise Problem(
            Code.BAD_REQUEST,
            detail=f"The body must be a JSON array of records, not a "
            f"{type(records).__name__}.",
        )
    if len(records) > max_records:
        raise Problem(
            Code.PAYLOAD_TOO_LARGE,
            detail=f"A batch holds at most {max_records} records, not {len(records)}.",
        )

    return records


def _too_large(limit: int) -> Problem:
    return Problem(Code.PAYLOAD_TOO_LARGE, detail=f"A batch is at most {limit} bytes.")


def _escape(part: object) -> str:
    """Return one step of a JSON pointer (RFC 6901)."""
    return str(part).replace("~", "~0").replace("/", "~1")
