from __future__ import annotations

import asyncio
import dataclasses
import functools
import math
import os
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from flaky_server import Flaky
from servers import free_port
from support import LogCapture

from hiccup import HiccupError
from hiccup.resilience._budget import BudgetConfig, RetryBudget
from hiccup.resilience._retry import (
    BACKOFF_BASE,
    BACKOFF_CAP,
    HINT_SPREAD,
    MAX_ATTEMPTS,
    MAX_HINT,
    Attempt,
    AttemptTimeout,
    RequestNotSent,
    RetriesExhausted,
    RetryPolicy,
    SuppressedRetry,
    is_retryable,
    parse_retry_hint,
    retry,
    retry_sync,
    retrying,
)

URL = "http://dependency.test/things"
NOW = datetime(2025, 1, 1, tzinfo=UTC)
JUST_UNDER_ONE = math.nextafter(1.0, 0.0)


@dataclass
class Timeline:
    """Simulated time: a clock that moves only by sleeps and by attempts."""

    now: float = 100.0
    waits: list[float] = field(default_factory=list)

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleep_sync(seconds)

    def sleep_sync(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


MakePolicy = Callable[..., RetryPolicy]


@pytest.fixture
def timeline() -> Timeline:
    return Timeline()


@pytest.fixture
def make_policy(timeline: Timeline) -> MakePolicy:
    """Return a factory of policies on simulated time, drawing 0.5."""

    def make(**overrides: Any) -> RetryPolicy:
        options: dict[str, Any] = {
            "clock": timeline.clock,
            "wall_clock": lambda: NOW,
            "random": lambda: 0.5,
            "sleep": timeline.sleep,
            "sleep_sync": timeline.sleep_sync,
        }
        return RetryPolicy(**{**options, **overrides})

    return make


def response(
    status: int,
    headers: dict[str, str] | None = None,
    *,
    method: str = "GET",
    request_headers: dict[str, str] | None = None,
) -> httpx.Response:
    request = httpx.Request(method, URL, headers=request_headers)
    return httpx.Response(status, headers=headers, request=request)


def request(method: str = "GET", **headers: str) -> httpx.Request:
    return httpx.Request(method, URL, headers=headers)


class Script:
    """An attempt that plays the given outcomes in order, the last one on."""

    def __init__(
        self, *outcomes: object, timeline: Timeline | None = None, takes: float = 0
    ) -> None:
        self.outcomes = outcomes
        self.timeline = timeline
        self.takes = takes
        self.calls = 0

    async def __call__(self) -> object:
        return self.play()

    def play(self) -> object:
        outcome = self.outcomes[min(self.calls, len(self.outcomes) - 1)]
        self.calls += 1
        if self.timeline is not None:
            self.timeline.now += self.takes
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


class Hooks:
    """Records what the hooks of a retrying call saw."""

    def __init__(self) -> None:
        self.attempts: list[Attempt] = []
        self.suppressed: list[SuppressedRetry] = []

    def options(self) -> dict[str, Any]:
        return {
            "on_attempt": self.attempts.append,
            "on_suppressed": self.suppressed.append,
        }

    @property
    def outcomes(self) -> list[str]:
        return [attempt.outcome for attempt in self.attempts]


# The policy


def test_defaults_are_three_attempts_of_full_jitter_from_a_quarter_second() -> None:
    policy = RetryPolicy()

    assert (MAX_ATTEMPTS, BACKOFF_BASE, BACKOFF_CAP, MAX_HINT) == (3, 0.25, 4.0, 30.0)
    assert HINT_SPREAD == 0.1
    assert policy.max_attempts == MAX_ATTEMPTS
    assert (policy.base, policy.cap, policy.max_hint) == (0.25, 4.0, 30.0)
    assert policy.deadline is None
    assert policy.attempt_timeout is None


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"max_attempts": 0}, "max_attempts must be a whole number >= 1, not 0"),
        ({"max_attempts": 1.5}, "max_attempts must be a whole number >= 1, not 1.5"),
        ({"max_attempts": True}, "max_attempts must be a whole number >= 1, not True"),
        ({"base": 0}, "base must be a number > 0, not 0"),
        ({"base": math.nan}, "base must be a number > 0, not nan"),
        ({"cap": 0.1}, "cap must be a number >= base (0.25), not 0.1"),
        ({"cap": math.inf}, "cap must be a number >= base (0.25), not inf"),
        ({"deadline": 0}, "deadline must be None or a number > 0, not 0"),
        ({"deadline": -1.0}, "deadline must be None or a number > 0, not -1.0"),
        ({"attempt_timeout": 0}, "attempt_timeout must be None or a number > 0"),
        ({"max_hint": -1}, "max_hint must be a number >= 0, not -1"),
        ({"max_hint": math.nan}, "max_hint must be a number >= 0, not nan"),
    ],
    ids=[
        "zero-attempts",
        "fractional-attempts",
        "bool-attempts",
        "zero-base",
        "nan-base",
        "cap-below-base",
        "infinite-cap",
        "zero-deadline",
        "negative-deadline",
        "zero-attempt-timeout",
        "negative-max-hint",
        "nan-max-hint",
    ],
)
def test_policy_rejects_values_out_of_range(
    overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        RetryPolicy(**overrides)


def test_policy_is_immutable() -> None:
    policy = RetryPolicy()

    with pytest.raises(dataclasses.FrozenInstanceError):
        policy.max_attempts = 5  # type: ignore[misc]


@pytest.mark.parametrize(
    ("retry_number", "ceiling"),
    [(1, 0.25), (2, 0.5), (3, 1.0), (4, 2.0), (5, 4.0), (6, 4.0), (10_000, 4.0)],
)
def test_the_ceiling_doubles_from_base_up_to_cap(
    retry_number: int, ceiling: float
) -> None:
    assert RetryPolicy().ceiling(retry_number) == ceiling


def test_a_draw_of_zero_waits_nothing() -> None:
    policy = RetryPolicy(max_attempts=10)

    assert policy.next_wait(4, random=lambda: 0.0) == 0.0


def test_a_draw_just_under_one_waits_just_under_the_ceiling() -> None:
    policy = RetryPolicy(max_attempts=10)

    wait = policy.next_wait(3, random=lambda: JUST_UNDER_ONE)

    assert wait is not None
    assert 0.999 < wait < 1.0


def test_the_cap_bounds_every_later_wait() -> None:
    policy = RetryPolicy(max_attempts=100)

    waits = [policy.next_wait(n, random=lambda: JUST_UNDER_ONE) for n in (5, 6, 99)]

    assert all(wait is not None and 3.999 < wait < 4.0 for wait in waits)


def test_the_last_allowed_retry_gets_a_wait() -> None:
    policy = RetryPolicy(max_attempts=3, random=lambda: 0.5)

    assert policy.next_wait(2) == 0.25
    assert policy.give_up_reason(2) is None


def test_no_retry_follows_the_last_attempt() -> None:
    policy = RetryPolicy(max_attempts=3)

    assert policy.next_wait(3) is None
    assert policy.give_up_reason(3) == "attempts"


def test_retry_numbers_start_at_one() -> None:
    with pytest.raises(ValueError, match="retry_number must be >= 1, not 0"):
        RetryPolicy().next_wait(0)


def test_the_deadline_clamps_a_longer_wait() -> None:
    policy = RetryPolicy(random=lambda: JUST_UNDER_ONE)

    assert policy.next_wait(1, remaining=0.1) == 0.1


def test_the_deadline_leaves_a_shorter_wait_alone() -> None:
    policy = RetryPolicy(random=lambda: 0.5)

    assert policy.next_wait(1, remaining=0.2) == 0.125


@pytest.mark.parametrize("remaining", [0.0, -1.0], ids=["reached", "passed"])
def test_no_time_left_gives_up(remaining: float) -> None:
    policy = RetryPolicy()

    assert policy.next_wait(1, remaining=remaining) is None
    assert policy.give_up_reason(1, remaining=remaining) == "deadline"


def test_a_hint_replaces_the_jitter_draw() -> None:
    policy = RetryPolicy(random=lambda: 0.0)

    assert policy.next_wait(1, hint=10.0) == 10.0


def test_the_hint_spread_stays_under_a_tenth() -> None:
    policy = RetryPolicy(random=lambda: JUST_UNDER_ONE)

    wait = policy.next_wait(1, hint=10.0)

    assert wait is not None
    assert 10.999 < wait <= 11.0


def test_a_zero_hint_retries_at_once() -> None:
    assert RetryPolicy(random=lambda: 0.7).next_wait(1, hint=0.0) == 0.0


def test_a_hint_at_the_cap_is_honoured() -> None:
    policy = RetryPolicy(random=lambda: 0.0)

    assert policy.next_wait(1, hint=30.0) == 30.0


def test_a_hint_above_the_cap_is_refused() -> None:
    policy = RetryPolicy()

    assert policy.next_wait(1, hint=30.001) is None
    assert policy.give_up_reason(1, hint=30.001) == "hint"


def test_a_hint_ending_at_the_deadline_is_clamped_to_it() -> None:
    policy = RetryPolicy(random=lambda: 0.5)

    assert policy.next_wait(1, hint=5.0, remaining=5.0) == 5.0


def test_a_hint_ending_past_the_deadline_gives_up() -> None:
    policy = RetryPolicy()

    assert policy.next_wait(1, hint=5.001, remaining=5.0) is None
    assert policy.give_up_reason(1, hint=5.001, remaining=5.0) == "hint"


def test_next_wait_prefers_the_draws_it_is_given() -> None:
    policy = RetryPolicy(random=lambda: 0.0)

    assert policy.next_wait(2, random=lambda: 0.5) == 0.25


# Server hints


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"Retry-After": "3"}, 3.0),
        ({"Retry-After": "0"}, 0.0),
        ({"Retry-After": " 7 "}, 7.0),
        ({"Retry-After": "1.5"}, 1.5),
        ({"retry-after": "3"}, 3.0),
        ({"Retry-After": "Wed, 01 Jan 2025 00:00:30 GMT"}, 30.0),
        ({"Retry-After": "Wed, 01 Jan 2025 00:00:00 GMT"}, 0.0),
        ({"Retry-After": "Tue, 31 Dec 2024 23:59:00 GMT"}, 0.0),
        ({"retry-after-ms": "1500"}, 1.5),
        ({"retry-after-ms": "12.5"}, 0.0125),
        ({"Retry-After-Ms": "0"}, 0.0),
        ({"retry-after-ms": "250", "Retry-After": "9"}, 0.25),
        ({"retry-after-ms": "soon", "Retry-After": "9"}, 9.0),
        ({"retry-after-ms": "250", "Retry-After": "soon"}, 0.25),
    ],
    ids=[
        "seconds",
        "zero-seconds",
        "padded-seconds",
        "fractional-seconds",
        "lower-case-name",
        "future-date",
        "date-now",
        "past-date",
        "milliseconds",
        "fractional-milliseconds",
        "zero-milliseconds",
        "milliseconds-win",
        "bad-milliseconds-fall-back",
        "bad-seconds-ignored",
    ],
)
def test_hints_are_parsed(headers: dict[str, str], seconds: float) -> None:
    assert parse_retry_hint(headers, now=NOW) == pytest.approx(seconds)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Retry-After": "soon"},
        {"Retry-After": ""},
        {"Retry-After": "-1"},
        {"Retry-After": "1e3"},
        {"Retry-After": "nan"},
        {"Retry-After": "inf"},
        {"Retry-After": "9" * 400},
        {"Retry-After": "Wed, 99 Foo 2025 00:00:00 GMT"},
        {"retry-after-ms": "-5"},
        {"retry-after-ms": "soon"},
        {"retry-after-ms": "-5", "Retry-After": "-1"},
    ],
    ids=[
        "absent",
        "word",
        "empty",
        "negative",
        "exponent",
        "nan",
        "inf",
        "overflowing",
        "bad-date",
        "negative-milliseconds",
        "word-milliseconds",
        "both-negative",
    ],
)
def test_malformed_hints_are_ignored(headers: dict[str, str]) -> None:
    assert parse_retry_hint(headers, now=NOW) is None


