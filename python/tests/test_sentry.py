"""Error reporting, through a real sentry-sdk to an ingest on loopback.

The app runs in process; sentry-sdk's transport thread still sends every
event over HTTP to ``SentryIngest``, and ``sentry_sdk.flush()`` waits for it
before anything is asserted.
"""

from __future__ import annotations

import asyncio
import logging
import re
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
import sentry_sdk
from fastapi import FastAPI, HTTPException
from fastapi.responses import Response, StreamingResponse
from sentry_ingest import SentryIngest, dead_dsn
from starlette.types import Receive, Scope, Send
from support import LogCapture

import hiccup
from hiccup import Code, Problem, context
from hiccup._logging import REDACTED, Redactor
from hiccup._metrics import Metrics
from hiccup._middleware import Observer
from hiccup._sentry import SentryObserver, configure_sentry, redact_event

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
SPAN_ID = "b7ad6b7169203331"
#: One module-level instance raised by every request of a route.
SHARED_PROBLEM = Problem(Code.MAINTENANCE)

Reporter = Callable[..., SentryObserver]


def settings_for(dsn: str, **values: Any) -> hiccup.Settings:
    return hiccup.Settings(
        service_name="writer",
        version="1.4.2",
        environment="staging",
        sentry_dsn=dsn,
        # Logging stays as the test's fixture set it up, in memory.
        manage_logging=False,
        **values,
    )


def install_with(
    app: FastAPI, settings: hiccup.Settings, *observers: Observer
) -> FastAPI:
    """Install hiccup with a Sentry reporter of the test's, and other observers.

    The reporter replaces the one install would make from the settings' DSN;
    any other observer joins the middleware when Starlette builds its stack.
    """
    sentry = next((o for o in observers if isinstance(o, SentryObserver)), None)
    others = tuple(o for o in observers if o is not sentry)
    hiccup.install(app, settings, sentry=sentry)
    if others:
        build = app.build_middleware_stack

        def build_with_observers() -> Any:
            stack = build()
            stack.observers = (*stack.observers, *others)
            return stack

        app.build_middleware_stack = build_with_observers  # type: ignore[method-assign]

    return app


def build_app(settings: hiccup.Settings, *observers: Observer) -> FastAPI:
    """A FastAPI app with one route per way of failing."""
    app = FastAPI()
    log = logging.getLogger("writer")

    @app.get("/ok")
    async def ok() -> dict[str, bool]:
        log.info("draft %s saved", "d-1")
        return {"ok": True}

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("the draft of ann@example.com broke")

    @app.get("/boom-sync")
    def boom_sync() -> None:
        raise KeyError("draft")

    @app.get("/http")
    async def http() -> None:
        raise HTTPException(503, "search is down")

    @app.get("/drafts/{draft_id}")
    async def draft(draft_id: str) -> None:
        raise Problem(Code.MODEL_OVERLOADED)

    @app.get("/unavailable")
    async def unavailable() -> Response:
        return Response(status_code=503)

    @app.get("/conflict")
    async def conflict() -> None:
        raise Problem(Code.CONFLICT)

    @app.get("/items/{item_id}")
    async def item(item_id: int) -> dict[str, int]:
        return {"item_id": item_id}

    @app.get("/maintenance")
    async def maintenance() -> None:
        raise SHARED_PROBLEM

    @app.get("/bound")
    async def bound() -> None:
        context.bind(user_id="u-7", password="hunter2", ssn="078-05-1120")
        raise RuntimeError("bound and broken")

    @app.get("/stream")
    async def stream() -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            yield b"first part,"
            raise RuntimeError("stream broke")

        return StreamingResponse(chunks(), media_type="text/plain")

    return install_with(app, settings, *observers)


async def _get_each(
    app: Any, paths: tuple[str, ...], headers: dict[str, str] | None
) -> list[httpx2.Response]:
    transport = httpx2.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx2.AsyncClient(
        transport=transport, base_url="http://writer.test"
    ) as client:
        # A task per request, as a server has: each starts from a copy of
        # the server's context, not from what the previous request left.
        return [
            await asyncio.create_task(client.get(path, headers=headers))
            for path in paths
        ]


