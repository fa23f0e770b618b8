"""The caller's deadline (``X-Request-Deadline-Ms``): read once, kept to by
retries and model calls, and a request nobody waits for is never served."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from support import LogCapture, Sent, call

import hiccup
from hiccup import Code, Problem, context
from hiccup._deadline import MAX_DEADLINE_MS, parse_deadline_ms
from hiccup._mapping import outcome_for_exception
from hiccup.resilience import AttemptTimeout, RetriesExhausted, RetryPolicy, retry

HEADER = b"x-request-deadline-ms"


class Unavailable(Exception):
    """An attempt's failure that is always worth retrying."""


def _retry_everything(outcome: object) -> bool:
    return isinstance(outcome, Unavailable | AttemptTimeout)


def build_app(seen: dict[str, Any]) -> FastAPI:
    app = FastAPI()

    @app.get("/left")
    async def left() -> dict[str, float | None]:
        seen["served"] = seen.get("served", 0) + 1
        return {"left": context.time_left()}

    @app.get("/left-sync")
    def left_sync() -> dict[str, float | None]:
        return {"left": context.time_left()}

    @app.get("/retried")
    async def retried() -> None:
        async def attempt() -> None:
            seen["attempts"] = seen.get("attempts", 0) + 1
            raise Unavailable

        # No deadline of its own, and waits far longer than the caller.
        policy = RetryPolicy(max_attempts=50, base=0.2, cap=0.2)
        await retry(attempt, policy, classify=_retry_everything)

    @app.get("/hangs")
    async def hangs() -> None:
        async def attempt() -> None:
            try:
                await asyncio.sleep(30)
            except asyncio.CancelledError:
                seen["cancelled"] = True
                raise

        await retry(attempt, RetryPolicy(max_attempts=1), classify=_retry_everything)

    @hiccup.model_call("openai", "gpt-4.1", "chat")
    async def draft() -> str:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            seen["model_cancelled"] = True
            raise
        return "never"

    @app.get("/model")
    async def model() -> str:
        return await draft()

    return hiccup.install(app, hiccup.Settings(service_name="tests"))


@pytest.fixture
def seen() -> dict[str, Any]:
    return {}


@pytest.fixture
def app(seen: dict[str, Any], logs: LogCapture) -> FastAPI:
    built = build_app(seen)
    hiccup.configure_logging(hiccup.Settings(service_name="tests"), stream=logs.stream)
    return built


def get(app: FastAPI, path: str, *headers: tuple[bytes, bytes]) -> Sent:
    return asyncio.run(call(app, "GET", path, headers=headers))


# Reading the header


@pytest.mark.parametrize(
    ("value", "milliseconds"),
    [(b"0", 0), (b"1500", 1500), (b" 20\t", 20), (b"999999999999999", MAX_DEADLINE_MS)],
)
def test_a_deadline_is_whole_milliseconds_up_to_a_day(
    value: bytes, milliseconds: int
) -> None:
    assert parse_deadline_ms(value) == milliseconds


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (b"", "''"),
        (b"soon", "'soon'"),
        (b"-5", "'-5'"),
        (b"1.5", "'1.5'"),
        (b"1e3", "'1e3'"),
        (b"1000000000000000", "'1000000000000000'"),
        (b"9" * 40, "'" + "9" * 32 + "'..."),
    ],
)
def test_a_malformed_deadline_is_named_in_the_error(value: bytes, shown: str) -> None:
    with pytest.raises(ValueError, match=r"^X-Request-Deadline-Ms ") as raised:
        parse_deadline_ms(value)

    assert str(raised.value) == (
        f"X-Request-Deadline-Ms must be a whole number of milliseconds, not {shown}"
    )


def test_the_time_left_counts_down_from_the_header(app: FastAPI) -> None:
    sent = get(app, "/left", (HEADER, b"5000"))

    assert sent.status == 200
    assert 0 < sent.json()["left"] <= 5.0


def test_threadpool_endpoints_see_the_time_left(app: FastAPI) -> None:
    sent = get(app, "/left-sync", (HEADER, b"5000"))

    assert 0 < sent.json()["left"] <= 5.0


def test_without_the_header_there_is_no_deadline(app: FastAPI) -> None:
    assert get(app, "/left").json() == {"left": None}
    assert context.time_left() is None


def test_the_first_of_repeated_headers_counts(app: FastAPI) -> None:
    sent = get(app, "/left", (HEADER, b"5000"), (HEADER, b"0"))

    assert sent.status == 200
    assert 4.0 < sent.json()["left"] <= 5.0


def test_a_malformed_header_is_logged_and_the_request_served(
    app: FastAPI, logs: LogCapture
) -> None:
    sent = get(app, "/left", (HEADER, b"tomorrow"))

    assert sent.status == 200
    assert sent.json() == {"left": None}
    [line] = logs.events("request.deadline_invalid")
    assert line["level"] == "warning"
    assert line["reason"] == (
        "X-Request-Deadline-Ms must be a whole number of milliseconds, not 'tomorrow'"
    )
    assert line["request_id"] == sent.header("x-request-id")


