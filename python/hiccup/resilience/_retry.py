"""Retries for outbound calls: a policy, server hints, a classifier, the loop.

    policy = RetryPolicy(deadline=10.0, attempt_timeout=2.0)
    response = await retry(lambda: client.get(url), policy, budget=budget)

A retry waits a full-jitter backoff: retry ``n`` waits a time drawn
uniformly in ``[0, min(cap, base * 2 ** (n - 1)))``, so that clients that
failed together do not come back together. When the server says how long to
wait (``Retry-After``, ``retry-after-ms``) that wait replaces the draw. The
call gives up when the policy runs out of attempts, when the deadline leaves
no time, when the server asks for a longer wait than allowed, when the retry
budget is empty, or at once when the failure is not worth repeating.

Inside a request whose caller sent ``X-Request-Deadline-Ms``, the time it
still waits (``hiccup.context.time_left()``) is a second deadline: waits end
before it, an async attempt is cancelled at it, and a call started after it
makes no attempt at all.

The loop is backoff's ``on_predicate``. Each attempt returns an outcome
rather than raising, and the predicate is whether that outcome is
retryable. backoff primes the wait generator with ``send(None)`` and then
sends it each retryable outcome; the generator either yields, to retry, or
ends, which makes backoff give up. hiccup passes backoff ``jitter=None``,
``max_tries=None`` and ``max_time=None`` and decides all of it in the
generator: full jitter would shrink a server's hint to anywhere below it,
and backoff measures ``max_time`` with ``datetime.now``, which a test cannot
drive. backoff also sleeps with ``time.sleep`` or ``asyncio.sleep``, so the
generator yields 0 and the wait it chose is slept with the policy's own
sleep at the start of the next attempt.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import math
import random as _random
import re
import sys
import time
from collections.abc import Awaitable, Callable, Generator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Final, Literal, Protocol, TypeGuard, TypeVar, cast

import backoff

from .._context import time_left
from .._exceptions import HiccupError
from .._logging import get_logger
from ._budget import RetryBudget

__all__ = [
    "BACKOFF_BASE",
    "BACKOFF_CAP",
    "HINT_SPREAD",
    "IDEMPOTENT_METHODS",
    "IDEMPOTENT_STATUSES",
    "MAX_ATTEMPTS",
    "MAX_HINT",
    "RETRY_STATUSES",
    "Attempt",
    "AttemptOutcome",
    "AttemptTimeout",
    "GiveUpReason",
    "RequestNotSent",
    "ResponseLike",
    "RetriesExhausted",
    "RetryPolicy",
    "SuppressedRetry",
    "is_retryable",
    "parse_retry_hint",
    "retry",
    "retry_sync",
    "retrying",
]

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])
R = TypeVar("R")

#: Attempts a call makes at most, the first one included.
MAX_ATTEMPTS: Final = 3
#: Seconds the first retry waits at most; each further retry doubles it.
BACKOFF_BASE: Final = 0.25
#: Seconds the doubling stops at.
BACKOFF_CAP: Final = 4.0
#: Seconds a server may ask the client to wait before the call gives up
#: instead: a caller waiting longer than this is better served by a fallback.
MAX_HINT: Final = 30.0
#: Share of a server's hint added at most on top of it, drawn at random, so
#: that clients told the same ``Retry-After`` do not all return at once. Only
#: ever added: the server asked for at least the hint.
HINT_SPREAD: Final = 0.1
#: Statuses retried for any method: the server refused the request (408, 429,
#: 503) or a gateway got no answer for it (502, 504). Behind a gateway an
#: origin may in rare cases have acted already; a dependency that cannot
#: take a repeat requires an Idempotency-Key or answers
#: ``X-Should-Retry: false``.
RETRY_STATUSES: Final = frozenset({408, 429, 502, 503, 504})
#: Statuses retried only for idempotent requests: the server may have acted
#: before it failed.
IDEMPOTENT_STATUSES: Final = frozenset({500})
#: Methods whose repeat has the effect of one request (RFC 9110, 9.2.2).
IDEMPOTENT_METHODS: Final = frozenset(
    {"DELETE", "GET", "HEAD", "OPTIONS", "PUT", "TRACE"}
)

#: Why a retrying call gave up on a failure that was worth retrying.
GiveUpReason = Literal["attempts", "budget", "deadline", "hint"]
#: What became of one attempt; see ``Attempt``.
AttemptOutcome = Literal["failure", "retry", "success", "suppressed"]

_REASONS: Final[Mapping[GiveUpReason, str]] = {
    "attempts": "the policy allows no more attempts",
    "budget": "the retry budget is empty",
    "deadline": "the deadline leaves no time to wait",
    "hint": "the server asked to wait longer than the policy allows",
}
# httpx errors raised before any byte of the request was sent.
_HTTPX_NOT_SENT: Final = ("ConnectError", "ConnectTimeout", "PoolTimeout")
# httpx errors raised after the request was sent, before its answer came.
_HTTPX_ANSWER_LOST: Final = (
    "ReadError",
    "ReadTimeout",
    "RemoteProtocolError",
    "WriteError",
    "WriteTimeout",
)
_NUMBER: Final = re.compile(r"[0-9]+(?:\.[0-9]+)?")

_log = get_logger("hiccup.resilience")


class RetriesExhausted(HiccupError):
    """Raised when a call failed in a retryable way and may not retry again.

    Chained from the last attempt's exception, if it raised one. A failure
    that is not retryable is never wrapped in this: it reaches the caller as
    it is, since nothing was exhausted.

    Attributes:
        attempts: the attempts made.
        reason: why no further attempt was made.
        last_exception: what the last attempt raised, if it raised.
        last_response: the last attempt's response, returned or carried by
            its exception, if there was one.
    """

    def __init__(
        self,
        attempts: int,
        reason: GiveUpReason,
        *,
        last_exception: BaseException | None = None,
        last_response: object = None,
    ) -> None:
        noun = "attempt" if attempts == 1 else "attempts"
        super().__init__(f"Gave up after {attempts} {noun}: {_REASONS[reason]}.")
        self.attempts = attempts
        self.reason = reason
        self.last_exception = last_exception
        self.last_response = last_response


class AttemptTimeout(HiccupError, TimeoutError):
    """Raised when one attempt outran the policy's ``attempt_timeout``.

    The attempt is cancelled. Its request may have reached the server, so
    like a read timeout it is retried only when the request is idempotent.
    """

    def __init__(self, seconds: float) -> None:
        super().__init__(f"The attempt ran longer than {seconds!r} s.")
        self.seconds = seconds


class RequestNotSent(HiccupError):
    """Raised by a call to say its request never reached the server.

    Any method may retry such a failure. Raise it, chained from the client's
    own error, when a client other than httpx fails before sending.
    """


class ResponseLike(Protocol):
    """What the retrying call reads from a response: httpx's has both."""

    @property
    def status_code(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]: ...


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _is_number(value: object) -> TypeGuard[float]:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
    )