def get(
    app: Any, *paths: str, headers: dict[str, str] | None = None
) -> list[httpx2.Response]:
    """Send one GET per path, in turn, and return the responses."""
    return asyncio.run(asyncio.wait_for(_get_each(app, paths, headers), 120))


@pytest.fixture
def ingest() -> Iterator[SentryIngest]:
    with SentryIngest() as running:
        yield running


@pytest.fixture
def make_reporter(logs: LogCapture) -> Iterator[Reporter]:
    """Return a factory starting sentry-sdk for a DSN; it is stopped after."""

    def make(dsn: str, **options: Any) -> SentryObserver:
        settings = options.pop("settings", None) or settings_for(dsn)
        observer = configure_sentry(settings, **options)
        assert observer is not None
        return observer

    yield make
    sentry_sdk.get_client().close(timeout=10)
    sentry_sdk.get_global_scope().set_client(None)


def dropped(metrics: Metrics) -> float:
    value = metrics.registry.get_sample_value(
        "hiccup_telemetry_dropped_total", {"sink": "sentry"}
    )
    return value or 0.0


def test_an_unexpected_exception_is_one_event_tagged_with_its_request(
    ingest: SentryIngest, make_reporter: Reporter
) -> None:
    app = build_app(settings_for(ingest.dsn), make_reporter(ingest.dsn))

    [response] = get(app, "/boom")
    sentry_sdk.flush()

    assert response.status_code == 500
    [event] = ingest.events()
    assert event["tags"] == {
        "error.code": "INTERNAL",
        "category": "internal",
        "http.status_code": "500",
        "request_id": response.headers["x-request-id"],
        "route": "/boom",
        "service": "writer",
        "release": "1.4.2",
        "environment": "staging",
    }
    assert (event["release"], event["environment"]) == ("1.4.2", "staging")
    assert event["level"] == "error"
    [exception] = event["exception"]["values"]
    assert exception["type"] == "RuntimeError"
    assert exception["mechanism"] == {"type": "hiccup", "handled": False}
    assert exception["stacktrace"]["frames"][-1]["function"] == "boom"
    # Sentry groups unexpected exceptions by their stack trace.
    assert "fingerprint" not in event


def test_the_apps_frames_carry_the_source_around_their_line(
    ingest: SentryIngest, make_reporter: Reporter
) -> None:
    app = build_app(settings_for(ingest.dsn), make_reporter(ingest.dsn))

    get(app, "/boom")
    sentry_sdk.flush()

    [event] = ingest.events()
    [exception] = event["exception"]["values"]
    frame = exception["stacktrace"]["frames"][-1]
    source = Path(frame["abs_path"]).read_text().splitlines()
    at = frame["lineno"] - 1
    assert frame["context_line"] == source[at]
    assert "raise RuntimeError" in frame["context_line"]
    assert frame["pre_context"] == source[at - 5 : at]
    assert frame["post_context"] == source[at + 1 : at + 6]
    # The libraries' frames, collapsed in Sentry, come without their lines.
    frames = exception["stacktrace"]["frames"]
    libraries = [f for f in frames if "site-packages" in f["abs_path"]]
    assert libraries
    assert all(f["in_app"] is False for f in libraries)
    assert not any("context_line" in f for f in libraries)
    assert all("context_line" in f for f in frames if f["in_app"])


def test_source_context_stays_off_when_the_app_turns_it_off(
    ingest: SentryIngest, make_reporter: Reporter
) -> None:
    reporter = make_reporter(ingest.dsn, include_source_context=False)
    app = build_app(settings_for(ingest.dsn), reporter)

    get(app, "/boom")
    sentry_sdk.flush()

    [event] = ingest.events()
    [exception] = event["exception"]["values"]
    frames = exception["stacktrace"]["frames"]
    assert frames[-1]["function"] == "boom"
    assert not any("context_line" in f for f in frames)


