from __future__ import annotations

import asyncio
import gc
import io
import json
import logging
import re
import threading
import uuid
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import structlog.testing
from fastapi import BackgroundTasks, Depends, FastAPI, HTTPException
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import (
    JSONResponse,
    PlainTextResponse,
    Response,
    StreamingResponse,
)
from pydantic import BaseModel, Field
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from support import LogCapture, Sent, assert_valid, call

import hiccup
from hiccup import Code, Problem, context

ORIGIN = b"https://writer.example"


class Draft(BaseModel):
    prompt: str = Field(max_length=10)
    n: int = Field(default=1, ge=1, le=5)


def build_app(settings: hiccup.Settings | None = None) -> FastAPI:
    """A FastAPI app with one route per way of failing, and CORS."""
    app = FastAPI()
    app.add_middleware(
        CORSMiddleware, allow_origins=[ORIGIN.decode()], expose_headers=["X-Custom"]
    )

    @app.get("/ok")
    async def ok() -> dict[str, object]:
        context.bind(user_id="u-1", password="hunter2")
        return {"request_id": context.request_id()}

    @app.get("/sync")
    def sync() -> dict[str, object]:
        context.bind(thread=threading.current_thread().name)
        return {"request_id": context.request_id()}

    @app.post("/drafts")
    async def drafts(draft: Draft) -> Draft:
        return draft

    @app.get("/items/{item_id}")
    async def item(item_id: int) -> dict[str, int]:
        return {"item_id": item_id}

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("the secret is user@example.com")

    @app.get("/boom-sync")
    def boom_sync() -> None:
        raise KeyError("secret")

    @app.get("/timeout")
    async def timeout() -> None:
        await asyncio.wait_for(asyncio.sleep(1), 0.001)

    @app.get("/problem")
    async def problem() -> None:
        raise Problem(Code.MODEL_TIMEOUT, model="writer-large", detail="30 s elapsed")

    @app.get("/http")
    async def http() -> None:
        raise HTTPException(409, "Draft already exists", headers={"X-Custom": "1"})

    async def failing_dependency() -> None:
        raise RuntimeError("dependency failed")

    @app.get("/dependency", dependencies=[Depends(failing_dependency)])
    async def dependency() -> None:
        return None

    async def yielding_dependency() -> AsyncIterator[int]:
        yield 1
        raise RuntimeError("cleanup failed")

    @app.get("/after-yield")
    async def after_yield(value: int = Depends(yielding_dependency)) -> dict[str, int]:
        return {"value": value}

    @app.get("/background")
    async def background(tasks: BackgroundTasks) -> dict[str, bool]:
        def fail() -> None:
            context.bind(in_task=True)
            raise ValueError("task failed")

        tasks.add_task(fail)
        return {"queued": True}

    @app.get("/existing-problem")
    async def existing() -> Response:
        return JSONResponse(
            {"type": "about:blank", "title": "Teapot", "status": 418},
            status_code=418,
            media_type="application/problem+json",
        )

    @app.get("/plain-error")
    async def plain_error() -> Response:
        return PlainTextResponse("Service down", status_code=503)

    @app.get("/json-error")
    async def json_error() -> Response:
        return JSONResponse({"error": "app's own"}, status_code=400)

    @app.get("/empty")
    async def empty() -> Response:
        return Response(status_code=204)

    @app.get("/stream")
    async def stream() -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            yield b"first,"
            raise RuntimeError("stream broke")

        return StreamingResponse(chunks(), media_type="text/plain")

    @app.get("/events")
    async def events() -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            yield b"data: one\n\n"
            raise Problem(Code.MODEL_OVERLOADED)

        return StreamingResponse(chunks(), media_type="text/event-stream")

    return hiccup.install(app, settings or hiccup.Settings(service_name="tests"))


@pytest.fixture
def app(logs: LogCapture) -> FastAPI:
    built = build_app()
    hiccup.configure_logging(hiccup.Settings(service_name="tests"), stream=logs.stream)
    return built


def run(coro: Awaitable[Sent]) -> Sent:
    return asyncio.run(coro)  # type: ignore[arg-type]