def _check_seconds(name: str, value: object, *, optional: bool = False) -> None:
    if optional and value is None:
        return
    if not _is_number(value) or value <= 0:
        wanted = "None or a number > 0" if optional else "a number > 0"
        raise ValueError(f"{name} must be {wanted}, not {value!r}")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often a call is attempted and how long it waits in between.

    To give one call its own deadline, derive a policy with
    ``dataclasses.replace(policy, deadline=...)``. The time the request's
    caller still waits bounds every call made for the request anyway.

    Args:
        max_attempts: attempts at most, the first one included.
        base: seconds the first retry waits at most.
        cap: seconds the doubling of ``base`` stops at.
        deadline: seconds from the first attempt within which every wait
            must end; None for no deadline. It bounds waiting, not an
            attempt in flight: bound those with ``attempt_timeout``, or the
            whole call with ``asyncio.timeout``.
        attempt_timeout: seconds after which an attempt is cancelled and
            fails with ``AttemptTimeout``; None for no limit. Async calls
            only: a blocking call cannot be cancelled from outside.
        max_hint: the longest wait a server may ask for; asking for more
            makes the call give up, so that a fallback can answer now.
        clock: monotonic seconds, for durations and the deadline.
        wall_clock: the current time, that an HTTP-date hint is relative to.
        random: draws in [0, 1), for jitter and the hint's spread.
        sleep: waits between async attempts.
        sleep_sync: waits between blocking attempts.

    Raises:
        ValueError: a value is out of its range.
    """

    max_attempts: int = MAX_ATTEMPTS
    base: float = BACKOFF_BASE
    cap: float = BACKOFF_CAP
    deadline: float | None = None
    attempt_timeout: float | None = None
    max_hint: float = MAX_HINT
    clock: Callable[[], float] = time.monotonic
    wall_clock: Callable[[], datetime] = _utc_now
    random: Callable[[], float] = _random.random
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    sleep_sync: Callable[[float], None] = time.sleep

    def __post_init__(self) -> None:
        attempts = self.max_attempts
        if not isinstance(attempts, int) or isinstance(attempts, bool) or attempts < 1:
            raise ValueError(
                f"max_attempts must be a whole number >= 1, not {attempts!r}"
            )
        _check_seconds("base", self.base)
        if not _is_number(self.cap) or self.cap < self.base:
            raise ValueError(
                f"cap must be a number >= base ({self.base!r}), not {self.cap!r}"
            )
        _check_seconds("deadline", self.deadline, optional=True)
        _check_seconds("attempt_timeout", self.attempt_timeout, optional=True)
        if not _is_number(self.max_hint) or self.max_hint < 0:
            raise ValueError(f"max_hint must be a number >= 0, not {self.max_hint!r}")

    def ceiling(self, retry_number: int) -> float:
        """Return the longest wait full jitter draws for a retry.

        ``base`` for the first retry, doubling with each one up to ``cap``:
        with the defaults 0.25, 0.5, 1, 2, then 4 from the fifth on.
        """
        doublings = retry_number - 1
        # Compared in powers of two, so that a large retry number reaches
        # the cap instead of overflowing a float.
        if doublings >= math.log2(self.cap / self.base):
            return self.cap

        return float(self.base * 2**doublings)

    def give_up_reason(
        self,
        retry_number: int,
        *,
        hint: float | None = None,
        remaining: float | None = None,
    ) -> GiveUpReason | None:
        """Return why a retry must not happen, or None when it may.

        Args:
            retry_number: 1 for the retry after the first attempt.
            hint: seconds the server asked to wait, if it did.
            remaining: seconds left before the deadline, if there is one.

        Raises:
            ValueError: ``retry_number`` is below 1.
        """
        if retry_number < 1:
            raise ValueError(f"retry_number must be >= 1, not {retry_number!r}")
        if retry_number >= self.max_attempts:
            return "attempts"
        if remaining is not None and remaining <= 0:
            return "deadline"
        if hint is not None and hint > self.max_hint:
            return "hint"
        if hint is not None and remaining is not None and hint > remaining:
            return "hint"

        return None

    def next_wait(
        self,
        retry_number: int,
        *,
        hint: float | None = None,
        remaining: float | None = None,
        random: Callable[[], float] | None = None,
    ) -> float | None:
        """Return the seconds to wait before a retry, or None to give up.

        Without a hint the wait is a full-jitter draw below
        ``ceiling(retry_number)``; with one it is the hint plus up to
        ``HINT_SPREAD`` of it. Either way it ends by the deadline. Given the
        same draws it returns the same waits, so a simulation can call it.

        Args:
            retry_number: 1 for the retry after the first attempt.
            hint: seconds the server asked to wait, if it did.
            remaining: seconds left before the deadline, if there is one.
            random: draws in [0, 1); the policy's own when not given.
        """
        if self.give_up_reason(retry_number, hint=hint, remaining=remaining):
            return None

        return self._draw(retry_number, hint, remaining, random or self.random)

    def _draw(
        self,
        retry_number: int,
        hint: float | None,
        remaining: float | None,
        random: Callable[[], float],
    ) -> float:
        if hint is None:
            wait = random() * self.ceiling(retry_number)
        else:
            wait = hint * (1 + HINT_SPREAD * random())
        if remaining is None:
            return wait

        return min(wait, remaining)


def parse_retry_hint(
    headers: Mapping[str, str], *, now: datetime | None = None
) -> float | None:
    """Return the seconds a response asks the client to wait, if it asks.

    ``retry-after-ms`` is milliseconds, fractions allowed. ``Retry-After`` is
    seconds (a fraction is accepted, as some servers send one) or an
    HTTP-date; a date already past means no wait. When both are valid,
    ``retry-after-ms`` wins, being the more precise. A value that is
    malformed, negative or not finite is ignored.

    Args:
        headers: the response's headers; names match in any case.
        now: the time an HTTP-date is relative to; the current UTC time
            when not given.
    """
    millis = _seconds(_header(headers, "retry-after-ms"))
    if millis is not None:
        return millis / 1000
    value = _header(headers, "retry-after")
    if value is None:
        return None
    seconds = _seconds(value)
    if seconds is not None:
        return seconds

    return _seconds_until(value, now or _utc_now())


def _header(headers: Mapping[str, str], name: str) -> str | None:
    # A plain dict matches case-sensitively; httpx's headers do not.
    for key, value in headers.items():
        if key.lower() == name:
            return value

    return None


def _seconds(value: str | None) -> float | None:
    if value is None or not _NUMBER.fullmatch(value.strip()):
        return None
    seconds = float(value)

    return seconds if math.isfinite(seconds) else None


def _seconds_until(value: str, now: datetime) -> float | None:
    try:
        when = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    # A date without a zone ("-0000") is UTC, as HTTP dates always are.
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)

    return max(0.0, (when - now).total_seconds())


def is_retryable(
    outcome: object,
    *,
    method: str | None = None,
    request_headers: Mapping[str, str] | None = None,
) -> bool:
    """Return whether an attempt's outcome is worth another attempt.

    A failure before the request was sent is retried for any method, as the
    server cannot have acted. After that, what may have been acted on is
    retried only when a repeat is harmless: an idempotent method, or an
    ``Idempotency-Key``. A response's ``X-Should-Retry: true`` or ``false``
    decides over all of that. Anything else, a bug included, is not retried.

    httpx is recognised without being imported: when no code has imported
    it, no outcome can be one of its errors.

    Args:
        outcome: what the attempt raised, or what it returned. A value that
            is not a response (no ``status_code`` and ``headers``) is a
            success, and so is a response below 400.
        method: the request's method. When not given, it and the request
            headers are read from the request an httpx response or error
            carries; a method that stays unknown counts as not idempotent.
        request_headers: the request's headers, for ``Idempotency-Key``.
    """
    idempotent = _is_idempotent(outcome, method, request_headers)
    response = _response_of(outcome)
    if response is not None:
        return _is_retryable_response(response, idempotent=idempotent)
    if isinstance(outcome, BaseException):
        return _is_retryable_error(outcome, idempotent=idempotent)

    return False


def _is_retryable_response(response: ResponseLike, *, idempotent: bool) -> bool:
    status = response.status_code
    if status < 400:
        return False
    # The server knows best: it may have spent its own retries upstream.
    override = _header(response.headers, "x-should-retry")
    if override is not None and override.strip().lower() in ("true", "false"):
        return override.strip().lower() == "true"
    if status in RETRY_STATUSES:
        return True
    if status in IDEMPOTENT_STATUSES:
        return idempotent

    # Other 4xx would repeat the same mistake, and 501 or 505 mean the
    # server cannot do what was asked, however often it is asked.
    return False


def _is_retryable_error(error: BaseException, *, idempotent: bool) -> bool:
    if isinstance(error, RequestNotSent | ConnectionRefusedError):
        return True
    if _is_httpx_error(error, _HTTPX_NOT_SENT):
        return True
    if isinstance(error, AttemptTimeout) or _is_httpx_error(error, _HTTPX_ANSWER_LOST):
        return idempotent

    return False


def _is_httpx_error(error: BaseException, names: tuple[str, ...]) -> bool:
    httpx = sys.modules.get("httpx")
    if httpx is None:
        return False
    kinds = tuple(getattr(httpx, name) for name in names)

    return isinstance(error, kinds)


def _is_response(value: object) -> TypeGuard[ResponseLike]:
    return isinstance(getattr(value, "status_code", None), int) and hasattr(
        value, "headers"
    )


def _response_of(outcome: object) -> ResponseLike | None:
    """Return the response an outcome is, or that its exception carries."""
    if _is_response(outcome):
        return outcome
    if not isinstance(outcome, BaseException):
        return None
    # httpx's HTTPStatusError, like requests' HTTPError, keeps the response.
    carried = getattr(outcome, "response", None)

    return carried if _is_response(carried) else None


def _is_idempotent(
    outcome: object, method: str | None, headers: Mapping[str, str] | None
) -> bool:
    request = _request_of(outcome)
    if method is None:
        method = getattr(request, "method", None)
    if headers is None:
        headers = getattr(request, "headers", None)
    if isinstance(method, str) and method.upper() in IDEMPOTENT_METHODS:
        return True
    key = _header(headers, "idempotency-key") if headers is not None else None

    return bool(key and key.strip())


def _request_of(outcome: object) -> object:
    try:
        return getattr(outcome, "request", None)
    except RuntimeError:  # httpx's way to say it was never given the request
        return None


@dataclass(frozen=True, slots=True)
class Attempt:
    """One attempt of a retrying call, as the ``on_attempt`` hook sees it.

    Attributes:
        number: 1 for the first attempt.
        outcome: ``"success"``, the call returns what the attempt returned;
            ``"failure"``, it failed in a way not worth retrying, and the
            call raises or returns that as it is; ``"retry"``, it failed and
            another attempt follows after ``wait``; ``"suppressed"``, it
            failed retryably but no retry was allowed, see
            ``SuppressedRetry``.
        duration: seconds the attempt ran, on the policy's clock.
        resend_count: times the request had been sent before this attempt.
        wait: seconds until the next attempt, for a ``"retry"``.
        error: what the attempt raised, if it raised.
        status_code: the status of the attempt's response, if it has one.
    """

    number: int
    outcome: AttemptOutcome
    duration: float
    resend_count: int
    wait: float | None = None
    error: Exception | None = None
    status_code: int | None = None


@dataclass(frozen=True, slots=True)
class SuppressedRetry:
    """A retry the call did not make, as the ``on_suppressed`` hook sees it.

    Attributes:
        reason: why it was not made.
        attempts: the attempts made until then.
    """

    reason: GiveUpReason
    attempts: int


@dataclass(frozen=True, slots=True)
class _Outcome:
    """What one attempt returned or raised, and whether it is retryable."""

    number: int
    duration: float
    value: object
    error: Exception | None
    retryable: bool

    @property
    def response(self) -> ResponseLike | None:
        return _response_of(self.value if self.error is None else self.error)

    @property
    def failed(self) -> bool:
        response = self.response
        return self.error is not None or (
            response is not None and response.status_code >= 400
        )


class _Call:
    """One retrying call: its attempts, the next wait, why it stopped.

    An attempt begins and ends here, and the wait generator asks
    ``schedule``; each reports the attempt where its outcome is decided.
    """

    last: _Outcome

    def __init__(
        self,
        policy: RetryPolicy,
        budget: RetryBudget | None,
        classify: Callable[[object], bool],
        on_attempt: Callable[[Attempt], object] | None,
        on_suppressed: Callable[[SuppressedRetry], object] | None,
    ) -> None:
        self.policy = policy
        self.budget = budget
        self.classify = classify
        self.on_attempt = on_attempt
        self.on_suppressed = on_suppressed
        self.started = policy.clock()
        self.attempts = 0
        self.wait = 0.0
        self.reason: GiveUpReason | None = None

    def begin(self) -> float:
        """Count an attempt; return the time it starts."""
        self.attempts += 1
        # Only first attempts are requests: a retry that earned budget
        # would let a failing dependency pay for its own retry storm.
        if self.attempts == 1 and self.budget is not None:
            self.budget.record_request()

        return self.policy.clock()

    def end(
        self, started: float, *, value: object = None, error: Exception | None = None
    ) -> _Outcome:
        """Classify what an attempt returned or raised."""
        self.last = _Outcome(
            number=self.attempts,
            duration=self.policy.clock() - started,
            value=value,
            error=error,
            retryable=self.classify(value if error is None else error),
        )
        if not self.last.retryable:
            failed = self.last.failed
            if not failed and self.attempts > 1 and self.budget is not None:
                self.budget.refund()
            self._report("failure" if failed else "success")

        return self.last

    def schedule(self, outcome: _Outcome) -> bool:
        """Decide whether a retryable failure is retried.

        Keeps the wait when it is, the reason when not. The budget is asked
        last, so that a retry the policy refuses spends no token.
        """
        policy = self.policy
        hint = self._hint(outcome)
        remaining = self._remaining()
        reason = policy.give_up_reason(outcome.number, hint=hint, remaining=remaining)
        if reason is None and self.budget is not None and not self.budget.try_acquire():
            reason = "budget"
        if reason is not None:
            self.reason = reason
            _log.debug("retry.suppressed", attempt=outcome.number, reason=reason)
            self._report("suppressed")
            _notify(self.on_suppressed, SuppressedRetry(reason, outcome.number))
            return False

        self.wait = policy._draw(outcome.number, hint, remaining, policy.random)
        _log.debug("retry.scheduled", attempt=outcome.number, wait=self.wait)
        self._report("retry", wait=self.wait)
        return True

    def result(self) -> object:
        """Return the last attempt's value, or raise what ends the call."""
        outcome = self.last
        if self.reason is not None:
            raise RetriesExhausted(
                self.attempts,
                self.reason,
                last_exception=outcome.error,
                last_response=outcome.response,
            ) from outcome.error
        if outcome.error is not None:
            raise outcome.error

        return outcome.value

    def _report(self, outcome: AttemptOutcome, wait: float | None = None) -> None:
        last = self.last
        response = last.response
        attempt = Attempt(
            number=last.number,
            outcome=outcome,
            duration=last.duration,
            resend_count=last.number - 1,
            wait=wait,
            error=last.error,
            status_code=response.status_code if response is not None else None,
        )
        _notify(self.on_attempt, attempt)

    def _hint(self, outcome: _Outcome) -> float | None:
        response = outcome.response
        if response is None:
            return None

        return parse_retry_hint(response.headers, now=self.policy.wall_clock())

    def _remaining(self) -> float | None:
        """Return the seconds left to the nearer of the policy's deadline and
        the request's (``time_left``), if either is set."""
        deadline = self.policy.deadline
        left = time_left()
        if deadline is None:
            return left
        remaining = deadline - (self.policy.clock() - self.started)

        return remaining if left is None else min(remaining, left)

    def attempt_limit(self) -> float | None:
        """Return the seconds the next attempt may take: the policy's
        attempt timeout, cut to the time the request's caller still waits."""
        limit = self.policy.attempt_timeout
        left = time_left()
        if left is None:
            return limit

        return max(left, 0.0) if limit is None else max(min(limit, left), 0.0)