@pytest.mark.parametrize(
    "path",
    ["/boom", "/boom-sync", "/http", "/drafts/d-1", "/unavailable", "/stream"],
    ids=[
        "exception",
        "threadpool-exception",
        "http-exception",
        "problem",
        "bare-503",
        "after-the-response-started",
    ],
)
def test_each_failure_is_exactly_one_event(
    ingest: SentryIngest, make_reporter: Reporter, path: str
) -> None:
    app = build_app(settings_for(ingest.dsn), make_reporter(ingest.dsn))

    get(app, path)
    sentry_sdk.flush()

    assert len(ingest.events()) == 1


def test_the_app_s_own_errors_are_grouped_by_code_and_route(
    ingest: SentryIngest, make_reporter: Reporter
) -> None:
    app = build_app(settings_for(ingest.dsn), make_reporter(ingest.dsn))

    get(app, "/drafts/d-1", "/drafts/d-2")
    sentry_sdk.flush()

    events = ingest.events()
    assert [e["fingerprint"] for e in events] == [
        ["MODEL_OVERLOADED", "/drafts/{draft_id}"]
    ] * 2
    assert events[0]["tags"]["category"] == "unavailable"
    assert events[0]["exception"]["values"][0]["mechanism"]["handled"] is True


def test_a_bare_503_is_a_message_event_with_its_code(
    ingest: SentryIngest, make_reporter: Reporter
) -> None:
    app = build_app(settings_for(ingest.dsn), make_reporter(ingest.dsn))

    [response] = get(app, "/unavailable")
    sentry_sdk.flush()

    assert response.status_code == 503
    [event] = ingest.events()
    assert "exception" not in event
    assert event["message"] == "DEPENDENCY_UNAVAILABLE 503 from GET /unavailable"
    assert event["tags"]["error.code"] == "DEPENDENCY_UNAVAILABLE"
    assert event["fingerprint"] == ["DEPENDENCY_UNAVAILABLE", "/unavailable"]


def test_a_failure_after_the_response_started_counts_as_its_code_s_status(
    ingest: SentryIngest, make_reporter: Reporter
) -> None:
    app = build_app(settings_for(ingest.dsn), make_reporter(ingest.dsn))

    [response] = get(app, "/stream")
    sentry_sdk.flush()

    assert response.status_code == 200
    [event] = ingest.events()
    assert event["tags"]["http.status_code"] == "500"
    assert event["exception"]["values"][0]["value"] == "stream broke"


def test_client_errors_are_not_reported_by_default(
    ingest: SentryIngest, make_reporter: Reporter
) -> None:
    app = build_app(settings_for(ingest.dsn), make_reporter(ingest.dsn))

    responses = get(app, "/nowhere", "/items/abc", "/conflict", "/ok")
    sentry_sdk.flush()

    assert [r.status_code for r in responses] == [404, 422, 409, 200]
    assert ingest.events() == []


def test_a_predicate_reports_the_client_errors_it_chooses(
    ingest: SentryIngest, make_reporter: Reporter
) -> None:
    seen: list[tuple[int, str | None]] = []

    def validation_only(status: int, code: str | None) -> bool:
        seen.append((status, code))
        return status == 422

    reporter = make_reporter(ingest.dsn, capture_status=validation_only)
    app = build_app(settings_for(ingest.dsn), reporter)

    get(app, "/items/abc", "/conflict")
    sentry_sdk.flush()

    assert seen == [(422, "VALIDATION_FAILED"), (409, "CONFLICT")]
    [event] = ingest.events()
    # A validation error's text quotes the input, so it is sent as a message.
    assert "exception" not in event
    assert event["message"] == "VALIDATION_FAILED 422 from GET /items/{item_id}"
    # The contract's severity of the code, as a Sentry level.
    assert event["level"] == "info"
    assert event["fingerprint"] == ["VALIDATION_FAILED", "/items/{item_id}"]