def get(
    app: Any, path: str, *headers: tuple[bytes, bytes], method: str = "GET"
) -> Sent:
    return run(call(app, method, path, headers=headers))


def access_lines(logs: LogCapture) -> list[dict[str, Any]]:
    return logs.events("http.request")


# Request IDs


def test_fresh_request_id_is_sent_and_logged(app: FastAPI, logs: LogCapture) -> None:
    sent = get(app, "/ok")

    request_id = sent.header("x-request-id")
    assert request_id is not None
    assert uuid.UUID(request_id).version == 7
    assert sent.json() == {"request_id": request_id}
    [line] = access_lines(logs)
    assert line["request_id"] == request_id


def test_incoming_request_id_is_kept(app: FastAPI) -> None:
    sent = get(app, "/ok", (b"x-request-id", b"abc-123"))

    assert sent.header("x-request-id") == "abc-123"


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(b"abc\r\nX-Injected: yes", id="crlf"),
        pytest.param(b"a" * 10_000, id="ten-kilobytes"),
        pytest.param("réquête".encode(), id="unicode"),
        pytest.param(b'{"json": true}', id="json"),
    ],
)
def test_bad_request_id_never_reaches_a_header_or_log(
    app: FastAPI, logs: LogCapture, value: bytes
) -> None:
    sent = get(app, "/boom", (b"x-request-id", value))

    request_id = sent.header("x-request-id")
    assert request_id is not None
    assert uuid.UUID(request_id).version == 7
    body = sent.json()
    assert body["request_id"] == request_id
    assert "\r" not in body.get("client_request_id", "")
    assert len(body.get("client_request_id", "")) <= 64
    raw = logs.stream.getvalue()
    assert b"X-Injected: yes" not in raw
    assert value not in raw
    for line in logs.lines:
        assert line["request_id"] == request_id
        assert_valid("log-record", line)
    assert_valid("envelope", body)


def test_repeated_request_id_headers_are_settled(app: FastAPI) -> None:
    sent = get(app, "/ok", (b"x-request-id", b"one"), (b"x-request-id", b"two"))

    assert sent.header("x-request-id") not in {"one", "two"}


def test_untrusted_request_id_is_replaced(logs: LogCapture) -> None:
    app = build_app(hiccup.Settings(trust_request_id=False))
    hiccup.configure_logging(hiccup.Settings(), stream=logs.stream)

    sent = get(app, "/ok", (b"x-request-id", b"abc-123"))

    assert sent.header("x-request-id") != "abc-123"
    assert access_lines(logs)[0]["client_request_id"] == "abc-123"


def test_request_id_header_name_is_a_setting() -> None:
    app = build_app(hiccup.Settings(request_id_header="X-Correlation-ID"))

    sent = get(app, "/ok", (b"x-correlation-id", b"corr-1"))

    assert sent.header("x-correlation-id") == "corr-1"
    assert sent.header("x-request-id") is None


def test_traceparent_joins_the_callers_trace(app: FastAPI, logs: LogCapture) -> None:
    trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    header = f"00-{trace}-00f067aa0ba902b7-01".encode()

    sent = get(app, "/boom", (b"traceparent", header))

    assert sent.json()["trace_id"] == trace
    assert {line["trace_id"] for line in logs.lines} == {trace}


def test_malformed_traceparent_starts_a_trace_of_its_own(
    app: FastAPI, logs: LogCapture
) -> None:
    sent = get(app, "/boom", (b"traceparent", b"00-zzzz\r\n-01"))

    trace_id = sent.json()["trace_id"]
    assert sent.status == 500
    assert re.fullmatch(r"[0-9a-f]{32}", trace_id)
    assert {line["trace_id"] for line in logs.lines if "request_id" in line} == {
        trace_id
    }


# Context


def test_threadpool_endpoint_sees_the_request_context(
    app: FastAPI, logs: LogCapture
) -> None:
    sent = get(app, "/sync")

    assert sent.json()["request_id"] == sent.header("x-request-id")
    [line] = access_lines(logs)
    assert line["thread"] != threading.current_thread().name


def test_bound_fields_reach_the_access_line_redacted(
    app: FastAPI, logs: LogCapture
) -> None:
    get(app, "/ok")

    [line] = access_lines(logs)
    assert line["user_id"] == "u-1"
    assert line["password"] == "[REDACTED]"