def _caller_waits() -> None:
    """Refuse to start a call the request's caller has stopped waiting for."""
    left = time_left()
    if left is not None and left <= 0:
        raise RetriesExhausted(0, "deadline")


def _notify(hook: Callable[[R], object] | None, record: R) -> None:
    if hook is None:
        return
    try:
        hook(record)
    except Exception as exc:  # a broken hook costs its metric, not the call
        _log.warning(
            "retry.hook_failed",
            hook=getattr(hook, "__qualname__", repr(hook)),
            **{"error.type": type(exc).__qualname__},
        )


def _waits(call: _Call) -> Generator[float, _Outcome | None, None]:
    """Drive the waits of one call, as backoff's wait generator.

    backoff sends None once to start it, then each retryable outcome.
    Yielding lets backoff retry; returning makes it give up.
    """
    outcome = yield 0.0
    while outcome is not None and call.schedule(outcome):
        # backoff sleeps this long; the real wait happens in the attempt.
        outcome = yield 0.0


def _is_retryable_outcome(outcome: _Outcome) -> bool:
    return outcome.retryable


def _loop(call: _Call) -> Callable[[F], F]:
    return backoff.on_predicate(
        functools.partial(_waits, call),
        _is_retryable_outcome,
        max_tries=None,
        max_time=None,
        jitter=None,
        # The call logs and reports its attempts itself.
        logger=None,
    )