def test_an_unmatched_route_is_one_fingerprint_not_the_raw_path(
    ingest: SentryIngest, make_reporter: Reporter
) -> None:
    reporter = make_reporter(ingest.dsn, capture_status=lambda status, code: True)
    app = build_app(settings_for(ingest.dsn), reporter)

    get(app, "/nowhere/1", "/nowhere/2")
    sentry_sdk.flush()

    events = ingest.events()
    assert [e["fingerprint"] for e in events] == [["NOT_FOUND", "unmatched"]] * 2
    assert events[0]["exception"]["values"][0]["type"] == "HTTPException"
    assert "route" not in events[0]["tags"]


def test_a_broken_predicate_is_a_warning_not_a_broken_response(
    ingest: SentryIngest, make_reporter: Reporter, logs: LogCapture
) -> None:
    def broken(status: int, code: str | None) -> bool:
        raise ZeroDivisionError

    app = build_app(
        settings_for(ingest.dsn), make_reporter(ingest.dsn, capture_status=broken)
    )

    [response] = get(app, "/items/abc")
    sentry_sdk.flush()

    assert response.status_code == 422
    assert ingest.events() == []
    [warning] = logs.events("sentry.report_failed")
    assert warning["error.type"] == "ZeroDivisionError"


def test_an_exception_instance_raised_again_is_reported_again(
    ingest: SentryIngest, make_reporter: Reporter
) -> None:
    app = build_app(settings_for(ingest.dsn), make_reporter(ingest.dsn))

    get(app, "/maintenance", "/maintenance")
    sentry_sdk.flush()

    assert [e["tags"]["error.code"] for e in ingest.events()] == ["MAINTENANCE"] * 2


def test_the_user_reaches_sentry_by_id_only(
    ingest: SentryIngest, make_reporter: Reporter
) -> None:
    scopes: list[Scope] = []

    def user(scope: Scope) -> dict[str, object]:
        scopes.append(scope)
        return {
            "id": "u-7",
            "email": "ann@example.com",
            "username": "ann",
            "ip_address": "203.0.113.9",
        }

    app = build_app(settings_for(ingest.dsn), make_reporter(ingest.dsn, user=user))

    get(app, "/boom")
    sentry_sdk.flush()

    [event] = ingest.events()
    assert event["user"] == {"id": "u-7"}
    assert scopes[0]["path"] == "/boom"


def test_user_fields_let_the_app_send_more_of_the_user(
    ingest: SentryIngest, make_reporter: Reporter
) -> None:
    reporter = make_reporter(
        ingest.dsn,
        user=lambda scope: {"id": "u-7", "username": "ann", "email": "a@b.example"},
        user_fields=("id", "username"),
    )
    app = build_app(settings_for(ingest.dsn), reporter)

    get(app, "/boom")
    sentry_sdk.flush()

    [event] = ingest.events()
    assert event["user"] == {"id": "u-7", "username": "ann"}


def test_a_broken_user_resolver_costs_the_user_not_the_event(
    ingest: SentryIngest, make_reporter: Reporter, logs: LogCapture
) -> None:
    def broken(scope: Scope) -> dict[str, object]:
        raise LookupError("no session store")

    app = build_app(settings_for(ingest.dsn), make_reporter(ingest.dsn, user=broken))

    [response] = get(app, "/boom")
    sentry_sdk.flush()

    assert response.status_code == 500
    [event] = ingest.events()
    assert "user" not in event
    [warning] = logs.events("sentry.user_failed")
    assert warning["error.type"] == "LookupError"


def test_the_event_carries_the_trace_of_the_request(
    ingest: SentryIngest, make_reporter: Reporter
) -> None:
    app = build_app(settings_for(ingest.dsn), make_reporter(ingest.dsn))
    traceparent = f"00-{TRACE_ID}-{SPAN_ID}-01"

    get(app, "/boom", headers={"traceparent": traceparent})
    sentry_sdk.flush()

    # The caller's trace, and the span of hiccup's server span under it.
    [event] = ingest.events()
    trace = event["contexts"]["trace"]
    assert (trace["trace_id"], trace["type"]) == (TRACE_ID, "trace")
    assert re.fullmatch(r"[0-9a-f]{16}", trace["span_id"])
    assert trace["span_id"] != SPAN_ID