# A request nobody waits for


def test_a_request_given_no_time_is_answered_without_the_app(
    app: FastAPI, seen: dict[str, Any], logs: LogCapture
) -> None:
    sent = get(app, "/left", (HEADER, b"0"))

    assert "served" not in seen
    assert sent.status == 504
    assert sent.json()["code"] == "SERVER_TIMEOUT"
    assert sent.header("x-should-retry") == "false"
    [access] = logs.events("http.request")
    assert access["http.response.status_code"] == 504
    assert access["error.code"] == "SERVER_TIMEOUT"
    assert logs.events("http.error") == []


# What keeps to it


def test_retries_stop_when_the_caller_stops_waiting(
    app: FastAPI, seen: dict[str, Any]
) -> None:
    sent = get(app, "/retried", (HEADER, b"300"))

    # Waits of up to 0.2 s: a few attempts fit in 0.3 s, never 50.
    assert 1 <= seen["attempts"] <= 10
    assert sent.status == 504
    assert sent.json()["code"] == "UPSTREAM_TIMEOUT"
    assert sent.header("x-should-retry") == "false"


def test_an_attempt_is_cancelled_when_the_caller_stops_waiting(
    app: FastAPI, seen: dict[str, Any]
) -> None:
    started = time.monotonic()
    sent = get(app, "/hangs", (HEADER, b"100"))

    assert seen["cancelled"] is True
    assert time.monotonic() - started < 30
    assert sent.status == 504
    assert sent.json()["code"] == "UPSTREAM_TIMEOUT"


def test_a_model_call_is_cancelled_when_the_caller_stops_waiting(
    app: FastAPI, seen: dict[str, Any]
) -> None:
    sent = get(app, "/model", (HEADER, b"100"))

    assert seen["model_cancelled"] is True
    assert sent.status == 504
    assert sent.json()["code"] == "SERVER_TIMEOUT"


def test_a_retrying_call_started_too_late_makes_no_attempt() -> None:
    attempts = 0

    async def attempt() -> None:
        nonlocal attempts
        attempts += 1

    async def late() -> None:
        with context.request_scope() as scope:
            scope.deadline = time.monotonic() - 1
            await retry(attempt, RetryPolicy())

    with pytest.raises(RetriesExhausted) as raised:
        asyncio.run(late())

    assert (raised.value.attempts, raised.value.reason) == (0, "deadline")
    assert attempts == 0


def test_a_policy_deadline_shorter_than_the_callers_still_counts() -> None:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    async def attempt() -> None:
        raise Unavailable

    policy = RetryPolicy(
        max_attempts=5, base=10, cap=10, deadline=0.5, sleep=sleep, random=lambda: 0.99
    )

    async def scoped() -> None:
        with context.request_scope() as scope:
            scope.deadline = time.monotonic() + 60
            await retry(attempt, policy, classify=_retry_everything)

    with pytest.raises(RetriesExhausted):
        asyncio.run(scoped())

    assert waits
    assert all(wait <= 0.5 for wait in waits)


# What a server that has retried answers


def _exhausted(
    reason: str = "attempts",
    *,
    last_exception: BaseException | None = None,
    status: int | None = None,
) -> RetriesExhausted:
    response = None
    if status is not None:
        response = httpx.Response(status, request=httpx.Request("GET", "http://up"))
    return RetriesExhausted(
        3,
        reason,  # type: ignore[arg-type]
        last_exception=last_exception,
        last_response=response,
    )


@pytest.mark.parametrize(
    ("exhausted", "status", "code"),
    [
        (_exhausted(status=503), 503, "DEPENDENCY_UNAVAILABLE"),
        (_exhausted(status=429), 503, "DEPENDENCY_UNAVAILABLE"),
        (_exhausted(status=502), 502, "UPSTREAM_ERROR"),
        (_exhausted(status=500), 502, "UPSTREAM_ERROR"),
        (_exhausted(status=504), 504, "UPSTREAM_TIMEOUT"),
        (_exhausted("deadline", status=503), 504, "UPSTREAM_TIMEOUT"),
        (_exhausted(last_exception=httpx.ReadTimeout("slow")), 504, "UPSTREAM_TIMEOUT"),
        (_exhausted(last_exception=AttemptTimeout(2.0)), 504, "UPSTREAM_TIMEOUT"),
        (
            _exhausted(last_exception=httpx.ConnectError("refused")),
            503,
            "DEPENDENCY_UNAVAILABLE",
        ),
        (
            _exhausted("budget", last_exception=Problem(Code.MODEL_OVERLOADED)),
            503,
            "MODEL_OVERLOADED",
        ),
    ],
)
def test_retries_run_out_as_the_dependency_failed_and_say_not_to_retry(
    exhausted: RetriesExhausted, status: int, code: str
) -> None:
    outcome = outcome_for_exception(exhausted)

    assert (outcome.status, outcome.code) == (status, code)
    assert outcome.should_retry is False
    assert outcome.debug is None