async def retry(
    fn: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    *,
    budget: RetryBudget | None = None,
    classify: Callable[[object], bool] = is_retryable,
    on_attempt: Callable[[Attempt], object] | None = None,
    on_suppressed: Callable[[SuppressedRetry], object] | None = None,
) -> T:
    """Await ``fn()`` until it succeeds or may not be retried again.

    ``fn`` may raise or return a response; a retryable response is retried
    like a retryable error. Retried responses are dropped without being
    closed, so ``fn`` should return one whose body it read, as httpx's
    ``get``, ``post`` and ``send`` without ``stream=True`` do.

    Args:
        fn: makes one attempt; called anew for each.
        policy: attempts, waits, deadline and timeouts.
        budget: the dependency's retry budget; None for no budget.
        classify: whether an attempt's outcome is worth retrying. The
            default reads the method from httpx's request; for anything
            else, bind it: ``functools.partial(is_retryable, method="GET")``.
        on_attempt: called after each attempt. An exception it raises is
            logged and ignored, and so is one from ``on_suppressed``.
        on_suppressed: called when a retryable failure is not retried.

    Returns:
        What the last attempt returned: a success, or a response not worth
        retrying, such as a 404.

    Raises:
        RetriesExhausted: the last attempt failed retryably and no retry was
            allowed; chained from its exception, if it raised.
        Exception: what the last attempt raised, when not worth retrying.
    """
    _caller_waits()
    call = _Call(policy, budget, classify, on_attempt, on_suppressed)

    @_loop(call)
    async def attempt() -> _Outcome:
        if call.attempts:
            await policy.sleep(call.wait)
        started = call.begin()
        try:
            value = await _within(call.attempt_limit(), fn)
        except Exception as exc:
            return call.end(started, error=exc)

        return call.end(started, value=value)

    await attempt()
    return cast("T", call.result())