def test_secrets_and_personal_data_arrive_redacted(
    ingest: SentryIngest, make_reporter: Reporter
) -> None:
    settings = settings_for(ingest.dsn, redact_fields=("ssn",))
    app = build_app(settings, make_reporter(ingest.dsn, settings=settings))
    headers = {
        "Authorization": "Bearer eyJhbGciOi.secret",
        "Cookie": "session=abc123",
        "Refresh-Token": "rt-secret",
        "X-Forwarded-For": "203.0.113.9",
        "X-Draft": "d-1",
    }

    get(app, "/bound?token=t-secret&lang=fr", headers=headers)
    sentry_sdk.flush()

    [envelope] = ingest.envelopes()
    payload = envelope.items[0].payload
    for secret in (b"eyJhbGciOi", b"abc123", b"rt-secret", b"203.0.113.9"):
        assert secret not in payload
    [event] = ingest.events()
    request = event["request"]
    assert {
        name: request["headers"][name]
        for name in ("authorization", "cookie", "refresh-token")
    } == dict.fromkeys(("authorization", "cookie", "refresh-token"), REDACTED)
    # sentry-sdk 2.76 and later scrub this one themselves, before before_send.
    assert request["headers"]["x-forwarded-for"] in {REDACTED, "[Filtered]"}
    assert request["headers"]["x-draft"] == "d-1"
    assert request["query_string"] == {"token": REDACTED, "lang": "fr"}
    assert request["url"] == "http://writer.test/bound"
    assert {k: event["extra"][k] for k in ("user_id", "password", "ssn")} == {
        "user_id": "u-7",
        "password": REDACTED,
        "ssn": REDACTED,
    }


def test_e_mail_addresses_in_messages_arrive_redacted(
    ingest: SentryIngest, make_reporter: Reporter
) -> None:
    app = build_app(settings_for(ingest.dsn), make_reporter(ingest.dsn))

    get(app, "/boom")
    sentry_sdk.flush()

    [event] = ingest.events()
    assert event["exception"]["values"][0]["value"] == f"the draft of {REDACTED} broke"


def test_redact_event_covers_every_part_an_event_has() -> None:
    redactor = Redactor(("ssn",))
    event: Any = {
        "message": "token for ann@example.com",
        "request": {
            "data": {"password": "hunter2", "text": "hello"},
            "cookies": {"session": "abc"},
        },
        "extra": {"ssn": "078-05-1120", "words": 120},
        "contexts": {"payment": {"api_key": "k-1", "plan": "pro"}},
        "tags": {"secret": "s", "route": "/drafts"},
        "breadcrumbs": {
            "values": [
                {
                    "message": "called with Bearer abc.def",
                    "data": {"authorization": "Basic xyz", "url": "/v1"},
                }
            ]
        },
        "exception": {
            "values": [
                {
                    "value": "failed for ann@example.com",
                    "stacktrace": {
                        "frames": [{"vars": {"password": "'hunter2'", "n": "3"}}]
                    },
                }
            ]
        },
    }

    redacted = redact_event(event, redactor)

    assert redacted == {
        "message": f"token for {REDACTED}",
        "request": {
            "data": {"password": REDACTED, "text": "hello"},
            "cookies": {"session": REDACTED},
        },
        "extra": {"ssn": REDACTED, "words": 120},
        "contexts": {"payment": {"api_key": REDACTED, "plan": "pro"}},
        "tags": {"secret": REDACTED, "route": "/drafts"},
        "breadcrumbs": {
            "values": [
                {
                    "message": f"called with Bearer {REDACTED}",
                    "data": {"authorization": REDACTED, "url": "/v1"},
                }
            ]
        },
        "exception": {
            "values": [
                {
                    "value": f"failed for {REDACTED}",
                    "stacktrace": {
                        "frames": [{"vars": {"password": REDACTED, "n": "3"}}]
                    },
                }
            ]
        },
    }