def test_hints_are_read_from_httpx_headers() -> None:
    headers = httpx.Headers({"RETRY-AFTER": "4"})

    assert parse_retry_hint(headers, now=NOW) == 4.0


def test_a_naive_now_is_taken_as_utc() -> None:
    headers = {"Retry-After": "Wed, 01 Jan 2025 00:01:00 GMT"}

    assert parse_retry_hint(headers, now=datetime(2025, 1, 1)) == 60.0


def test_dates_are_relative_to_the_current_time_by_default() -> None:
    headers = {"Retry-After": "Sat, 01 Jan 2000 00:00:00 GMT"}

    assert parse_retry_hint(headers) == 0.0


# The classifier

ALWAYS, IDEMPOTENT_ONLY, NEVER = "always", "idempotent only", "never"
STATUS_RULES = {
    200: NEVER,
    204: NEVER,
    304: NEVER,
    400: NEVER,
    401: NEVER,
    404: NEVER,
    408: ALWAYS,
    409: NEVER,
    422: NEVER,
    429: ALWAYS,
    500: IDEMPOTENT_ONLY,
    501: NEVER,
    502: ALWAYS,
    503: ALWAYS,
    504: ALWAYS,
    505: NEVER,
}
IDEMPOTENT = ["GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"]
METHODS = [*IDEMPOTENT, "POST", "PATCH"]