def retry_sync(
    fn: Callable[[], T],
    policy: RetryPolicy,
    *,
    budget: RetryBudget | None = None,
    classify: Callable[[object], bool] = is_retryable,
    on_attempt: Callable[[Attempt], object] | None = None,
    on_suppressed: Callable[[SuppressedRetry], object] | None = None,
) -> T:
    """Call ``fn()`` until it succeeds or may not be retried again.

    The blocking counterpart of ``retry``, with the same arguments, result
    and errors.

    Raises:
        ValueError: the policy has an ``attempt_timeout``, which a blocking
            call cannot honour; give the client its own timeout instead.
    """
    if policy.attempt_timeout is not None:
        raise ValueError(
            "retry_sync cannot cancel a blocking attempt, so attempt_timeout "
            f"must be None, not {policy.attempt_timeout!r}; "
            "set the client's own timeout instead"
        )
    _caller_waits()
    call = _Call(policy, budget, classify, on_attempt, on_suppressed)

    @_loop(call)
    def attempt() -> _Outcome:
        if call.attempts:
            policy.sleep_sync(call.wait)
        started = call.begin()
        try:
            value = fn()
        except Exception as exc:
            return call.end(started, error=exc)

        return call.end(started, value=value)

    attempt()
    return cast("T", call.result())


