from __future__ import annotations

import asyncio
import dataclasses
import gc
import itertools
import math
import pickle
import random
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.exceptions import HTTPException
from support import LogCapture, assert_valid, call

import hiccup
from hiccup import Code, Problem
from hiccup._metrics import Metrics, use_metrics
from hiccup.resilience._breaker import (
    BreakerPolicy,
    CircuitBreaker,
    CircuitOpen,
    State,
    Verdict,
    WindowCounts,
    breakers,
    classify,
)

#: A start on a bucket boundary of the default window (3 s buckets).
START = 300.0
JUST_UNDER_ONE = math.nextafter(1.0, 0.0)


class Clock:
    """A monotonic clock that moves only when told to."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Boom(Exception):
    """A dependency failing."""


class Busy(Exception):
    """A dependency failing and naming how long to wait."""

    def __init__(self, retry_after: object) -> None:
        super().__init__("busy")
        self.retry_after = retry_after


_names = itertools.count()
MakeBreaker = Callable[..., CircuitBreaker]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def make_breaker(clock: Clock) -> MakeBreaker:
    """Return a factory of breakers on the fake clock, with a jitter draw of
    0.5 (no spread) unless told otherwise, and unique names. Their window is
    30 s in 3 s buckets unless told otherwise, which keeps the window's
    timings apart from the open times."""

    def make(
        *,
        draw: float = 0.5,
        hook: Any = None,
        classify: Callable[[BaseException], Verdict] = classify,
        **policy: Any,
    ) -> CircuitBreaker:
        policy.setdefault("window", 30.0)
        return CircuitBreaker(
            f"dependency-{next(_names)}",
            BreakerPolicy(**policy),
            classify=classify,
            on_transition=hook,
            clock=clock,
            random=lambda: draw,
        )

    return make


def fail(breaker: CircuitBreaker, times: int, **kwargs: Any) -> None:
    for _ in range(times):
        breaker.admit().failure(**kwargs)


def succeed(breaker: CircuitBreaker, times: int, **kwargs: Any) -> None:
    for _ in range(times):
        breaker.admit().success(**kwargs)


def trip(breaker: CircuitBreaker, clock: Clock) -> None:
    """Open a breaker of the default policy, then wait out its open time."""
    fail(breaker, 20)
    clock.advance(breaker.retry_after)
    assert breaker.state is State.HALF_OPEN


def _raise(exc: BaseException) -> None:
    raise exc


def refused(breaker: CircuitBreaker) -> CircuitOpen:
    with pytest.raises(CircuitOpen) as caught:
        breaker.admit()
    return caught.value


def transitions(logs: LogCapture) -> list[tuple[str, str, str]]:
    return [
        (line["event"], line["from"], line["to"])
        for line in logs.lines
        if line["event"] in {"breaker.opened", "breaker.half_open", "breaker.closed"}
    ]


# The policy


def test_policy_defaults() -> None:
    policy = BreakerPolicy()

    assert dataclasses.asdict(policy) == {
        "window": 10.0,
        "buckets": 10,
        "minimum_calls": 20,
        "failure_rate": 0.5,
        "slow_rate": 0.8,
        "slow_call": None,
        "open_base": 5.0,
        "open_cap": 60.0,
        "jitter": 0.2,
        "probes": 3,
        "probe_successes": 2,
        "probe_timeout": 10.0,
    }


def test_policy_is_immutable() -> None:
    policy = BreakerPolicy()

    with pytest.raises(dataclasses.FrozenInstanceError):
        policy.window = 1.0  # type: ignore[misc]
    assert not hasattr(policy, "__dict__")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"window": 0}, "window must be a positive number of seconds, not 0"),
        ({"window": math.inf}, "window must be a positive number of seconds"),
        ({"buckets": 0}, "buckets must be a whole number >= 1, not 0"),
        ({"buckets": 2.5}, "buckets must be a whole number >= 1, not 2.5"),
        ({"minimum_calls": 0}, "minimum_calls must be a whole number >= 1"),
        ({"failure_rate": 0.0}, r"failure_rate must be in \(0, 1\], not 0.0"),
        ({"failure_rate": 1.5}, r"failure_rate must be in \(0, 1\], not 1.5"),
        ({"slow_rate": math.nan}, r"slow_rate must be in \(0, 1\], not nan"),
        ({"slow_call": -1.0}, "slow_call must be a positive number of seconds"),
        ({"open_base": 0}, "open_base must be a positive number of seconds"),
        ({"open_cap": 4.0}, r"open_cap must be >= open_base \(5.0\), not 4.0"),
        ({"jitter": 1.0}, r"jitter must be in \[0, 1\), not 1.0"),
        ({"jitter": -0.1}, r"jitter must be in \[0, 1\), not -0.1"),
        ({"probes": 0}, "probes must be a whole number >= 1, not 0"),
        ({"probe_successes": True}, "probe_successes must be a whole number"),
        ({"probe_timeout": -5}, "probe_timeout must be a positive number"),
    ],
    ids=lambda value: (
        "-".join(f"{k}={v}" for k, v in value.items())
        if isinstance(value, dict)
        else ""
    ),
)
def test_policy_rejects_values_out_of_range(
    options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        BreakerPolicy(**options)


def test_policy_takes_the_edges_of_its_ranges() -> None:
    policy = BreakerPolicy(
        failure_rate=1.0, slow_rate=1.0, jitter=0.0, open_cap=5.0, buckets=1
    )

    assert (policy.failure_rate, policy.jitter, policy.open_cap) == (1.0, 0.0, 5.0)


# The window


def test_an_outcome_counts_until_the_window_has_passed(
    make_breaker: MakeBreaker, clock: Clock
) -> None:
    breaker = make_breaker()
    fail(breaker, 1)

    clock.advance(29.999)
    assert breaker.counts == WindowCounts(calls=1, failures=1, slow=0)
    clock.advance(0.001)
    assert breaker.counts == WindowCounts()


def test_an_outcome_leaves_the_window_with_its_bucket(
    make_breaker: MakeBreaker, clock: Clock
) -> None:
    breaker = make_breaker()
    clock.advance(2.5)
    succeed(breaker, 1)
    clock.advance(0.5)
    succeed(breaker, 1)

    clock.now = START + 29.5
    assert breaker.counts.calls == 2
    clock.now = START + 30.0
    assert breaker.counts.calls == 1
    clock.now = START + 32.5
    assert breaker.counts.calls == 1
    clock.now = START + 33.0
    assert breaker.counts.calls == 0


def test_a_bucket_is_reused_once_the_window_comes_round(
    make_breaker: MakeBreaker, clock: Clock
) -> None:
    breaker = make_breaker()
    fail(breaker, 3)

    clock.advance(30.0)
    succeed(breaker, 1)

    assert breaker.counts == WindowCounts(calls=1, failures=0, slow=0)


def test_old_failures_do_not_count_towards_opening(
    make_breaker: MakeBreaker, clock: Clock
) -> None:
    breaker = make_breaker()
    fail(breaker, 19)

    clock.advance(30.0)
    fail(breaker, 1)

    assert breaker.state is State.CLOSED
    assert breaker.counts == WindowCounts(calls=1, failures=1, slow=0)


# Opening


@pytest.mark.parametrize(
    ("failures", "expected"),
    [(19, State.CLOSED), (20, State.OPEN)],
    ids=["19-calls-stay-closed", "20-calls-open"],
)
def test_the_window_needs_the_minimum_calls(
    make_breaker: MakeBreaker, failures: int, expected: State
) -> None:
    breaker = make_breaker()

    fail(breaker, failures)

    assert breaker.state is expected


def test_a_success_reaching_the_minimum_can_open(make_breaker: MakeBreaker) -> None:
    breaker = make_breaker()
    fail(breaker, 19)

    succeed(breaker, 1)

    assert breaker.state is State.OPEN


@pytest.mark.parametrize(
    ("failures", "expected"),
    [(9, State.CLOSED), (10, State.OPEN)],
    ids=["rate-0.45-stays-closed", "rate-0.5-opens"],
)
def test_a_failure_rate_at_the_threshold_opens(
    make_breaker: MakeBreaker, failures: int, expected: State
) -> None:
    breaker = make_breaker()

    succeed(breaker, 20 - failures)
    fail(breaker, failures)

    assert breaker.state is expected


def test_a_failure_rate_of_one_opens_only_when_every_call_fails(
    make_breaker: MakeBreaker,
) -> None:
    breaker = make_breaker(failure_rate=1.0)
    succeed(breaker, 1)
    fail(breaker, 19)
    assert breaker.state is State.CLOSED

    other = make_breaker(failure_rate=1.0)
    fail(other, 20)
    assert other.state is State.OPEN


@pytest.mark.parametrize(
    ("duration", "slow"),
    [(1.0, 0), (math.nextafter(1.0, 2.0), 1)],
    ids=["at-slow-call", "just-above"],
)
def test_a_call_is_slow_only_above_slow_call(
    make_breaker: MakeBreaker, duration: float, slow: int
) -> None:
    breaker = make_breaker(slow_call=1.0)

    succeed(breaker, 1, duration=duration)

    assert breaker.counts == WindowCounts(calls=1, failures=0, slow=slow)


def test_duration_defaults_to_the_time_since_admission(
    make_breaker: MakeBreaker, clock: Clock
) -> None:
    breaker = make_breaker(slow_call=1.0)
    quick, slow = breaker.admit(), breaker.admit()

    clock.advance(1.0)
    quick.success()
    clock.advance(0.5)
    slow.failure()

    assert breaker.counts == WindowCounts(calls=2, failures=1, slow=1)


@pytest.mark.parametrize(
    ("slow", "expected"),
    [(15, State.CLOSED), (16, State.OPEN)],
    ids=["rate-0.75-stays-closed", "rate-0.8-opens"],
)
def test_a_slow_rate_at_the_threshold_opens(
    make_breaker: MakeBreaker, logs: LogCapture, slow: int, expected: State
) -> None:
    breaker = make_breaker(slow_call=1.0)

    succeed(breaker, 20 - slow, duration=0.5)
    succeed(breaker, slow, duration=2.0)

    assert breaker.state is expected
    reasons = [line["reason"] for line in logs.events("breaker.opened")]
    assert reasons == (["slow_rate"] if expected is State.OPEN else [])


def test_without_slow_call_no_call_is_slow(make_breaker: MakeBreaker) -> None:
    breaker = make_breaker()

    succeed(breaker, 20, duration=3600.0)

    assert breaker.state is State.CLOSED
    assert breaker.counts == WindowCounts(calls=20, failures=0, slow=0)


def test_counts_are_kept_while_open(make_breaker: MakeBreaker) -> None:
    breaker = make_breaker()
    succeed(breaker, 10)

    fail(breaker, 10)

    assert breaker.state is State.OPEN
    assert breaker.counts == WindowCounts(calls=20, failures=10, slow=0)
    assert breaker.counts.failure_rate == 0.5


# The open time


def test_an_open_breaker_refuses_until_its_open_time_is_over(
    make_breaker: MakeBreaker, clock: Clock
) -> None:
    breaker = make_breaker()
    fail(breaker, 20)

    clock.advance(4.5)
    assert breaker.state is State.OPEN
    assert breaker.retry_after == 0.5
    assert refused(breaker).retry_after == 0.5
    clock.advance(0.5)
    assert breaker.state is State.HALF_OPEN
    assert breaker.retry_after == 0.0


@pytest.mark.parametrize(
    ("draw", "low", "high"),
    [(0.0, 4.0, 4.0), (0.5, 5.0, 5.0), (JUST_UNDER_ONE, 5.999_999, 6.0)],
    ids=["least", "middle", "most"],
)
def test_the_open_time_is_jittered_by_a_fifth(
    make_breaker: MakeBreaker, draw: float, low: float, high: float
) -> None:
    breaker = make_breaker(draw=draw)

    fail(breaker, 20)

    assert low <= breaker.retry_after <= high


def test_each_failed_half_open_doubles_the_open_time_up_to_the_cap(
    make_breaker: MakeBreaker, clock: Clock
) -> None:
    breaker = make_breaker()
    fail(breaker, 20)
    open_times = [breaker.retry_after]

    for _ in range(5):
        clock.advance(breaker.retry_after)
        fail(breaker, 1)
        open_times.append(breaker.retry_after)

    assert open_times == [5.0, 10.0, 20.0, 40.0, 60.0, 60.0]


@pytest.mark.parametrize(
    ("draw", "low", "high"),
    [(0.0, 48.0, 48.0), (JUST_UNDER_ONE, 71.999_99, 72.0)],
    ids=["least", "most"],
)
def test_jitter_spreads_the_capped_open_time(
    make_breaker: MakeBreaker, clock: Clock, draw: float, low: float, high: float
) -> None:
    breaker = make_breaker(draw=draw)
    fail(breaker, 20)

    for _ in range(5):
        clock.advance(breaker.retry_after)
        fail(breaker, 1)

    assert breaker.state is State.OPEN
    assert low <= breaker.retry_after <= high


def test_closing_resets_the_doubling(make_breaker: MakeBreaker, clock: Clock) -> None:
    breaker = make_breaker()
    trip(breaker, clock)
    fail(breaker, 1)
    assert breaker.retry_after == 10.0

    clock.advance(10.0)
    succeed(breaker, 2)
    assert breaker.state is State.CLOSED
    fail(breaker, 20)

    assert breaker.retry_after == 5.0


# Retry-After


@pytest.mark.parametrize(
    ("retry_after", "open_for"),
    [(30.0, 30.0), (5.0, 5.0), (2.0, 5.0)],
    ids=["longer-extends", "equal", "shorter-does-not-shorten"],
)
def test_retry_after_extends_the_open_time(
    make_breaker: MakeBreaker, retry_after: float, open_for: float
) -> None:
    breaker = make_breaker()
    fail(breaker, 19)

    fail(breaker, 1, retry_after=retry_after)

    assert breaker.retry_after == open_for


def test_retry_after_of_a_failed_probe_extends_the_open_time(
    make_breaker: MakeBreaker, clock: Clock
) -> None:
    breaker = make_breaker()
    trip(breaker, clock)

    fail(breaker, 1, retry_after=45.0)

    assert breaker.retry_after == 45.0


def test_retry_after_arriving_while_open_extends_the_open_time(
    make_breaker: MakeBreaker, clock: Clock
) -> None:
    breaker = make_breaker()
    late, early = breaker.admit(), breaker.admit()
    fail(breaker, 20)
    clock.advance(1.0)

    early.failure(retry_after=2.0)
    assert breaker.retry_after == 4.0
    late.failure(retry_after=30.0)
    assert breaker.retry_after == 30.0


def test_retry_after_attribute_of_an_exception_is_used(
    make_breaker: MakeBreaker,
) -> None:
    breaker = make_breaker(minimum_calls=1)

    with pytest.raises(Busy):
        breaker.call_sync(_raise, Busy(12))

    assert breaker.retry_after == 12.0


@pytest.mark.parametrize(
    ("exc", "verdict"),
    [
        (Busy(7), Verdict(failed=True, retry_after=7.0)),
        (Busy(-1.0), Verdict(failed=True)),
        (Busy("soon"), Verdict(failed=True)),
        (Busy(True), Verdict(failed=True)),
        (Busy(math.inf), Verdict(failed=True)),
        (Boom(), Verdict(failed=True)),
        (asyncio.CancelledError(), Verdict(failed=False)),
        (KeyboardInterrupt(), Verdict(failed=False)),
        (HTTPException(429), Verdict(failed=False)),
        (HTTPException(503), Verdict(failed=True)),
        (Problem(Code.RATE_LIMITED, seconds=3), Verdict(failed=False)),
        (
            httpx.HTTPStatusError(
                "429",
                request=httpx.Request("GET", "https://model.example"),
                response=httpx.Response(429),
            ),
            Verdict(failed=False),
        ),
    ],
    ids=[
        "retry-after",
        "negative-retry-after",
        "text-retry-after",
        "bool-retry-after",
        "infinite-retry-after",
        "plain",
        "cancelled",
        "keyboard-interrupt",
        "starlette-429",
        "starlette-503",
        "problem-429",
        "httpx-429",
    ],
)
def test_classify(exc: BaseException, verdict: Verdict) -> None:
    assert classify(exc) == verdict


def test_a_verdict_refuses_a_negative_retry_after() -> None:
    with pytest.raises(ValueError, match="retry_after must be None or a number"):
        Verdict(failed=True, retry_after=-1.0)


# Half-open


def test_half_open_admits_three_probes_at_once(
    make_breaker: MakeBreaker, clock: Clock
) -> None:
    breaker = make_breaker()
    trip(breaker, clock)

    probes = [breaker.admit() for _ in range(3)]
    fourth = refused(breaker)

    assert len(probes) == 3
    assert fourth.retry_after == 10.0
    assert "half-open" in str(fourth)
    assert breaker.retry_after == 10.0


def test_an_ignored_probe_frees_its_slot(
    make_breaker: MakeBreaker, clock: Clock
) -> None:
    breaker = make_breaker()
    trip(breaker, clock)
    first, _, _ = (breaker.admit() for _ in range(3))

    first.ignore()

    breaker.admit()
    assert breaker.state is State.HALF_OPEN
    refused(breaker)


def test_two_successful_probes_close(make_breaker: MakeBreaker, clock: Clock) -> None:
    breaker = make_breaker()
    trip(breaker, clock)

    succeed(breaker, 1)
    assert breaker.state is State.HALF_OPEN
    succeed(breaker, 1)
    assert breaker.state is State.CLOSED
    assert breaker.counts == WindowCounts()
    assert breaker.retry_after == 0.0


def test_any_failed_probe_reopens(
    make_breaker: MakeBreaker, clock: Clock, logs: LogCapture
) -> None:
    breaker = make_breaker()
    trip(breaker, clock)
    logs.clear()

    succeed(breaker, 1)
    fail(breaker, 1)

    assert breaker.state is State.OPEN
    [line] = logs.events("breaker.opened")
    assert (line["reason"], line["calls"], line["failure_rate"]) == (
        "probe_failed",
        2,
        0.5,
    )


def test_a_slow_probe_reopens(
    make_breaker: MakeBreaker, clock: Clock, logs: LogCapture
) -> None:
    breaker = make_breaker(slow_call=1.0)
    trip(breaker, clock)
    logs.clear()

    succeed(breaker, 1, duration=1.5)

    assert breaker.state is State.OPEN
    assert breaker.retry_after == 10.0
    [line] = logs.events("breaker.opened")
    assert (line["reason"], line["slow_rate"]) == ("probe_slow", 1.0)


def test_outcomes_of_calls_admitted_before_opening_are_dropped(
    make_breaker: MakeBreaker, clock: Clock
) -> None:
    breaker = make_breaker()
    late = breaker.admit()
    trip(breaker, clock)

    late.success()
    assert breaker.state is State.HALF_OPEN
    succeed(breaker, 1)
    assert breaker.state is State.HALF_OPEN
    succeed(breaker, 1)
    assert breaker.state is State.CLOSED


def test_a_probe_running_past_its_timeout_reopens(
    make_breaker: MakeBreaker, clock: Clock, logs: LogCapture
) -> None:
    breaker = make_breaker()
    trip(breaker, clock)
    stuck = breaker.admit()
    logs.clear()

    clock.advance(10.0)
    assert breaker.state is State.HALF_OPEN
    clock.advance(0.5)
    assert breaker.state is State.OPEN
    assert breaker.retry_after == 9.5
    stuck.success()
    assert breaker.state is State.OPEN

    [line] = logs.events("breaker.opened")
    assert (line["from"], line["reason"], line["open_seconds"]) == (
        "half_open",
        "probe_timeout",
        10.0,
    )


def test_a_probe_timing_out_is_noticed_on_admission(
    make_breaker: MakeBreaker, clock: Clock
) -> None:
    breaker = make_breaker()
    trip(breaker, clock)
    breaker.admit()

    clock.advance(10.5)

    assert refused(breaker).retry_after == 9.5


def test_a_long_stuck_probe_leaves_the_breaker_half_open_again(
    make_breaker: MakeBreaker, clock: Clock, logs: LogCapture
) -> None:
    breaker = make_breaker()
    trip(breaker, clock)
    breaker.admit()
    logs.clear()

    clock.advance(100.0)

    assert breaker.state is State.HALF_OPEN
    assert transitions(logs) == [
        ("breaker.opened", "half_open", "open"),
        ("breaker.half_open", "open", "half_open"),
    ]
    breaker.admit()


def test_a_success_after_the_probe_timeout_counts_as_failed(
    make_breaker: MakeBreaker, clock: Clock
) -> None:
    breaker = make_breaker()
    trip(breaker, clock)
    probe = breaker.admit()

    clock.advance(10.5)
    probe.success()

    assert breaker.state is State.OPEN


# Outcomes that are not failures


@pytest.mark.parametrize(
    "exc",
    [
        HTTPException(429),
        Problem(Code.RATE_LIMITED, seconds=3),
        KeyboardInterrupt(),
        SystemExit(1),
    ],
    ids=["starlette-429", "problem-429", "keyboard-interrupt", "system-exit"],
)
def test_rate_limits_and_interruptions_are_not_counted(
    make_breaker: MakeBreaker, exc: BaseException
) -> None:
    breaker = make_breaker(minimum_calls=1)

    with pytest.raises(type(exc)):
        breaker.call_sync(_raise, exc)

    assert breaker.state is State.CLOSED
    assert breaker.counts == WindowCounts()


def test_cancellation_of_the_caller_is_not_counted(
    make_breaker: MakeBreaker,
) -> None:
    breaker = make_breaker(minimum_calls=1)

    async def main() -> None:
        started = asyncio.Event()

        async def hang() -> None:
            started.set()
            await asyncio.Event().wait()

        task = asyncio.create_task(breaker.call(hang))
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())

    assert breaker.state is State.CLOSED
    assert breaker.counts == WindowCounts()


def test_a_cancelled_probe_frees_its_slot(
    make_breaker: MakeBreaker, clock: Clock
) -> None:
    breaker = make_breaker()
    trip(breaker, clock)
    held = [breaker.admit(), breaker.admit()]

    async def main() -> None:
        async def cancelled() -> None:
            raise asyncio.CancelledError

        with pytest.raises(asyncio.CancelledError):
            await breaker.call(cancelled)

    asyncio.run(main())

    held.append(breaker.admit())
    assert breaker.state is State.HALF_OPEN
    assert len(held) == 3


def test_a_classifier_decides_what_counts(make_breaker: MakeBreaker) -> None:
    def only_boom(exc: BaseException) -> Verdict:
        return Verdict(failed=isinstance(exc, Boom), retry_after=20.0)

    breaker = make_breaker(minimum_calls=1, classify=only_boom)

    with pytest.raises(ValueError, match="not the dependency"):
        breaker.call_sync(_raise, ValueError("not the dependency"))
    assert breaker.counts == WindowCounts()
    with pytest.raises(Boom):
        breaker.call_sync(_raise, Boom())
    assert breaker.retry_after == 20.0


def test_a_classifier_never_sees_cancellation(make_breaker: MakeBreaker) -> None:
    seen: list[BaseException] = []

    def everything_fails(exc: BaseException) -> Verdict:
        seen.append(exc)
        return Verdict(failed=True)

    breaker = make_breaker(minimum_calls=1, classify=everything_fails)

    with pytest.raises(KeyboardInterrupt):
        breaker.call_sync(_raise, KeyboardInterrupt())

    assert (seen, breaker.counts.calls) == ([], 0)


def test_a_failing_classifier_counts_a_failure_and_raises(
    make_breaker: MakeBreaker,
) -> None:
    def broken(exc: BaseException) -> Verdict:
        raise LookupError("no verdict")

    breaker = make_breaker(classify=broken)

    with pytest.raises(LookupError, match="no verdict") as caught:
        breaker.call_sync(_raise, Boom())

    assert isinstance(caught.value.__context__, Boom)
    assert breaker.counts == WindowCounts(calls=1, failures=1, slow=0)


# Permits


def test_a_permit_settles_once(make_breaker: MakeBreaker) -> None:
    breaker = make_breaker()
    permit = breaker.admit()
    permit.success()

    with pytest.raises(RuntimeError, match="settled exactly once"):
        permit.failure()
    assert breaker.counts == WindowCounts(calls=1, failures=0, slow=0)


@pytest.mark.parametrize(
    ("settle", "message"),
    [
        (lambda p: p.failure(retry_after=-1.0), "retry_after must be None or"),
        (lambda p: p.success(duration=math.nan), "duration must be None or"),
    ],
    ids=["negative-retry-after", "nan-duration"],
)
def test_a_permit_refuses_bad_numbers(
    make_breaker: MakeBreaker, settle: Callable[[Any], None], message: str
) -> None:
    breaker = make_breaker()

    with pytest.raises(ValueError, match=message):
        settle(breaker.admit())


def test_an_ignored_permit_counts_nothing(make_breaker: MakeBreaker) -> None:
    breaker = make_breaker()

    breaker.admit().ignore()

    assert breaker.counts == WindowCounts()


# The ways to call


def test_call_sync_returns_the_result(make_breaker: MakeBreaker) -> None:
    breaker = make_breaker()

    def multiply(a: int, *, b: int) -> int:
        return a * b

    assert breaker.call_sync(multiply, 6, b=7) == 42
    assert breaker.counts == WindowCounts(calls=1, failures=0, slow=0)


def test_call_awaits_the_result(make_breaker: MakeBreaker) -> None:
    breaker = make_breaker()

    async def answer(value: int, *, twice: bool) -> int:
        return value * 2 if twice else value

    assert asyncio.run(breaker.call(answer, 21, twice=True)) == 42
    assert breaker.counts == WindowCounts(calls=1, failures=0, slow=0)


def test_call_counts_a_failure_and_reraises(make_breaker: MakeBreaker) -> None:
    breaker = make_breaker()

    async def broken() -> None:
        raise Boom("down")

    with pytest.raises(Boom, match="down"):
        asyncio.run(breaker.call(broken))
    assert breaker.counts == WindowCounts(calls=1, failures=1, slow=0)


def test_a_refused_call_does_not_run(make_breaker: MakeBreaker) -> None:
    breaker = make_breaker()
    fail(breaker, 20)
    ran: list[str] = []

    with pytest.raises(CircuitOpen):
        breaker.call_sync(ran.append, "sync")
    with pytest.raises(CircuitOpen):
        asyncio.run(breaker.call(asyncio.sleep, 0))

    assert ran == []


def test_protect_decorates_async_and_sync_functions(
    make_breaker: MakeBreaker,
) -> None:
    breaker = make_breaker()

    @breaker.protect
    async def fetch(key: str) -> str:
        return f"async {key}"

    @breaker.protect
    def load(key: str) -> str:
        if key == "missing":
            raise Boom(key)
        return f"sync {key}"

    assert asyncio.run(fetch("a")) == "async a"
    assert load("b") == "sync b"
    with pytest.raises(Boom):
        load("missing")
    assert (fetch.__name__, load.__name__) == ("fetch", "load")
    assert breaker.counts == WindowCounts(calls=3, failures=1, slow=0)


def test_with_block_counts_its_outcome(make_breaker: MakeBreaker) -> None:
    breaker = make_breaker()

    with breaker:
        pass
    with pytest.raises(Boom), breaker:
        raise Boom

    assert breaker.counts == WindowCounts(calls=2, failures=1, slow=0)


def test_async_with_block_counts_its_outcome(make_breaker: MakeBreaker) -> None:
    breaker = make_breaker()

    async def main() -> None:
        async with breaker:
            await asyncio.sleep(0)
        with pytest.raises(Boom):
            async with breaker:
                raise Boom

    asyncio.run(main())

    assert breaker.counts == WindowCounts(calls=2, failures=1, slow=0)


def test_with_blocks_nest_across_breakers(make_breaker: MakeBreaker) -> None:
    outer, inner = make_breaker(), make_breaker()

    def nested() -> None:
        with outer:
            with inner:
                pass
            with outer:
                raise Boom

    with pytest.raises(Boom):
        nested()

    assert inner.counts == WindowCounts(calls=1, failures=0, slow=0)
    assert outer.counts == WindowCounts(calls=2, failures=2, slow=0)


def test_with_blocks_of_concurrent_tasks_keep_their_own_permits(
    make_breaker: MakeBreaker,
) -> None:
    breaker = make_breaker()

    async def block(fails: bool, entered: asyncio.Barrier) -> None:
        async with breaker:
            await entered.wait()
            if fails:
                raise Boom

    async def main() -> None:
        entered = asyncio.Barrier(10)
        await asyncio.gather(
            *(block(n % 2 == 0, entered) for n in range(10)), return_exceptions=True
        )

    asyncio.run(main())

    assert breaker.counts == WindowCounts(calls=10, failures=5, slow=0)


def test_leaving_a_block_never_entered_is_an_error(
    make_breaker: MakeBreaker,
) -> None:
    breaker = make_breaker()

    with pytest.raises(RuntimeError, match="never entered"):
        breaker.__exit__(None, None, None)


def test_an_open_breaker_refuses_a_with_block(make_breaker: MakeBreaker) -> None:
    breaker = make_breaker()
    fail(breaker, 20)
    ran = False

    with pytest.raises(CircuitOpen), breaker:
        ran = True

    assert ran is False


# CircuitOpen


def test_circuit_open_is_a_dependency_unavailable_problem(
    make_breaker: MakeBreaker, clock: Clock
) -> None:
    breaker = make_breaker()
    fail(breaker, 20)
    clock.advance(0.7495)

    exc = refused(breaker)

    assert isinstance(exc, Problem)
    assert (exc.code, exc.status) == ("DEPENDENCY_UNAVAILABLE", 503)
    assert exc.breaker == breaker.name
    assert exc.retry_after == pytest.approx(4.2505)
    assert exc.retry_after_ms == 4251
    assert exc.refusal == f"circuit breaker {breaker.name!r} is open for 4.250 s more"
    assert exc.detail is None


def test_circuit_open_survives_pickling() -> None:
    exc = CircuitOpen("model", 1.5)

    copy = pickle.loads(pickle.dumps(exc))

    assert (copy.breaker, copy.retry_after, copy.retry_after_ms) == (
        "model",
        1.5,
        1500,
    )
    assert copy.refusal == "circuit breaker 'model' refuses calls"


def test_an_app_answers_circuit_open_with_503(
    make_breaker: MakeBreaker, clock: Clock, logs: LogCapture
) -> None:
    breaker = make_breaker()
    fail(breaker, 20)
    clock.advance(0.75)
    app = FastAPI()

    @app.get("/draft")
    async def draft() -> dict[str, str]:
        return await breaker.call(_draft)

    hiccup.install(
        app, hiccup.Settings(service_name="tests", tracing=False, metrics=False)
    )
    hiccup.configure_logging(hiccup.Settings(service_name="tests"), stream=logs.stream)

    sent = asyncio.run(call(app, "GET", "/draft"))

    body = sent.json()
    assert_valid("envelope", body)
    assert sent.status == 503
    assert body["code"] == "DEPENDENCY_UNAVAILABLE"
    assert body["retry"] == {"auto": True, "user": True, "after_ms": 4250}
    assert math.ceil(breaker.retry_after * 1000) == 4250
    # The middleware rounds the header up to whole seconds.
    assert sent.header("retry-after") == "5"
    # Which dependency is down is the app's own business.
    assert "detail" not in body
    assert breaker.name not in sent.body.decode()
    assert body["user"]["title"] == "Part of our service is down"


async def _draft() -> dict[str, str]:
    return {"text": "written"}


# Transitions


def test_state_values() -> None:
    assert [state.value for state in State] == ["closed", "open", "half_open"]


def test_each_transition_logs_one_line(
    make_breaker: MakeBreaker, clock: Clock, logs: LogCapture
) -> None:
    breaker = make_breaker()
    succeed(breaker, 5)
    fail(breaker, 15)
    for _ in range(3):
        assert breaker.state is State.OPEN
    clock.advance(5.0)
    for _ in range(3):
        assert breaker.state is State.HALF_OPEN
    succeed(breaker, 2)
    assert breaker.state is State.CLOSED

    assert transitions(logs) == [
        ("breaker.opened", "closed", "open"),
        ("breaker.half_open", "open", "half_open"),
        ("breaker.closed", "half_open", "closed"),
    ]
    opened = logs.events("breaker.opened")[0]
    assert (
        opened.items()
        >= {
            "level": "warning",
            "logger": "hiccup.resilience",
            "breaker": breaker.name,
            "reason": "failure_rate",
            "calls": 20,
            "failure_rate": 0.75,
            "slow_rate": 0.0,
            "open_seconds": 5.0,
        }.items()
    )
    closed = logs.events("breaker.closed")[0]
    assert (closed["level"], closed["breaker"]) == ("warning", breaker.name)
    assert "open_seconds" not in closed


def test_the_hook_hears_every_transition(
    make_breaker: MakeBreaker, clock: Clock
) -> None:
    heard: list[tuple[str, State, State]] = []
    breaker = make_breaker(hook=lambda b, old, new: heard.append((b.name, old, new)))

    trip(breaker, clock)
    fail(breaker, 1)

    name = breaker.name
    assert heard == [
        (name, State.CLOSED, State.OPEN),
        (name, State.OPEN, State.HALF_OPEN),
        (name, State.HALF_OPEN, State.OPEN),
    ]


def test_a_failing_hook_does_not_break_the_call(
    make_breaker: MakeBreaker, logs: LogCapture
) -> None:
    def broken(breaker: CircuitBreaker, old: State, new: State) -> None:
        raise RuntimeError("metrics are down")

    breaker = make_breaker(hook=broken, minimum_calls=1)

    with pytest.raises(Boom):
        breaker.call_sync(_raise, Boom())

    assert breaker.state is State.OPEN
    assert len(logs.events("breaker.opened")) == 1
    [line] = logs.events("breaker.hook_failed")
    assert (line["breaker"], line["error.type"]) == (breaker.name, "RuntimeError")


def test_a_hook_may_read_the_breaker(make_breaker: MakeBreaker, clock: Clock) -> None:
    seen: list[tuple[State, float]] = []
    breaker = make_breaker(
        hook=lambda b, old, new: seen.append((b.state, b.retry_after))
    )

    fail(breaker, 20)

    assert seen == [(State.OPEN, 5.0)]


# Naming and the registry


def test_breakers_lists_the_live_breakers_by_name(clock: Clock) -> None:
    second = CircuitBreaker("registry-b", clock=clock)
    first = CircuitBreaker("registry-a", clock=clock)

    listed = [b for b in breakers() if b.name.startswith("registry-")]

    assert listed == [first, second]
    del first, second, listed
    gc.collect()
    assert [b for b in breakers() if b.name.startswith("registry-")] == []


def test_a_name_is_taken_while_its_breaker_lives(clock: Clock) -> None:
    breaker = CircuitBreaker("unique", clock=clock)

    with pytest.raises(ValueError, match="'unique' exists already"):
        CircuitBreaker("unique", clock=clock)
    del breaker
    gc.collect()
    assert CircuitBreaker("unique", clock=clock).name == "unique"


def test_a_breaker_needs_a_name() -> None:
    with pytest.raises(ValueError, match="a breaker needs a non-empty name, not ''"):
        CircuitBreaker("")


def test_a_closed_breaker_reads_as_such(make_breaker: MakeBreaker) -> None:
    breaker = make_breaker()

    assert (breaker.state, breaker.retry_after, breaker.counts) == (
        State.CLOSED,
        0.0,
        WindowCounts(),
    )
    assert repr(breaker) == f"CircuitBreaker({breaker.name!r}, state='closed')"
    assert breaker.policy == BreakerPolicy(window=30.0)


def test_a_breaker_made_without_a_policy_has_the_default_one() -> None:
    breaker = CircuitBreaker(f"dependency-{next(_names)}")

    assert breaker.policy == BreakerPolicy()
    assert breaker.policy.window == 10.0


def test_window_counts_are_a_read_only_snapshot(make_breaker: MakeBreaker) -> None:
    breaker = make_breaker()
    counts = breaker.counts

    succeed(breaker, 1)

    assert counts == WindowCounts()
    with pytest.raises(dataclasses.FrozenInstanceError):
        counts.calls = 5  # type: ignore[misc]


# Many callers at once


CALLS = 1000


def test_concurrent_tasks_are_counted_exactly(make_breaker: MakeBreaker) -> None:
    breaker = make_breaker(minimum_calls=CALLS + 1)

    async def main() -> list[BaseException | None]:
        in_flight = asyncio.Barrier(CALLS)

        async def work(n: int) -> None:
            await in_flight.wait()
            if n % 5 < 2:
                raise Boom

        return await asyncio.gather(
            *(breaker.call(work, n) for n in range(CALLS)), return_exceptions=True
        )

    results = asyncio.run(main())

    assert sum(isinstance(r, Boom) for r in results) == 400
    assert breaker.state is State.CLOSED
    assert breaker.counts == WindowCounts(calls=CALLS, failures=400, slow=0)


def test_concurrent_failing_tasks_open_once(
    make_breaker: MakeBreaker, logs: LogCapture
) -> None:
    heard: list[State] = []
    breaker = make_breaker(hook=lambda b, old, new: heard.append(new))

    async def main() -> list[BaseException | None]:
        in_flight = asyncio.Barrier(CALLS)

        async def work() -> None:
            await in_flight.wait()
            raise Boom

        return await asyncio.gather(
            *(breaker.call(work) for _ in range(CALLS)), return_exceptions=True
        )

    results = asyncio.run(main())

    assert sum(isinstance(r, Boom) for r in results) == CALLS
    assert breaker.state is State.OPEN
    assert breaker.counts == WindowCounts(calls=20, failures=20, slow=0)
    assert heard == [State.OPEN]
    assert len(logs.events("breaker.opened")) == 1


def test_concurrent_tasks_get_exactly_three_probes(
    make_breaker: MakeBreaker, clock: Clock, logs: LogCapture
) -> None:
    breaker = make_breaker()
    trip(breaker, clock)
    logs.clear()

    async def main() -> list[object]:
        release = asyncio.Event()
        entered: list[int] = []

        async def probe(n: int) -> int:
            entered.append(n)
            await release.wait()
            return n

        tasks = [asyncio.create_task(breaker.call(probe, n)) for n in range(CALLS)]
        await asyncio.sleep(0)
        assert len(entered) == 3
        release.set()
        return await asyncio.gather(*tasks, return_exceptions=True)

    results = asyncio.run(main())

    assert sum(isinstance(r, CircuitOpen) for r in results) == CALLS - 3
    assert sorted(r for r in results if isinstance(r, int)) == [0, 1, 2]
    assert breaker.state is State.CLOSED
    assert transitions(logs) == [("breaker.closed", "half_open", "closed")]


def test_concurrent_threads_are_counted_exactly(make_breaker: MakeBreaker) -> None:
    breaker = make_breaker(minimum_calls=CALLS + 1)
    workers = 100
    in_flight = threading.Barrier(workers)

    def work(n: int) -> None:
        in_flight.wait(timeout=30)
        if n % 5 < 2:
            raise Boom

    def attempt(n: int) -> bool:
        try:
            breaker.call_sync(work, n)
        except Boom:
            return False
        return True

    with ThreadPoolExecutor(max_workers=workers) as pool:
        outcomes = list(pool.map(attempt, range(CALLS)))

    assert outcomes.count(False) == 400
    assert breaker.state is State.CLOSED
    assert breaker.counts == WindowCounts(calls=CALLS, failures=400, slow=0)


def test_concurrent_failing_threads_open_once(
    make_breaker: MakeBreaker, logs: LogCapture
) -> None:
    heard: list[State] = []
    breaker = make_breaker(hook=lambda b, old, new: heard.append(new))
    workers = 100
    together = threading.Barrier(workers)

    def attempt(_: int) -> str:
        together.wait(timeout=30)
        try:
            breaker.call_sync(_raise, Boom())
        except Boom:
            return "failed"
        except CircuitOpen:
            return "refused"
        return "succeeded"

    with ThreadPoolExecutor(max_workers=workers) as pool:
        outcomes = list(pool.map(attempt, range(CALLS)))

    assert outcomes.count("failed") >= 20
    assert outcomes.count("failed") + outcomes.count("refused") == CALLS
    assert breaker.state is State.OPEN
    assert breaker.counts == WindowCounts(calls=20, failures=20, slow=0)
    assert heard == [State.OPEN]
    assert len(logs.events("breaker.opened")) == 1


def test_concurrent_threads_get_exactly_three_probes(
    make_breaker: MakeBreaker, clock: Clock, logs: LogCapture
) -> None:
    breaker = make_breaker()
    trip(breaker, clock)
    logs.clear()
    lock = threading.Lock()
    settled = itertools.count(1)
    everyone_tried = threading.Event()
    entered: list[int] = []

    def tried() -> None:
        with lock:
            if next(settled) == CALLS:
                everyone_tried.set()

    def probe(n: int) -> str:
        with lock:
            entered.append(n)
        tried()
        everyone_tried.wait(timeout=30)
        return "probed"

    def attempt(n: int) -> str:
        try:
            return breaker.call_sync(probe, n)
        except CircuitOpen:
            tried()
            return "refused"

    with ThreadPoolExecutor(max_workers=32) as pool:
        outcomes = list(pool.map(attempt, range(CALLS)))

    assert everyone_tried.is_set()
    assert len(entered) == 3
    assert (outcomes.count("probed"), outcomes.count("refused")) == (3, CALLS - 3)
    assert breaker.state is State.CLOSED
    assert transitions(logs) == [("breaker.closed", "half_open", "closed")]


# Simulated time


Change = tuple[float, State, State]


def _simulate(seed: int) -> tuple[list[Change], list[float]]:
    """Drive a breaker with a call every 0.01 to 0.2 s, each taking 0.05 to
    0.5 s, through an outage from 60 s to 120 s, all in simulated time.

    Returns the transitions with their times, and the times of the calls
    that reached the dependency while it was down.
    """
    rng = random.Random(seed)
    clock = Clock(0.0)
    changes: list[Change] = []
    breaker = CircuitBreaker(
        f"simulated-{seed}-{next(_names)}",
        clock=clock,
        random=rng.random,
        on_transition=lambda b, old, new: changes.append((clock.now, old, new)),
    )
    reached_while_down: list[float] = []
    in_flight: list[tuple[float, Any, bool]] = []
    while clock.now < 300.0:
        clock.advance(rng.uniform(0.01, 0.2))
        for done in [c for c in in_flight if c[0] <= clock.now]:
            in_flight.remove(done)
            _, permit, failed = done
            if failed:
                permit.failure()
            else:
                permit.success()
        try:
            permit = breaker.admit()
        except CircuitOpen:
            continue
        down = 60.0 <= clock.now < 120.0
        if down:
            reached_while_down.append(clock.now)
        in_flight.append((clock.now + rng.uniform(0.05, 0.5), permit, down))

    return changes, reached_while_down


def test_a_seeded_simulation_opens_during_an_outage_and_recovers() -> None:
    changes, reached_while_down = _simulate(7)

    assert [new for _, _, new in changes] == [
        State.OPEN,
        State.HALF_OPEN,
        State.OPEN,
        State.HALF_OPEN,
        State.OPEN,
        State.HALF_OPEN,
        State.OPEN,
        State.HALF_OPEN,
        State.CLOSED,
    ]
    opened_at, closed_at = changes[0][0], changes[-1][0]
    # Before it opens, failures must equal the successes a window holds.
    assert 60.0 <= opened_at < 90.0
    assert 120.0 <= closed_at < 300.0
    probes = [at for at in reached_while_down if at >= opened_at]
    half_opens = sum(new is State.HALF_OPEN and at < 120.0 for at, _, new in changes)
    assert half_opens == 3
    assert len(probes) <= 3 * half_opens
    assert _simulate(7) == (changes, reached_while_down)


def test_state_and_transitions_are_exported_as_metrics(
    make_breaker: MakeBreaker, clock: Clock
) -> None:
    metrics = Metrics()
    previous = use_metrics(metrics)
    try:
        breaker = make_breaker()
        name = breaker.name

        def state(value: str) -> float | None:
            return metrics.registry.get_sample_value(
                "hiccup_breaker_state", {"breaker": name, "state": value}
            )

        def entered(value: str) -> float | None:
            return metrics.registry.get_sample_value(
                "hiccup_breaker_transitions_total", {"breaker": name, "state": value}
            )

        started = (state("closed"), state("open"), state("half_open"))
        fail(breaker, 20)
        opened = (state("closed"), state("open"), state("half_open"))
        clock.advance(breaker.retry_after)
        assert breaker.state is State.HALF_OPEN
        succeed(breaker, 2)
    finally:
        use_metrics(previous)

    assert started == (1, 0, 0)
    assert opened == (0, 1, 0)
    assert (state("closed"), state("open"), state("half_open")) == (1, 0, 0)
    assert (entered("open"), entered("half_open"), entered("closed")) == (1, 1, 1)


# Reset


def test_reset_closes_an_open_breaker_and_logs_it(
    make_breaker: MakeBreaker, logs: LogCapture
) -> None:
    heard: list[tuple[State, State]] = []
    breaker = make_breaker(hook=lambda _, old, new: heard.append((old, new)))
    fail(breaker, 20)
    assert breaker.state is State.OPEN

    breaker.reset()

    assert breaker.state is State.CLOSED
    assert breaker.counts.calls == 0
    breaker.admit().success()
    assert heard == [(State.CLOSED, State.OPEN), (State.OPEN, State.CLOSED)]
    assert transitions(logs)[-1] == ("breaker.closed", "open", "closed")


def test_reset_forgets_the_window_and_the_doubling(
    make_breaker: MakeBreaker, clock: Clock
) -> None:
    breaker = make_breaker()
    trip(breaker, clock)
    breaker.admit().failure()  # a failed probe: the next open time doubles
    breaker.reset()
    fail(breaker, 19)

    assert breaker.state is State.CLOSED
    fail(breaker, 1)
    assert breaker.state is State.OPEN
    assert breaker.retry_after == pytest.approx(5.0)


def test_a_permit_from_before_a_reset_settles_as_ignored(
    make_breaker: MakeBreaker, clock: Clock
) -> None:
    breaker = make_breaker()
    trip(breaker, clock)
    probe = breaker.admit()

    breaker.reset()
    probe.failure()

    assert breaker.state is State.CLOSED
    assert breaker.counts.calls == 0


def test_resetting_a_closed_breaker_only_forgets_its_window(
    make_breaker: MakeBreaker, logs: LogCapture
) -> None:
    breaker = make_breaker()
    fail(breaker, 19)

    breaker.reset()
    fail(breaker, 19)

    assert breaker.state is State.CLOSED
    assert transitions(logs) == []