def test_breadcrumbs_stay_with_their_own_request(
    ingest: SentryIngest, make_reporter: Reporter
) -> None:
    app = build_app(settings_for(ingest.dsn), make_reporter(ingest.dsn))

    get(app, "/ok", "/boom")
    sentry_sdk.flush()

    [event] = ingest.events()
    messages = [
        b.get("message") for b in event.get("breadcrumbs", {}).get("values", [])
    ]
    assert "draft d-1 saved" not in messages


def test_a_second_report_of_a_reported_exception_is_dropped(
    ingest: SentryIngest, make_reporter: Reporter
) -> None:
    reporter = make_reporter(ingest.dsn)
    inner = build_app(settings_for(ingest.dsn), reporter)
    server_log = logging.getLogger("server")

    async def server(scope: Scope, receive: Receive, send: Send) -> None:
        # What a server does with the exception of a stream cut short, which
        # the middleware raises again: it logs it, and the logging
        # integration makes an event of the record.
        try:
            await inner(scope, receive, send)
        except RuntimeError:
            server_log.exception("Exception in ASGI application")
            raise

    get(server, "/stream")
    sentry_sdk.flush()

    [event] = ingest.events()
    assert event["tags"]["error.code"] == "INTERNAL"


def test_the_request_s_log_lines_carry_the_event_id(
    ingest: SentryIngest, make_reporter: Reporter, logs: LogCapture
) -> None:
    app = build_app(settings_for(ingest.dsn), make_reporter(ingest.dsn))

    get(app, "/boom")
    sentry_sdk.flush()

    [event] = ingest.events()
    [error_line] = logs.events("http.exception")
    [access_line] = logs.events("http.request")
    assert error_line["sentry.event_id"] == event["event_id"]
    assert access_line["sentry.event_id"] == event["event_id"]


def test_the_event_id_is_bound_to_the_request(
    ingest: SentryIngest, make_reporter: Reporter
) -> None:
    reporter = make_reporter(ingest.dsn)
    exchanges: list[Any] = []

    class Keeper:
        def started(self, exchange: Any) -> None:
            exchanges.append(exchange)

        def finished(
            self, exchange: Any, state: object, duration: float, route: str | None
        ) -> None:
            """Keep nothing more: the exchange is read after the request."""

    # Observers finish in reverse order: the reporter, added last, first.
    app = build_app(settings_for(ingest.dsn), Keeper(), reporter)

    get(app, "/boom", "/ok")
    sentry_sdk.flush()

    [event] = ingest.events()
    assert exchanges[0].fields == {"sentry.event_id": event["event_id"]}
    assert exchanges[1].fields is None


def test_a_dead_ingest_delays_and_fails_no_response(
    make_reporter: Reporter, metrics: Metrics
) -> None:
    dsn = dead_dsn()
    app = build_app(settings_for(dsn), make_reporter(dsn))

    responses = get(app, *["/boom"] * 20, "/ok")
    sentry_sdk.flush(timeout=60)

    assert [r.status_code for r in responses] == [500] * 20 + [200]
    assert all(r.json()["code"] == "INTERNAL" for r in responses[:20])
    assert sentry_sdk.get_client().transport.dropped == 20  # type: ignore[union-attr]
    assert dropped(metrics) == 20


def test_a_slow_ingest_delays_and_fails_no_response(
    make_reporter: Reporter, metrics: Metrics
) -> None:
    with SentryIngest(answers=False) as slow:
        reporter = make_reporter(slow.dsn, transport_queue_size=2)
        app = build_app(settings_for(slow.dsn), reporter)

        responses = get(app, *["/boom"] * 20, "/ok")

        assert [r.status_code for r in responses] == [500] * 20 + [200]
        # One event is on its way, at most two wait; the others are dropped.
        assert dropped(metrics) >= 17
        assert slow.requests <= 1