def retrying(
    policy: RetryPolicy,
    *,
    budget: RetryBudget | None = None,
    classify: Callable[[object], bool] = is_retryable,
    on_attempt: Callable[[Attempt], object] | None = None,
    on_suppressed: Callable[[SuppressedRetry], object] | None = None,
) -> Callable[[F], F]:
    """Return a decorator that retries each call of a function.

    Coroutine functions go through ``retry``, others through
    ``retry_sync``; the arguments are theirs.
    """
    options: dict[str, Any] = {
        "budget": budget,
        "classify": classify,
        "on_attempt": on_attempt,
        "on_suppressed": on_suppressed,
    }

    def decorate(function: F) -> F:
        if inspect.iscoroutinefunction(function):

            @functools.wraps(function)
            async def call_async(*args: Any, **kwargs: Any) -> Any:
                bound = functools.partial(function, *args, **kwargs)
                return await retry(bound, policy, **options)

            return cast("F", call_async)

        @functools.wraps(function)
        def call(*args: Any, **kwargs: Any) -> Any:
            bound = functools.partial(function, *args, **kwargs)
            return retry_sync(bound, policy, **options)

        return cast("F", call)

    return decorate


async def _within(seconds: float | None, fn: Callable[[], Awaitable[T]]) -> T:
    """Await ``fn()``, cancelled after ``seconds`` with ``AttemptTimeout``."""
    if seconds is None:
        return await fn()
    limit = asyncio.timeout(seconds)
    try:
        async with limit:
            return await fn()
    except TimeoutError as exc:
        # Only the limit's own expiry is ours; fn may time out by itself.
        if limit.expired():
            raise AttemptTimeout(seconds) from exc
        raise