@pytest.mark.parametrize("key", [False, True], ids=["no-key", "idempotency-key"])
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("status", list(STATUS_RULES))
def test_statuses_are_retried_by_method_and_key(
    status: int, method: str, key: bool
) -> None:
    headers = {"Idempotency-Key": "k-1"} if key else None
    rule = STATUS_RULES[status]
    expected = rule == ALWAYS or (
        rule == IDEMPOTENT_ONLY and (method in IDEMPOTENT or key)
    )

    outcome = response(status, method=method, request_headers=headers)

    assert is_retryable(outcome) is expected


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("status", [400, 404, 500, 501, 503])
@pytest.mark.parametrize("value", ["true", "TRUE", " True "])
def test_should_retry_true_overrides_the_status(
    value: str, status: int, method: str
) -> None:
    outcome = response(status, {"X-Should-Retry": value}, method=method)

    assert is_retryable(outcome) is True


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
@pytest.mark.parametrize("value", ["false", "False"])
def test_should_retry_false_overrides_the_status(
    value: str, status: int, method: str
) -> None:
    outcome = response(status, {"x-should-retry": value}, method=method)

    assert is_retryable(outcome) is False


@pytest.mark.parametrize("value", ["yes", "1", "", "no"])
@pytest.mark.parametrize(
    ("status", "method", "expected"),
    [
        (503, "POST", True),
        (500, "POST", False),
        (500, "GET", True),
        (404, "GET", False),
    ],
)
def test_other_should_retry_values_are_ignored(
    value: str, status: int, method: str, expected: bool
) -> None:
    outcome = response(status, {"X-Should-Retry": value}, method=method)

    assert is_retryable(outcome) is expected