def test_background_task_runs_in_the_request_context(
    app: FastAPI, logs: LogCapture
) -> None:
    sent = get(app, "/background")

    assert sent.status == 200
    [error] = logs.events("http.exception")
    assert error["request_id"] == sent.header("x-request-id")
    assert error["in_task"] is True
    assert error["exception"]["type"] == "ValueError"
    [line] = access_lines(logs)
    assert (line["http.response.status_code"], line["error.code"]) == (200, "INTERNAL")


def test_context_is_cleared_after_the_request(app: FastAPI) -> None:
    get(app, "/ok")

    assert context.request_id() is None


# Errors and envelopes


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        pytest.param("/nowhere", 404, "NOT_FOUND", id="router-404"),
        pytest.param("/boom", 500, "INTERNAL", id="unhandled"),
        pytest.param("/boom-sync", 500, "INTERNAL", id="unhandled-threadpool"),
        pytest.param("/timeout", 504, "SERVER_TIMEOUT", id="timeout"),
        pytest.param("/problem", 504, "MODEL_TIMEOUT", id="problem"),
        pytest.param("/http", 409, "CONFLICT", id="http-exception"),
        pytest.param("/dependency", 500, "INTERNAL", id="dependency"),
        pytest.param("/items/abc", 422, "VALIDATION_FAILED", id="path-param"),
        pytest.param("/plain-error", 503, "DEPENDENCY_UNAVAILABLE", id="plain-text"),
    ],
)
def test_failure_answers_with_a_valid_envelope(
    app: FastAPI, logs: LogCapture, path: str, status: int, code: str
) -> None:
    sent = get(app, path)

    body = sent.json()
    assert sent.status == status
    assert sent.header("content-type") == "application/problem+json"
    assert (body["status"], body["code"]) == (status, code)
    assert body["request_id"] == sent.header("x-request-id")
    assert_valid("envelope", body)
    [line] = access_lines(logs)
    assert (line["http.response.status_code"], line["error.code"]) == (status, code)


@pytest.mark.parametrize("path", ["/boom", "/boom-sync", "/dependency", "/timeout"])
def test_no_exception_text_leaves_the_server(app: FastAPI, path: str) -> None:
    sent = get(app, path)

    assert b"secret" not in sent.body
    assert b"Traceback" not in sent.body
    assert b"failed" not in sent.body
    assert b"debug" not in sent.body


def test_debug_setting_adds_exception_details() -> None:
    app = build_app(hiccup.Settings(debug=True))

    body = get(app, "/boom").json()

    assert body["debug"]["exception_type"] == "RuntimeError"
    assert body["debug"]["exception_message"] == "the secret is user@example.com"
    assert_valid("envelope", body)


def test_router_405_lists_allowed_methods(app: FastAPI) -> None:
    sent = get(app, "/ok", method="POST")

    assert (sent.status, sent.json()["code"]) == (405, "METHOD_NOT_ALLOWED")
    assert sent.header("allow") == "GET"


def test_validation_error_lists_fields_without_input(app: FastAPI) -> None:
    body = b'{"prompt": "far too long for ten", "n": 9}'

    sent = run(
        call(
            app,
            "POST",
            "/drafts",
            headers=[(b"content-type", b"application/json")],
            body=body,
        )
    )

    envelope = sent.json()
    assert sent.status == 422
    assert [(e["source"], e["code"], e.get("params")) for e in envelope["errors"]] == [
        ({"pointer": "/prompt"}, "FIELD_TOO_LONG", {"max_length": 10}),
        ({"pointer": "/n"}, "FIELD_TOO_LARGE", {"maximum": 5}),
    ]
    assert b"far too long" not in sent.body
    assert_valid("envelope", envelope)


def test_invalid_json_body_is_a_400(app: FastAPI) -> None:
    sent = run(
        call(
            app,
            "POST",
            "/drafts",
            headers=[(b"content-type", b"application/json")],
            body=b'{"prompt":',
        )
    )

    assert (sent.status, sent.json()["code"]) == (400, "MALFORMED_REQUEST")


