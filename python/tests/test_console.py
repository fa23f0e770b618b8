"""The local console at /_hiccup: served only to developers, fed by the log
pipeline and the middleware, and never showing its own polling."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from fastapi import FastAPI
from support import LogCapture, Sent, call

import hiccup
from hiccup import Code, Problem, context
from hiccup._console import Console
from hiccup._export import RecentTrace
from hiccup._metrics import Metrics
from hiccup._records import records
from hiccup.resilience import CircuitBreaker

DEVELOPMENT = {"environment": "development", "log_format": "json", "tracing": False}


@pytest.fixture(autouse=True)
def empty_records() -> Iterator[None]:
    records.requests.clear()
    records.lines.clear()
    yield
    records.requests.clear()
    records.lines.clear()


def build(logs: LogCapture, **settings: Any) -> FastAPI:
    app = FastAPI()
    log = hiccup.get_logger("writer")

    @app.get("/drafts/{draft_id}")
    async def draft(draft_id: int) -> dict[str, int]:
        context.bind(password="hunter2")
        log.info("draft.read", draft_id=draft_id)
        return {"id": draft_id}

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("the draft store fell over")

    @app.get("/busy")
    async def busy() -> None:
        raise Problem(Code.MODEL_OVERLOADED)

    chosen = hiccup.Settings(service_name="writer", **{**DEVELOPMENT, **settings})
    built = hiccup.install(app, chosen)
    hiccup.configure_logging(chosen, stream=logs.stream)
    return built


def get(app: FastAPI, *paths: str) -> list[Sent]:
    async def run() -> list[Sent]:
        return [await call(app, "GET", path) for path in paths]

    return asyncio.run(run())


def test_the_console_is_served_in_development(logs: LogCapture) -> None:
    page, script, styles = get(
        build(logs), "/_hiccup", "/_hiccup/console.js", "/_hiccup/console.css"
    )

    assert page.status == 200
    assert page.header("content-type") == "text/html; charset=utf-8"
    assert b"/_hiccup/console.js" in page.body
    assert "script-src 'self'" in (page.header("content-security-policy") or "")
    assert script.header("content-type") == "text/javascript; charset=utf-8"
    assert b"textContent" in script.body
    assert styles.status == 200


@pytest.mark.parametrize(
    "settings",
    [
        {"environment": "production"},
        {"environment": "staging", "debug": False},
        {"environment": "development", "console": False},
    ],
)
def test_the_console_is_not_served_otherwise(
    logs: LogCapture, settings: dict[str, Any]
) -> None:
    [page] = get(build(logs, **settings), "/_hiccup")

    assert page.status == 404
    assert page.json()["code"] == "NOT_FOUND"


def test_debug_serves_it_in_any_environment(logs: LogCapture) -> None:
    [page] = get(build(logs, environment="staging", debug=True), "/_hiccup")

    assert page.status == 200


def test_requests_are_listed_newest_first_without_the_consoles_own(
    logs: LogCapture,
) -> None:
    app = build(logs)

    first, second, _, listed = get(
        app, "/drafts/1", "/drafts/2", "/_hiccup/api/metrics", "/_hiccup/api/requests"
    )

    requests = listed.json()["requests"]
    assert [r["request_id"] for r in requests] == [
        second.header("x-request-id"),
        first.header("x-request-id"),
    ]
    newest = requests[0]
    assert (newest["method"], newest["route"], newest["status"]) == (
        "GET",
        "/drafts/{draft_id}",
        200,
    )
    assert newest["duration_ms"] > 0
    # Its polling leaves no access line either.
    routes = [line.get("http.route") for line in logs.events("http.request")]
    assert routes == ["/drafts/{draft_id}", "/drafts/{draft_id}"]


def test_a_request_shows_its_log_lines_redacted(logs: LogCapture) -> None:
    app = build(logs)
    [served] = get(app, "/drafts/7")
    request_id = served.header("x-request-id")

    [detail] = get(app, f"/_hiccup/api/requests/{request_id}")

    body = detail.json()
    assert body["request"]["request_id"] == request_id
    [line] = [line for line in body["lines"] if line["event"] == "draft.read"]
    assert line["draft_id"] == 7
    assert line["password"] == "[REDACTED]"
    assert b"hunter2" not in detail.body


def test_a_request_shows_its_trace_from_the_ring(logs: LogCapture) -> None:
    app = build(logs)
    parent = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    served = asyncio.run(
        call(app, "GET", "/drafts/7", headers=[(b"traceparent", parent)])
    )
    request_id = served.header("x-request-id")
    span: dict[str, Any] = {"name": "GET /drafts/{draft_id}", "duration_ms": 1.5}
    other: RecentTrace = {"trace_id": "0" * 32, "spans": []}
    trace: RecentTrace = {
        "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
        "spans": [span],
    }  # type: ignore[list-item]
    console = Console(traces=lambda limit: [other, trace])

    async def detail() -> Sent:
        return await call(console, "GET", f"/_hiccup/api/requests/{request_id}")

    body = asyncio.run(detail()).json()

    assert body["trace"] == trace


def test_an_unknown_request_or_path_is_not_found(logs: LogCapture) -> None:
    missing, unknown = get(
        build(logs), "/_hiccup/api/requests/nope", "/_hiccup/api/nope"
    )

    assert missing.status == unknown.status == 404


def test_only_reading_is_allowed(logs: LogCapture) -> None:
    async def post() -> Sent:
        return await call(build(logs), "POST", "/_hiccup/api/requests")

    sent = asyncio.run(post())

    assert sent.status == 405
    assert sent.header("allow") == "GET, HEAD"


def test_errors_show_the_exception_and_its_frames(logs: LogCapture) -> None:
    app = build(logs)
    failed, _, listed = get(app, "/boom", "/busy", "/_hiccup/api/errors")

    busy, error = listed.json()["errors"]
    assert busy["exception"]["type"] == "Problem"
    assert error["request_id"] == failed.header("x-request-id")
    assert error["exception"]["type"] == "RuntimeError"
    assert error["exception"]["message"] == "the draft store fell over"
    assert any(frame["function"] == "boom" for frame in error["exception"]["frames"])


def test_metrics_count_what_was_served_and_what_failed(
    logs: LogCapture, metrics: Metrics
) -> None:
    app = build(logs)
    breaker = CircuitBreaker("console-model")
    breaker.admit().success()
    [before] = get(app, "/_hiccup/api/metrics")

    *_, after = get(app, "/drafts/1", "/boom", "/busy", "/_hiccup/api/metrics")

    first, second = before.json(), after.json()
    assert second["http"]["count"] - first["http"]["count"] == 3
    assert second["http"]["errors"] - first["http"]["errors"] == 2
    buckets = second["http"]["buckets"]
    assert buckets[-1][0] is None
    assert buckets[-1][1] == second["http"]["count"]
    counts = [total for _, total in buckets]
    assert counts == sorted(counts)
    assert second["model"] == {"buckets": [], "count": 0, "errors": 0}
    assert second["time"] > first["time"]
    assert orjson.loads(after.body)["breakers"].get("console-model") in (None, "closed")


def test_nothing_is_recorded_without_the_console(logs: LogCapture) -> None:
    get(build(logs, environment="production"), "/drafts/1", "/boom")

    assert list(records.requests) == []
    assert list(records.lines) == []