def test_should_retry_never_repeats_a_success() -> None:
    assert is_retryable(response(200, {"X-Should-Retry": "true"})) is False


@pytest.mark.parametrize(
    "error",
    [
        httpx.ConnectError("refused", request=request("POST")),
        httpx.ConnectTimeout("slow handshake", request=request("POST")),
        httpx.PoolTimeout("no connection free", request=request("POST")),
        RequestNotSent("never sent"),
        ConnectionRefusedError("refused"),
    ],
    ids=["connect-error", "connect-timeout", "pool-timeout", "not-sent", "refused"],
)
def test_a_post_that_was_never_sent_is_retried(error: Exception) -> None:
    assert is_retryable(error) is True


ANSWER_LOST = [
    httpx.ReadTimeout,
    httpx.ReadError,
    httpx.RemoteProtocolError,
    httpx.WriteTimeout,
    httpx.WriteError,
]


@pytest.mark.parametrize(
    ("method", "headers", "expected"),
    [
        ("GET", {}, True),
        ("PUT", {}, True),
        ("POST", {}, False),
        ("PATCH", {}, False),
        ("POST", {"Idempotency-Key": "k-1"}, True),
        ("POST", {"Idempotency-Key": " "}, False),
    ],
    ids=["get", "put", "post", "patch", "post-with-key", "post-with-blank-key"],
)
@pytest.mark.parametrize("kind", ANSWER_LOST, ids=lambda kind: kind.__name__)
def test_a_lost_answer_is_retried_only_when_idempotent(
    kind: type[httpx.TransportError],
    method: str,
    headers: dict[str, str],
    expected: bool,
) -> None:
    error = kind("no answer", request=request(method, **headers))

    assert is_retryable(error) is expected


@pytest.mark.parametrize(
    ("method", "expected"),
    [("GET", True), ("DELETE", True), ("POST", False), (None, False)],
    ids=["get", "delete", "post", "unknown"],
)
def test_an_attempt_timeout_counts_as_a_read_timeout(
    method: str | None, expected: bool
) -> None:
    assert is_retryable(AttemptTimeout(2.0), method=method) is expected


def test_a_key_given_with_the_method_makes_a_post_idempotent() -> None:
    outcome = AttemptTimeout(2.0)

    assert is_retryable(
        outcome, method="POST", request_headers={"idempotency-key": "k-1"}
    )


@pytest.mark.parametrize(
    ("status", "method", "expected"),
    [
        (503, "POST", True),
        (500, "POST", False),
        (500, "GET", True),
        (404, "GET", False),
    ],
)
def test_a_status_error_is_judged_by_its_response(
    status: int, method: str, expected: bool
) -> None:
    failed = response(status, method=method)
    error = httpx.HTTPStatusError("failed", request=failed.request, response=failed)

    assert is_retryable(error) is expected


@pytest.mark.parametrize(
    "error",
    [ValueError("bug"), TimeoutError("own timeout"), RuntimeError("unknown")],
    ids=["value-error", "timeout-error", "runtime-error"],
)
def test_other_errors_are_not_retried(error: Exception) -> None:
    assert is_retryable(error, method="GET") is False


@pytest.mark.parametrize("value", [None, {"ok": True}, "text", 503])
def test_a_value_that_is_no_response_is_a_success(value: object) -> None:
    assert is_retryable(value, method="GET") is False


def test_the_given_method_wins_over_the_request() -> None:
    outcome = response(500, method="POST")

    assert is_retryable(outcome, method="GET") is True


def test_any_response_with_status_and_headers_is_judged() -> None:
    @dataclass
    class Answer:
        status_code: int
        headers: dict[str, str]

    assert is_retryable(Answer(500, {}), method="PUT") is True
    assert is_retryable(Answer(500, {}), method="POST") is False
    assert is_retryable(Answer(500, {"X-Should-Retry": "true"})) is True


