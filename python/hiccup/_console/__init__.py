"""The local console: what the process has been doing, on one page.

For a laptop with no log store, no collector, no Sentry and no Prometheus,
``/_hiccup`` shows the last requests with their log lines, their traces as
a waterfall, the errors with their frames, and live charts of the request
rate, p95 latency, error rate, model latency and breaker states. It is
served only in development or with ``debug`` on, and reads what the
process keeps anyway: its log lines (a ring the log pipeline feeds, after
redaction), the requests the middleware served, the in-memory trace ring and
the Prometheus metrics.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping
from importlib import resources
from typing import Any, Final

import orjson
from prometheus_client.metrics import MetricWrapperBase
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from .._export import RecentTrace
from .._metrics import default_metrics
from .._middleware import Exchange
from .._probes import CONSOLE_PATH, CONSOLE_PREFIX
from .._records import records
from .._tracing import recent_traces
from ..resilience._breaker import breakers

__all__ = ["Console", "ConsoleObserver"]

_PAGES: Final = {
    CONSOLE_PATH: ("console.html", "text/html; charset=utf-8"),
    f"{CONSOLE_PREFIX}console.js": ("console.js", "text/javascript; charset=utf-8"),
    f"{CONSOLE_PREFIX}console.css": ("console.css", "text/css; charset=utf-8"),
}
# The page is strict about what it loads: its own script and styles only.
_PAGE_HEADERS: Final = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self';"
        " img-src 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
}


class ConsoleObserver:
    """Keeps a summary of every request the middleware serves."""

    def started(self, exchange: Exchange) -> None:
        return None

    def finished(
        self, exchange: Exchange, state: object, duration: float, route: str | None
    ) -> None:
        records.requests.append(
            {
                "time": time.time() - duration,
                "request_id": exchange.request_id,
                "trace_id": exchange.trace_id,
                "method": exchange.method,
                "route": route,
                "status": exchange.status,
                "duration_ms": round(duration * 1000, 3),
                "error_code": exchange.error_code,
                "errored": exchange.errored,
            }
        )


def _buckets(metric: MetricWrapperBase) -> dict[str, Any]:
    """Sum a histogram's buckets, count and sum over every label set."""
    buckets: dict[float, float] = {}
    count = 0.0
    errors = 0.0
    for family in metric.collect():
        for sample in family.samples:
            if sample.name.endswith("_bucket"):
                bound = float(sample.labels["le"])
                buckets[bound] = buckets.get(bound, 0.0) + sample.value
            elif sample.name.endswith("_count"):
                count += sample.value
                status = sample.labels.get("http_response_status_code", "")
                if status.isdigit() and int(status) >= 500:
                    errors += sample.value
    ordered = [
        [bound if math.isfinite(bound) else None, total]
        for bound, total in sorted(buckets.items())
    ]
    return {"buckets": ordered, "count": count, "errors": errors}


def _matching(
    lines: Iterable[Mapping[str, object]], key: str, value: str
) -> list[Mapping[str, object]]:
    return [line for line in lines if line.get(key) == value]


class Console:
    """The ASGI app of ``/_hiccup``: the page and the JSON it reads.

    Args:
        traces: returns the newest traces kept in memory, newest first.
    """

    def __init__(
        self, traces: Callable[[int], list[RecentTrace]] = recent_traces
    ) -> None:
        self._traces = traces

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] not in ("GET", "HEAD"):
            raise HTTPException(405, headers={"Allow": "GET, HEAD"})
        response = self.respond(Request(scope))
        await response(scope, receive, send)

    def respond(self, request: Request) -> Response:
        path = request.url.path.rstrip("/") or "/"
        page = _PAGES.get(path)
        if page is not None:
            name, media_type = page
            content = resources.files(__package__).joinpath(name).read_bytes()
            return Response(content, media_type=media_type, headers=_PAGE_HEADERS)
        parts = path.removeprefix(CONSOLE_PREFIX).split("/")
        match parts:
            case ["api", "requests"]:
                # Copies, taken whole: threads append to the rings meanwhile.
                return self._json({"requests": list(reversed(records.requests.copy()))})
            case ["api", "requests", request_id]:
                return self._request(request_id)
            case ["api", "traces"]:
                return self._json({"traces": self._traces(50)})
            case ["api", "errors"]:
                return self._json({"errors": self._errors()})
            case ["api", "metrics"]:
                return self._json(self._metrics_now())
        raise HTTPException(404)

    def _json(self, body: object) -> Response:
        # Log lines may hold any value an app bound: shown as text.
        content = orjson.dumps(body, default=str)
        return Response(
            content,
            media_type="application/json",
            headers={"Cache-Control": "no-store"},
        )

    def _request(self, request_id: str) -> Response:
        found = _matching(records.requests.copy(), "request_id", request_id)
        if not found:
            raise HTTPException(404)
        summary = found[-1]
        trace_id = summary.get("trace_id")
        trace = next((t for t in self._traces(200) if t["trace_id"] == trace_id), None)
        lines = _matching(records.lines.copy(), "request_id", request_id)
        return self._json({"request": summary, "lines": lines, "trace": trace})

    def _errors(self) -> list[Mapping[str, object]]:
        return [
            line
            for line in reversed(records.lines.copy())
            if line.get("level") in ("error", "critical") and "exception" in line
        ]

    def _metrics_now(self) -> dict[str, object]:
        metrics = default_metrics()
        return {
            "time": time.time(),
            "http": _buckets(metrics.http_duration),
            "model": _buckets(metrics.model_duration),
            "breakers": {b.name: b.state.value for b in breakers()},
        }