def test_wrong_content_type_is_a_415(app: FastAPI) -> None:
    sent = run(
        call(
            app,
            "POST",
            "/drafts",
            headers=[(b"content-type", b"text/plain")],
            body=b'{"prompt": "x"}',
        )
    )

    assert (sent.status, sent.json()["code"]) == (415, "UNSUPPORTED_MEDIA_TYPE")


def test_http_exception_keeps_its_headers(app: FastAPI) -> None:
    sent = get(app, "/http")

    assert sent.header("x-custom") == "1"
    assert sent.json()["detail"] == "Draft already exists"


def test_problem_carries_params_retry_hints_and_copy(app: FastAPI) -> None:
    sent = get(app, "/problem", (b"accept-language", b"fr-CH, en;q=0.5"))

    body = sent.json()
    assert body["params"] == {"model": "writer-large"}
    assert body["retry"] == {"auto": True, "user": True, "after_ms": 2000}
    assert sent.header("retry-after") == "2"
    assert body["user"]["locale"] == "fr"
    assert sent.header("content-language") == "fr"
    assert "Accept-Language" in (sent.header("vary") or "")


def test_garbage_accept_language_falls_back_to_english(app: FastAPI) -> None:
    sent = get(app, "/problem", (b"accept-language", b"\xff\xfe;q=;;,*-*"))

    assert sent.json()["user"]["locale"] == "en"


def test_existing_problem_response_is_not_wrapped(app: FastAPI) -> None:
    sent = get(app, "/existing-problem")

    assert sent.status == 418
    assert sent.json() == {"type": "about:blank", "title": "Teapot", "status": 418}
    assert sent.header("x-request-id") is not None


def test_apps_own_json_error_is_left_alone(app: FastAPI, logs: LogCapture) -> None:
    sent = get(app, "/json-error")

    assert (sent.status, sent.json()) == (400, {"error": "app's own"})
    assert "error.code" not in access_lines(logs)[0]


def test_head_and_204_have_no_body(app: FastAPI) -> None:
    head = get(app, "/nowhere", method="HEAD")
    empty = get(app, "/empty")

    assert (head.status, head.body) == (404, b"")
    assert (empty.status, empty.body) == (204, b"")


def test_unhandled_error_keeps_cors_headers(app: FastAPI) -> None:
    sent = get(app, "/boom", (b"origin", ORIGIN))

    assert sent.status == 500
    assert sent.header("access-control-allow-origin") == ORIGIN.decode()
    exposed = sent.header("access-control-expose-headers") or ""
    assert {"X-Request-ID", "Retry-After", "X-Should-Retry", "X-Custom"} <= {
        h.strip() for h in exposed.split(",")
    }


class Broke(Exception):
    """An exception a test can hold a weak reference to."""


def test_a_failure_is_freed_with_its_request(logs: LogCapture) -> None:
    app = FastAPI()
    raised: list[weakref.ReferenceType[Broke]] = []

    def failure() -> Broke:
        exc = Broke("broke")
        raised.append(weakref.ref(exc))
        return exc

    @app.get("/broke")
    async def broke() -> None:
        raise failure()

    hiccup.install(app, hiccup.Settings(service_name="tests"))
    hiccup.configure_logging(hiccup.Settings(service_name="tests"), stream=logs.stream)
    gc.disable()
    try:
        sent = get(app, "/broke")
        # Without a collection: a reference cycle would keep it, and the
        # frames of its traceback, until the next one.
        freed = raised[0]() is None
    finally:
        gc.enable()

    assert sent.status == 500
    assert logs.events("http.exception")[0]["exception"]["type"] == "Broke"
    assert freed


def test_error_in_base_http_middleware_gets_an_envelope(logs: LogCapture) -> None:
    app = FastAPI()

    class Failing(BaseHTTPMiddleware):
        async def dispatch(
            self, request: Request, call_next: Callable[..., Any]
        ) -> Response:
            if request.url.path == "/fail":
                raise RuntimeError("middleware failed")
            response: Response = await call_next(request)
            return response

    @app.get("/fail")
    async def fail() -> None:
        return None

    @app.get("/inner")
    async def endpoint_failing() -> None:
        raise RuntimeError("endpoint failed")

    app.add_middleware(Failing)
    hiccup.install(app)
    hiccup.configure_logging(hiccup.Settings(), stream=logs.stream)

    outer = get(app, "/fail")
    inner = get(app, "/inner")

    for sent in (outer, inner):
        assert (sent.status, sent.json()["code"]) == (500, "INTERNAL")
        assert_valid("envelope", sent.json())
    assert [e["exception"]["message"] for e in logs.events("http.exception")] == [
        "middleware failed",
        "endpoint failed",
    ]