def test_a_response_without_its_request_is_not_idempotent() -> None:
    assert is_retryable(httpx.Response(500)) is False


def test_the_classifier_does_not_import_httpx() -> None:
    script = (
        "import sys\n"
        "from hiccup.resilience._retry import is_retryable\n"
        "assert is_retryable(ConnectionRefusedError()) is True\n"
        "assert is_retryable(ValueError()) is False\n"
        "print('httpx' in sys.modules)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}

    done = subprocess.run(
        [sys.executable, "-c", script],
        check=False,
        capture_output=True,
        text=True,
        env=env,
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


# The retrying call


def test_a_success_is_returned_after_one_attempt(
    make_policy: MakePolicy, timeline: Timeline
) -> None:
    attempt = Script(response(200))
    hooks = Hooks()

    result = asyncio.run(retry(attempt, make_policy(), **hooks.options()))

    assert result.status_code == 200
    assert attempt.calls == 1
    assert timeline.waits == []
    assert hooks.outcomes == ["success"]


def test_two_failures_then_a_success_take_three_attempts(
    make_policy: MakePolicy, timeline: Timeline
) -> None:
    attempt = Script(response(503), response(503), response(200))

    result = asyncio.run(retry(attempt, make_policy()))

    assert result.status_code == 200
    assert attempt.calls == 3
    assert timeline.waits == [0.125, 0.25]


def test_three_failures_exhaust_three_attempts(make_policy: MakePolicy) -> None:
    errors = [httpx.ConnectError(f"refused {n}", request=request()) for n in range(3)]
    attempt = Script(*errors)

    with pytest.raises(RetriesExhausted) as raised:
        asyncio.run(retry(attempt, make_policy()))

    assert attempt.calls == 3
    assert raised.value.attempts == 3
    assert raised.value.reason == "attempts"
    assert raised.value.__cause__ is errors[2]
    assert raised.value.last_exception is errors[2]
    assert str(raised.value) == (
        "Gave up after 3 attempts: the policy allows no more attempts."
    )


def test_retries_exhausted_is_a_hiccup_error() -> None:
    assert issubclass(RetriesExhausted, HiccupError)
    assert issubclass(AttemptTimeout, HiccupError)
    assert issubclass(AttemptTimeout, TimeoutError)


def test_one_attempt_allows_no_retry(make_policy: MakePolicy) -> None:
    attempt = Script(response(503))

    with pytest.raises(RetriesExhausted) as raised:
        asyncio.run(retry(attempt, make_policy(max_attempts=1)))

    assert attempt.calls == 1
    assert str(raised.value) == (
        "Gave up after 1 attempt: the policy allows no more attempts."
    )


@pytest.mark.parametrize(
    ("max_attempts", "succeeds"), [(3, True), (2, False)], ids=["enough", "one-short"]
)
def test_a_success_on_the_last_allowed_attempt_counts(
    make_policy: MakePolicy, max_attempts: int, succeeds: bool
) -> None:
    attempt = Script(response(502), response(502), response(200))
    call = retry(attempt, make_policy(max_attempts=max_attempts))

    if succeeds:
        assert asyncio.run(call).status_code == 200
    else:
        with pytest.raises(RetriesExhausted):
            asyncio.run(call)
    assert attempt.calls == max_attempts


def test_an_error_not_worth_retrying_is_raised_as_it_is(
    make_policy: MakePolicy,
) -> None:
    bug = ValueError("bad input")
    attempt = Script(bug)
    hooks = Hooks()

    with pytest.raises(ValueError, match="bad input") as raised:
        asyncio.run(retry(attempt, make_policy(), **hooks.options()))

    assert raised.value is bug
    assert attempt.calls == 1
    assert hooks.outcomes == ["failure"]
    assert hooks.suppressed == []


def test_a_response_not_worth_retrying_is_returned(make_policy: MakePolicy) -> None:
    attempt = Script(response(404))
    hooks = Hooks()

    result = asyncio.run(retry(attempt, make_policy(), **hooks.options()))

    assert result.status_code == 404
    assert attempt.calls == 1
    assert hooks.outcomes == ["failure"]


def test_a_last_retryable_response_is_raised_with_it(make_policy: MakePolicy) -> None:
    last = response(503)
    attempt = Script(response(503), response(503), last)

    with pytest.raises(RetriesExhausted) as raised:
        asyncio.run(retry(attempt, make_policy()))

    assert raised.value.last_response is last
    assert raised.value.last_exception is None
    assert raised.value.__cause__ is None


def test_a_status_error_keeps_its_response_when_exhausted(
    make_policy: MakePolicy,
) -> None:
    failed = response(503)
    error = httpx.HTTPStatusError("failed", request=failed.request, response=failed)

    with pytest.raises(RetriesExhausted) as raised:
        asyncio.run(retry(Script(error), make_policy(max_attempts=2)))

    assert raised.value.__cause__ is error
    assert raised.value.last_response is failed


def test_a_classifier_of_ones_own_decides(make_policy: MakePolicy) -> None:
    attempt = Script(KeyError("flaky cache"), "value")

    result = asyncio.run(
        retry(attempt, make_policy(), classify=lambda o: isinstance(o, KeyError))
    )

    assert result == "value"
    assert attempt.calls == 2


def test_the_deadline_clamps_the_wait_then_gives_up(
    make_policy: MakePolicy, timeline: Timeline
) -> None:
    policy = make_policy(deadline=1.0, random=lambda: JUST_UNDER_ONE)
    attempt = Script(response(503), timeline=timeline, takes=0.9)
    hooks = Hooks()

    with pytest.raises(RetriesExhausted) as raised:
        asyncio.run(retry(attempt, policy, **hooks.options()))

    assert timeline.waits == [pytest.approx(0.1)]
    assert raised.value.reason == "deadline"
    assert raised.value.attempts == 2
    assert hooks.suppressed == [SuppressedRetry("deadline", 2)]


def test_a_deadline_far_enough_leaves_waits_alone(
    make_policy: MakePolicy, timeline: Timeline
) -> None:
    attempt = Script(response(503), response(503), response(200))

    asyncio.run(retry(attempt, make_policy(deadline=10.0)))

    assert timeline.waits == [0.125, 0.25]


def test_a_retry_after_replaces_the_backoff(
    make_policy: MakePolicy, timeline: Timeline
) -> None:
    attempt = Script(response(429, {"Retry-After": "2"}), response(200))

    asyncio.run(retry(attempt, make_policy()))

    assert timeline.waits == [pytest.approx(2.1)]  # 2 s and half the spread


def test_retry_after_ms_wins_in_the_call(
    make_policy: MakePolicy, timeline: Timeline
) -> None:
    hinted = response(503, {"Retry-After": "9", "retry-after-ms": "1500"})

    asyncio.run(retry(Script(hinted, response(200)), make_policy()))

    assert timeline.waits == [pytest.approx(1.575)]


def test_a_date_hint_is_relative_to_the_policys_wall_clock(
    make_policy: MakePolicy, timeline: Timeline
) -> None:
    hinted = response(503, {"Retry-After": "Wed, 01 Jan 2025 00:00:04 GMT"})
    policy = make_policy(wall_clock=lambda: NOW, random=lambda: 0.0)

    asyncio.run(retry(Script(hinted, response(200)), policy))

    assert timeline.waits == [4.0]


@pytest.mark.parametrize(
    ("seconds", "retried"), [("30", True), ("31", False)], ids=["at-cap", "above-cap"]
)
def test_a_hint_above_the_cap_ends_the_call(
    make_policy: MakePolicy, timeline: Timeline, seconds: str, retried: bool
) -> None:
    attempt = Script(response(429, {"Retry-After": seconds}), response(200))
    call = retry(attempt, make_policy(random=lambda: 0.0))

    if retried:
        asyncio.run(call)
        assert timeline.waits == [30.0]
    else:
        with pytest.raises(RetriesExhausted) as raised:
            asyncio.run(call)
        assert raised.value.reason == "hint"
        assert timeline.waits == []


def test_a_hint_past_the_deadline_gives_up(
    make_policy: MakePolicy, timeline: Timeline
) -> None:
    attempt = Script(response(503, {"Retry-After": "6"}))

    with pytest.raises(RetriesExhausted) as raised:
        asyncio.run(retry(attempt, make_policy(deadline=5.0)))

    assert raised.value.reason == "hint"
    assert attempt.calls == 1
    assert timeline.waits == []


def test_an_empty_budget_suppresses_the_retry(make_policy: MakePolicy) -> None:
    budget = RetryBudget(BudgetConfig(ratio=0, min_per_second=0))
    attempt = Script(response(503), response(200))
    hooks = Hooks()

    with pytest.raises(RetriesExhausted) as raised:
        asyncio.run(retry(attempt, make_policy(), budget=budget, **hooks.options()))

    assert raised.value.reason == "budget"
    assert str(raised.value) == "Gave up after 1 attempt: the retry budget is empty."
    assert attempt.calls == 1
    assert hooks.outcomes == ["suppressed"]
    assert hooks.suppressed == [SuppressedRetry("budget", 1)]


def test_the_budget_token_is_taken_before_the_wait(timeline: Timeline) -> None:
    budget = RetryBudget(clock=timeline.clock)
    seen: list[int] = []

    async def sleep(seconds: float) -> None:
        seen.append(budget.available())

    policy = RetryPolicy(clock=timeline.clock, sleep=sleep)
    assert budget.available() == 1

    asyncio.run(retry(Script(response(503), response(200)), policy, budget=budget))

    assert seen == [0]


def test_only_the_first_attempt_counts_as_a_request(
    make_policy: MakePolicy, timeline: Timeline
) -> None:
    budget = RetryBudget(BudgetConfig(ratio=1, min_per_second=0), clock=timeline.clock)
    attempt = Script(response(503), response(503), response(200))

    with pytest.raises(RetriesExhausted) as raised:
        asyncio.run(retry(attempt, make_policy(), budget=budget))

    # One request earned one retry, and the second retry found none left.
    assert attempt.calls == 2
    assert raised.value.reason == "budget"
    assert budget.tokens() == 0.0


def test_a_retry_the_policy_refuses_spends_no_token(
    make_policy: MakePolicy, timeline: Timeline
) -> None:
    budget = RetryBudget(clock=timeline.clock)

    with pytest.raises(RetriesExhausted):
        asyncio.run(
            retry(Script(response(503)), make_policy(max_attempts=1), budget=budget)
        )

    assert budget.available() == 1


def test_hooks_see_every_attempt(make_policy: MakePolicy, timeline: Timeline) -> None:
    attempt = Script(
        response(503), response(502), response(200), timeline=timeline, takes=0.2
    )
    hooks = Hooks()

    asyncio.run(retry(attempt, make_policy(), **hooks.options()))

    assert hooks.attempts == [
        Attempt(1, "retry", pytest.approx(0.2), 0, wait=0.125, status_code=503),
        Attempt(2, "retry", pytest.approx(0.2), 1, wait=0.25, status_code=502),
        Attempt(3, "success", pytest.approx(0.2), 2, status_code=200),
    ]
    assert hooks.suppressed == []


def test_hooks_see_the_error_and_the_suppressed_retry(
    make_policy: MakePolicy,
) -> None:
    error = httpx.ConnectError("refused", request=request())
    hooks = Hooks()

    with pytest.raises(RetriesExhausted):
        asyncio.run(
            retry(Script(error), make_policy(max_attempts=2), **hooks.options())
        )

    assert hooks.outcomes == ["retry", "suppressed"]
    assert [attempt.error for attempt in hooks.attempts] == [error, error]
    assert hooks.suppressed == [SuppressedRetry("attempts", 2)]


def test_hooks_that_raise_do_not_break_the_call(
    make_policy: MakePolicy, logs: LogCapture
) -> None:
    def broken(record: object) -> None:
        raise RuntimeError("metrics are down")

    attempt = Script(response(503), response(200))

    result = asyncio.run(
        retry(attempt, make_policy(), on_attempt=broken, on_suppressed=broken)
    )

    assert result.status_code == 200
    failures = logs.events("retry.hook_failed")
    assert len(failures) == 2
    assert failures[0]["error.type"] == "RuntimeError"
    assert failures[0]["level"] == "warning"


def test_an_exhausted_call_survives_a_raising_suppressed_hook(
    make_policy: MakePolicy, logs: LogCapture
) -> None:
    def broken(record: object) -> None:
        raise RuntimeError("metrics are down")

    with pytest.raises(RetriesExhausted):
        asyncio.run(retry(Script(response(503)), make_policy(), on_suppressed=broken))

    assert len(logs.events("retry.hook_failed")) == 1


def test_a_slow_attempt_is_cancelled_and_retried_when_idempotent(
    make_policy: MakePolicy,
) -> None:
    cancelled: list[bool] = []

    async def hang() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    policy = make_policy(attempt_timeout=0.01, max_attempts=2)
    classify = functools.partial(is_retryable, method="GET")

    with pytest.raises(RetriesExhausted) as raised:
        asyncio.run(retry(hang, policy, classify=classify))

    assert cancelled == [True, True]
    assert raised.value.attempts == 2
    assert isinstance(raised.value.__cause__, AttemptTimeout)
    assert raised.value.__cause__.seconds == 0.01


def test_a_slow_post_is_cancelled_and_not_retried(make_policy: MakePolicy) -> None:
    async def hang() -> None:
        await asyncio.Event().wait()

    policy = make_policy(attempt_timeout=0.01)
    classify = functools.partial(is_retryable, method="POST")

    with pytest.raises(AttemptTimeout, match=r"longer than 0.01 s"):
        asyncio.run(retry(hang, policy, classify=classify))


def test_an_attempts_own_timeout_is_not_an_attempt_timeout(
    make_policy: MakePolicy,
) -> None:
    attempt = Script(TimeoutError("the client's own"))

    with pytest.raises(TimeoutError) as raised:
        asyncio.run(retry(attempt, make_policy(attempt_timeout=60.0)))

    assert not isinstance(raised.value, AttemptTimeout)
    assert attempt.calls == 1


def test_cancelling_the_call_is_not_a_failure_to_retry(
    make_policy: MakePolicy,
) -> None:
    attempt = Script(asyncio.CancelledError())

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(retry(attempt, make_policy()))

    assert attempt.calls == 1


def test_a_decorated_coroutine_function_is_retried(make_policy: MakePolicy) -> None:
    calls: list[str] = []

    @retrying(make_policy())
    async def fetch(name: str, *, version: int) -> str:
        calls.append(name)
        if len(calls) < 3:
            raise RequestNotSent("not yet")
        return f"{name}@{version}"

    assert asyncio.run(fetch("model", version=2)) == "model@2"
    assert calls == ["model"] * 3
    assert fetch.__name__ == "fetch"


# The blocking counterpart


def test_a_blocking_call_is_retried_with_the_blocking_sleep(
    make_policy: MakePolicy, timeline: Timeline
) -> None:
    attempt = Script(response(503), response(503), response(200))

    result = retry_sync(attempt.play, make_policy())

    assert result.status_code == 200
    assert timeline.waits == [0.125, 0.25]


def test_a_blocking_call_raises_one_chained_error(make_policy: MakePolicy) -> None:
    errors = [RequestNotSent(f"down {n}") for n in range(3)]
    hooks = Hooks()

    with pytest.raises(RetriesExhausted) as raised:
        retry_sync(Script(*errors).play, make_policy(), **hooks.options())

    assert raised.value.__cause__ is errors[2]
    assert hooks.outcomes == ["retry", "retry", "suppressed"]
    assert hooks.suppressed == [SuppressedRetry("attempts", 3)]


def test_a_blocking_call_refuses_an_attempt_timeout(make_policy: MakePolicy) -> None:
    with pytest.raises(
        ValueError, match=re.escape("attempt_timeout must be None, not 2.0")
    ):
        retry_sync(lambda: None, make_policy(attempt_timeout=2.0))


def test_a_decorated_function_is_retried(make_policy: MakePolicy) -> None:
    calls: list[int] = []

    @retrying(make_policy(), classify=lambda outcome: outcome == "busy")
    def poll(value: int) -> str:
        calls.append(value)
        return "busy" if len(calls) < 2 else f"done {value}"

    assert poll(7) == "done 7"
    assert calls == [7, 7]


# Against a real server


async def send(
    url: str, policy: RetryPolicy, method: str = "GET", **headers: str
) -> httpx.Response:
    async with httpx.AsyncClient(trust_env=False, timeout=10) as client:
        return await retry(lambda: client.request(method, url, headers=headers), policy)


def test_two_503s_then_a_success_over_http(
    flaky: Flaky, make_policy: MakePolicy, timeline: Timeline
) -> None:
    flaky.replies += [(503, {}), (503, {})]

    result = asyncio.run(send(flaky.url, make_policy()))

    assert result.status_code == 200
    assert len(flaky.seen) == 3
    assert timeline.waits == [0.125, 0.25]


def test_a_429_waits_what_the_server_asked_over_http(
    flaky: Flaky, make_policy: MakePolicy, timeline: Timeline
) -> None:
    flaky.replies.append((429, {"Retry-After": "1"}))

    result = asyncio.run(send(flaky.url, make_policy()))

    assert result.status_code == 200
    assert len(flaky.seen) == 2
    assert timeline.waits == [pytest.approx(1.05)]


def test_a_post_failing_with_500_is_not_retried_over_http(
    flaky: Flaky, make_policy: MakePolicy, timeline: Timeline
) -> None:
    flaky.replies.append((500, {}))

    result = asyncio.run(send(flaky.url, make_policy(), "POST"))

    assert result.status_code == 500
    assert flaky.seen == [("POST", None)]
    assert timeline.waits == []


def test_a_post_with_an_idempotency_key_is_retried_over_http(
    flaky: Flaky, make_policy: MakePolicy
) -> None:
    flaky.replies.append((500, {}))

    result = asyncio.run(
        send(flaky.url, make_policy(), "POST", **{"Idempotency-Key": "k-1"})
    )

    assert result.status_code == 200
    assert flaky.seen == [("POST", "k-1"), ("POST", "k-1")]


def test_should_retry_false_stops_retries_over_http(
    flaky: Flaky, make_policy: MakePolicy
) -> None:
    flaky.replies.append((503, {"X-Should-Retry": "false"}))

    result = asyncio.run(send(flaky.url, make_policy()))

    assert result.status_code == 503
    assert len(flaky.seen) == 1


def test_a_refused_post_is_retried_and_then_exhausted(
    make_policy: MakePolicy, timeline: Timeline
) -> None:
    nobody = f"http://127.0.0.1:{free_port()}"

    with pytest.raises(RetriesExhausted) as raised:
        asyncio.run(send(nobody, make_policy(), "POST"))

    assert raised.value.attempts == 3
    assert isinstance(raised.value.__cause__, httpx.ConnectError)
    assert timeline.waits == [0.125, 0.25]