def test_sentry_sends_no_personal_data_by_default_nor_traces(
    ingest: SentryIngest, make_reporter: Reporter
) -> None:
    make_reporter(ingest.dsn)

    client = sentry_sdk.get_client()
    assert client.should_send_default_pii() is False
    assert client.options["traces_sample_rate"] is None
    assert client.options["trace_propagation_targets"] == []
    assert {"starlette", "fastapi"}.isdisjoint(client.integrations)


def test_a_malformed_dsn_is_a_warning_and_the_app_works(logs: LogCapture) -> None:
    settings = settings_for("not a dsn")

    app = build_app(settings)
    responses = get(app, "/ok", "/boom")

    assert not sentry_sdk.get_client().is_active()
    [warning] = logs.events("sentry.disabled")
    assert warning["level"] == "warning"
    assert "malformed" in warning["reason"]
    assert [r.status_code for r in responses] == [200, 500]
    assert configure_sentry(settings) is None


def test_without_a_dsn_there_is_no_sentry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SENTRY_DSN", raising=False)

    assert configure_sentry(hiccup.Settings()) is None
    assert not sentry_sdk.get_client().is_active()


def test_the_dsn_may_come_from_sentry_dsn(
    ingest: SentryIngest, make_reporter: Reporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SENTRY_DSN", ingest.dsn)
    reporter = make_reporter(ingest.dsn, settings=hiccup.Settings())
    app = build_app(hiccup.Settings(), reporter)

    get(app, "/boom")
    sentry_sdk.flush()

    assert len(ingest.events()) == 1


def test_the_app_s_before_send_runs_before_the_redaction(
    ingest: SentryIngest, make_reporter: Reporter
) -> None:
    def add_secret(event: Any, hint: Any) -> Any:
        event.setdefault("extra", {})["api_key"] = "k-123"
        return event

    reporter = make_reporter(ingest.dsn, before_send=add_secret)
    app = build_app(settings_for(ingest.dsn), reporter)

    get(app, "/boom")
    sentry_sdk.flush()

    [event] = ingest.events()
    assert event["extra"]["api_key"] == REDACTED


def test_the_app_s_before_send_may_drop_an_event(
    ingest: SentryIngest, make_reporter: Reporter
) -> None:
    reporter = make_reporter(ingest.dsn, before_send=lambda event, hint: None)
    app = build_app(settings_for(ingest.dsn), reporter)

    [response] = get(app, "/boom")
    sentry_sdk.flush()

    assert response.status_code == 500
    assert ingest.events() == []


_CONTROL = """
import asyncio, sys
import httpx2, sentry_sdk
from fastapi import FastAPI, HTTPException
import hiccup
from hiccup._sentry import SentryObserver

sys.path.insert(0, {tests!r})
from test_sentry import install_with

sentry_sdk.init(dsn={dsn!r})
app = FastAPI()

@app.get("/http")
async def http():
    raise HTTPException(503)

install_with(app, hiccup.Settings(), SentryObserver())

async def main():
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, base_url="http://t") as client:
        await client.get("/http")

asyncio.run(main())
sentry_sdk.flush(timeout=30)
"""


def test_with_sentry_s_own_integrations_the_report_is_theirs_not_hiccup_s(
    ingest: SentryIngest,
) -> None:
    # In a process of its own: the integrations patch Starlette for good.
    script = _CONTROL.format(tests=str(Path(__file__).parent), dsn=ingest.dsn)

    subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        check=True,
        capture_output=True,
        timeout=120,
    )

    # The integration reports from inside the app, first; sentry-sdk then
    # drops hiccup's report of the same exception as a duplicate.
    mechanisms = [
        e["exception"]["values"][0]["mechanism"]["type"] for e in ingest.events()
    ]
    assert mechanisms == ["starlette"]