def test_error_in_plain_asgi_middleware_gets_an_envelope(logs: LogCapture) -> None:
    app = FastAPI()

    def failing(inner: Any) -> Any:
        async def middleware(scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope["type"] == "http" and scope["path"] == "/fail":
                raise RuntimeError("raw middleware failed")
            await inner(scope, receive, send)

        return middleware

    @app.get("/fail")
    async def fail() -> None:
        return None

    app.add_middleware(failing)
    app.add_middleware(CORSMiddleware, allow_origins=[ORIGIN.decode()])
    hiccup.install(app)
    hiccup.configure_logging(hiccup.Settings(), stream=logs.stream)

    sent = get(app, "/fail", (b"origin", ORIGIN))

    assert (sent.status, sent.json()["code"]) == (500, "INTERNAL")
    assert sent.header_values("x-request-id") == [sent.json()["request_id"]]
    assert_valid("envelope", sent.json())
    [error] = logs.events("http.exception")
    assert error["exception"]["message"] == "raw middleware failed"
    [access] = access_lines(logs)
    assert (access["http.response.status_code"], access["error.code"]) == (
        500,
        "INTERNAL",
    )


def own_exception_handler(app: FastAPI) -> list[str]:
    """Register the app's own handler for Exception; return what it handles."""
    handled: list[str] = []

    @app.exception_handler(Exception)
    async def own(request: Request, exc: Exception) -> Response:
        handled.append(str(exc))
        return JSONResponse({"detail": "ours"}, status_code=500)

    return handled


def test_apps_own_exception_handler_answers_errors_of_its_middleware(
    logs: LogCapture,
) -> None:
    app = FastAPI()

    class Failing(BaseHTTPMiddleware):
        async def dispatch(
            self, request: Request, call_next: Callable[..., Any]
        ) -> Response:
            raise RuntimeError("middleware failed")

    @app.get("/fail")
    async def fail() -> None:
        return None

    app.add_middleware(Failing)
    hiccup.install(app)
    hiccup.configure_logging(hiccup.Settings(), stream=logs.stream)

    handled = own_exception_handler(app)

    sent = get(app, "/fail")

    assert handled == ["middleware failed"]
    assert (sent.status, sent.json()) == (500, {"detail": "ours"})
    assert sent.header("x-request-id") is not None
    assert len(logs.events("http.exception")) == 1


def test_route_errors_get_the_envelope_beside_an_apps_own_handler(
    logs: LogCapture,
) -> None:
    app = FastAPI()

    @app.get("/fail")
    async def fail() -> None:
        raise RuntimeError("route failed")

    hiccup.install(app)
    hiccup.configure_logging(hiccup.Settings(), stream=logs.stream)

    handled = own_exception_handler(app)

    sent = get(app, "/fail")

    # The same as in an app with middleware of its own: hiccup answers what
    # routes raise; the app's handler is for what its middleware raises.
    assert handled == []
    assert (sent.status, sent.json()["code"]) == (500, "INTERNAL")
    assert sent.header_values("x-request-id") == [sent.json()["request_id"]]
    assert len(logs.events("http.exception")) == 1


def test_error_after_yield_is_logged_once(app: FastAPI, logs: LogCapture) -> None:
    sent = get(app, "/after-yield")

    assert sent.status == 200
    [error] = logs.events("http.exception")
    assert error["exception"]["message"] == "cleanup failed"


def test_error_mid_stream_ends_the_stream_and_is_raised_on(
    app: FastAPI, logs: LogCapture
) -> None:
    with pytest.raises(RuntimeError, match="stream broke"):
        get(app, "/stream")

    [error] = logs.events("http.exception")
    assert error["exception"]["message"] == "stream broke"
    [line] = access_lines(logs)
    assert (line["http.response.status_code"], line["error.code"]) == (200, "INTERNAL")


def test_error_mid_event_stream_sends_an_error_event(
    app: FastAPI, logs: LogCapture
) -> None:
    sent = get(app, "/events")

    assert sent.status == 200
    first, last = sent.body.split(b"\n\n", 1)
    assert first == b"data: one"
    assert last.startswith(b"event: error\ndata: ")
    envelope = json.loads(last.split(b"data: ", 1)[1])
    assert (envelope["status"], envelope["code"]) == (503, "MODEL_OVERLOADED")
    assert_valid("envelope", envelope)
    assert sent.messages[-1]["more_body"] is False
    [error] = logs.events("http.exception")
    assert error["error.code"] == "MODEL_OVERLOADED"


# Logs


def test_one_access_line_per_request_with_the_route_template(
    app: FastAPI, logs: LogCapture
) -> None:
    get(app, "/items/7")
    get(app, "/nowhere/at/all")

    found, missing = access_lines(logs)
    assert found["http.route"] == "/items/{item_id}"
    assert "http.route" not in missing
    for line in (found, missing):
        assert line["http.request.method"] == "GET"
        assert line["duration_ms"] >= 0
        assert (line["service"], line["logger"], line["level"]) == (
            "tests",
            "hiccup.access",
            "info",
        )
        assert_valid("log-record", line)


def test_failure_writes_one_error_line_then_the_access_line(
    app: FastAPI, logs: LogCapture
) -> None:
    get(app, "/boom")

    error, access = logs.lines
    assert (error["event"], error["level"]) == ("http.exception", "error")
    assert error["exception"]["type"] == "RuntimeError"
    assert error["exception"]["message"] == "the secret is [REDACTED]"
    assert error["exception"]["frames"][-1]["function"] == "boom"
    assert (access["event"], access["level"]) == ("http.request", "error")
    assert_valid("log-record", error)


def test_client_errors_write_no_error_line(app: FastAPI, logs: LogCapture) -> None:
    get(app, "/http")
    get(app, "/nowhere")

    assert logs.events("http.exception") == []


class BrokenStream(io.RawIOBase):
    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        raise OSError("disk full")


def test_broken_log_sink_never_breaks_the_response(
    capsys: pytest.CaptureFixture[str],
) -> None:
    app = build_app()
    hiccup.configure_logging(hiccup.Settings(), stream=BrokenStream())  # type: ignore[arg-type]

    ok = get(app, "/ok")
    failed = get(app, "/boom")

    assert ok.status == 200
    assert (failed.status, failed.json()["code"]) == (500, "INTERNAL")
    assert "hiccup: could not write a log line" in capsys.readouterr().err


# Body limits


def test_declared_body_over_the_limit_is_a_413() -> None:
    app = build_app(hiccup.Settings(max_body_bytes=100))

    sent = run(
        call(
            app,
            "POST",
            "/drafts",
            headers=[(b"content-length", b"101")],
            body=b"x" * 101,
        )
    )

    assert (sent.status, sent.json()["code"]) == (413, "PAYLOAD_TOO_LARGE")


def test_streamed_body_over_the_limit_is_a_413() -> None:
    app = build_app(hiccup.Settings(max_body_bytes=100))
    chunks = [b'{"prompt": "', b"x" * 60, b"y" * 60, b'"}']

    sent = run(
        call(
            app,
            "POST",
            "/drafts",
            headers=[
                (b"transfer-encoding", b"chunked"),
                (b"content-type", b"application/json"),
            ],
            body=chunks,
        )
    )

    assert (sent.status, sent.json()["code"]) == (413, "PAYLOAD_TOO_LARGE")


def test_malformed_content_length_is_a_400() -> None:
    app = build_app(hiccup.Settings(max_body_bytes=100))

    sent = run(call(app, "POST", "/drafts", headers=[(b"content-length", b"12abc")]))

    assert (sent.status, sent.json()["code"]) == (400, "BAD_REQUEST")


def test_body_within_the_limit_is_served() -> None:
    app = build_app(hiccup.Settings(max_body_bytes=100))
    body = b'{"prompt": "short"}'

    sent = run(
        call(
            app,
            "POST",
            "/drafts",
            headers=[
                (b"content-length", str(len(body)).encode()),
                (b"content-type", b"application/json"),
            ],
            body=body,
        )
    )

    assert (sent.status, sent.json()) == (200, {"prompt": "short", "n": 1})


# Install and other scopes


def test_logging_can_be_left_to_the_apps_own_setup(logs: LogCapture) -> None:
    app = FastAPI()

    @app.get("/ok")
    async def ok() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("boom")

    root_handlers = logging.getLogger().handlers[:]
    hiccup.install(app, hiccup.Settings(manage_logging=False))

    with structlog.testing.capture_logs() as captured:
        ok_sent = get(app, "/ok")
        boom_sent = get(app, "/boom")

    assert logging.getLogger().handlers == root_handlers
    assert logs.lines == []
    assert [
        (e["event"], e["log_level"], e.get("http.response.status_code"))
        for e in captured
    ] == [
        ("http.request", "info", 200),
        ("http.exception", "error", None),
        ("http.request", "error", 500),
    ]
    assert (ok_sent.status, boom_sent.json()["code"]) == (200, "INTERNAL")


def test_install_twice_is_refused() -> None:
    app = build_app()

    with pytest.raises(hiccup.InstallError, match="called twice"):
        hiccup.install(app)


def test_install_after_serving_is_refused() -> None:
    app = FastAPI()
    get(app, "/")

    with pytest.raises(hiccup.InstallError, match="before the app serves"):
        hiccup.install(app)


def test_websocket_and_lifespan_scopes_pass_through_untouched() -> None:
    seen: list[dict[str, Any]] = []

    async def inner(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.append(scope)
        await send({"type": f"{scope['type']}.ok"})

    middleware = hiccup.HiccupMiddleware(inner)
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        return {}

    for kind in ("websocket", "lifespan"):
        scope = {"type": kind, "headers": [(b"x-request-id", b"abc")]}
        asyncio.run(middleware(scope, receive, send))  # type: ignore[arg-type]

    assert [s["type"] for s in seen] == ["websocket", "lifespan"]
    assert all(set(s) == {"type", "headers"} for s in seen)
    assert sent == [{"type": "websocket.ok"}, {"type": "lifespan.ok"}]


def test_plain_asgi_app_gets_ids_and_envelopes(logs: LogCapture) -> None:
    async def inner(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["path"] == "/fail":
            raise RuntimeError("raw failure")
        status = 404 if scope["path"] == "/missing" else 200
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"text/plain")],
            }
        )
        await send(
            {
                "type": "http.response.body",
                "body": b"Not Found" if status == 404 else b"hi",
            }
        )

    middleware = hiccup.HiccupMiddleware(inner)  # type: ignore[arg-type]

    ok = run(call(middleware, "GET", "/"))
    missing = run(call(middleware, "GET", "/missing"))
    failed = run(call(middleware, "GET", "/fail"))

    assert (ok.status, ok.body) == (200, b"hi")
    assert ok.header("x-request-id") is not None
    assert (missing.status, missing.json()["code"]) == (404, "NOT_FOUND")
    assert missing.header_values("x-request-id") == [missing.json()["request_id"]]
    assert (failed.status, failed.json()["code"]) == (500, "INTERNAL")
    assert [line["event"] for line in logs.lines] == [
        "http.request",
        "http.request",
        "http.exception",
        "http.request",
    ]


class Unprintable:
    def __repr__(self) -> str:
        raise RuntimeError("cannot render")


def test_renderer_failure_never_breaks_the_response(
    logs: LogCapture, capsys: pytest.CaptureFixture[str]
) -> None:
    app = FastAPI()

    @app.get("/odd")
    async def odd() -> dict[str, bool]:
        context.bind(odd=Unprintable())
        return {"ok": True}

    hiccup.install(app)
    hiccup.configure_logging(hiccup.Settings(), stream=logs.stream)

    sent = get(app, "/odd")

    assert (sent.status, sent.json()) == (200, {"ok": True})
    assert logs.lines == []
    assert "hiccup: could not write a log line" in capsys.readouterr().err
