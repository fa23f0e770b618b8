"""A circuit breaker: stop calling a dependency that keeps failing, for a while.

A breaker is closed while its dependency behaves. It counts the outcomes of
the last ``window`` seconds, in ``buckets`` slices so that old outcomes fall
out a slice at a time, and opens once enough calls were made and too many of
them failed or were slow. While open it refuses every call at once with
``CircuitOpen``, a 503 ``DEPENDENCY_UNAVAILABLE`` for whoever is waiting.
After the open time it is half-open: a few probe calls go through, and their
outcome closes the breaker or opens it again for twice as long.

Thresholds compare inclusively and durations strictly: a failure rate equal
to ``failure_rate`` opens the breaker (so that ``failure_rate=1.0`` still
means something), while a call lasting exactly ``slow_call`` seconds is not
slow, and a probe running exactly ``probe_timeout`` seconds has not timed
out yet.

The state sits behind a ``threading.Lock`` that is never held while a
protected call runs, so one breaker serves asyncio tasks and threads alike.
Transitions that depend on time alone (the end of the open time, a probe
that never finished) happen lazily, whenever the state is read or a call is
admitted, rather than on a timer.
"""

from __future__ import annotations

import enum
import functools
import inspect
import itertools
import math
import random as _random
import threading
import time
import weakref
from collections.abc import Awaitable, Callable, Coroutine
from contextvars import ContextVar
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Final, ParamSpec, TypeVar, overload

from .._codes import Code
from .._logging import get_logger
from .._metrics import record_breaker_state
from .._problem import Problem

__all__ = [
    "BUCKETS",
    "FAILURE",
    "FAILURE_RATE",
    "IGNORE",
    "JITTER",
    "MINIMUM_CALLS",
    "OPEN_BASE",
    "OPEN_CAP",
    "PROBES",
    "PROBE_SUCCESSES",
    "PROBE_TIMEOUT",
    "SLOW_RATE",
    "WINDOW",
    "BreakerPolicy",
    "CircuitBreaker",
    "CircuitOpen",
    "Permit",
    "State",
    "TransitionHook",
    "Verdict",
    "WindowCounts",
    "breakers",
    "classify",
]

P = ParamSpec("P")
T = TypeVar("T")

#: Seconds of outcomes a closed breaker judges its dependency by. Short
#: enough that a fault of a few seconds outweighs the healthy spell before
#: it while it lasts: with 30 s, a 10 s brown-out opened the breaker only
#: after it had ended, and clients were kept from a recovered dependency.
WINDOW: Final = 10.0
#: Slices of the window; outcomes leave the window one slice at a time.
BUCKETS: Final = 10
#: Calls the window must hold before any rate can open the breaker.
MINIMUM_CALLS: Final = 20
#: Share of failed calls in the window that opens the breaker.
FAILURE_RATE: Final = 0.5
#: Share of slow calls in the window that opens the breaker.
SLOW_RATE: Final = 0.8
#: Seconds the breaker stays open the first time.
OPEN_BASE: Final = 5.0
#: Seconds the open time stops doubling at, before jitter.
OPEN_CAP: Final = 60.0
#: Relative spread of the open time, so that processes do not probe together.
JITTER: Final = 0.2
#: Probe calls a half-open breaker lets through at once.
PROBES: Final = 3
#: Successful probes that close a half-open breaker.
PROBE_SUCCESSES: Final = 2
#: Seconds a probe may run before it counts as failed. Long enough for a slow
#: model call to finish, short enough that a hung one cannot keep the breaker
#: half-open (and every other caller refused) for long.
PROBE_TIMEOUT: Final = 10.0

_log = get_logger("hiccup.resilience")


class State(enum.Enum):
    """The state of a circuit breaker."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


_EVENTS: Final = {
    State.OPEN: "breaker.opened",
    State.HALF_OPEN: "breaker.half_open",
    State.CLOSED: "breaker.closed",
}


def _check_seconds(name: str, value: object) -> None:
    if (
        not isinstance(value, int | float)
        or isinstance(value, bool)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ValueError(f"{name} must be a positive number of seconds, not {value!r}")


def _check_count(name: str, value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a whole number >= 1, not {value!r}")


def _check_rate(name: str, value: object) -> None:
    if (
        not isinstance(value, int | float)
        or isinstance(value, bool)
        or not 0 < value <= 1
    ):
        raise ValueError(f"{name} must be in (0, 1], not {value!r}")


def _check_optional_seconds(name: str, value: object) -> None:
    if value is None:
        return
    if (
        not isinstance(value, int | float)
        or isinstance(value, bool)
        or not math.isfinite(value)
        or value < 0
    ):
        raise ValueError(
            f"{name} must be None or a number of seconds >= 0, not {value!r}"
        )


@dataclass(frozen=True, slots=True)
class WindowCounts:
    """The outcomes a closed breaker's window holds: a snapshot."""

    calls: int = 0
    failures: int = 0
    slow: int = 0

    @property
    def failure_rate(self) -> float:
        """The share of calls that failed, 0.0 with no calls."""
        return self.failures / self.calls if self.calls else 0.0

    @property
    def slow_rate(self) -> float:
        """The share of calls that were slow, 0.0 with no calls."""
        return self.slow / self.calls if self.calls else 0.0


@dataclass(frozen=True, slots=True)
class BreakerPolicy:
    """When a breaker opens, for how long, and how it closes again.

    Args:
        window: seconds of outcomes the closed breaker counts.
        buckets: slices of the window; an outcome leaves the window with its
            slice, so it counts for between ``window - window / buckets`` and
            ``window`` seconds.
        minimum_calls: calls the window must hold before it can open.
        failure_rate: share of failed calls, in (0, 1], that opens it.
        slow_rate: share of slow calls, in (0, 1], that opens it.
        slow_call: seconds above which a call is slow; None counts no call
            as slow.
        open_base: seconds the breaker stays open the first time; each
            failed half-open doubles it.
        open_cap: seconds the doubling stops at. Jitter applies after the
            cap, so that breakers at the cap still spread out.
        jitter: the open time is drawn within this share either side of it.
        probes: calls a half-open breaker lets through at once.
        probe_successes: successful probes that close it.
        probe_timeout: seconds after which a probe still running counts as
            failed.

    Raises:
        ValueError: a value is out of its range.
    """

    window: float = WINDOW
    buckets: int = BUCKETS
    minimum_calls: int = MINIMUM_CALLS
    failure_rate: float = FAILURE_RATE
    slow_rate: float = SLOW_RATE
    slow_call: float | None = None
    open_base: float = OPEN_BASE
    open_cap: float = OPEN_CAP
    jitter: float = JITTER
    probes: int = PROBES
    probe_successes: int = PROBE_SUCCESSES
    probe_timeout: float = PROBE_TIMEOUT

    def __post_init__(self) -> None:
        _check_seconds("window", self.window)
        _check_count("buckets", self.buckets)
        _check_count("minimum_calls", self.minimum_calls)
        _check_rate("failure_rate", self.failure_rate)
        _check_rate("slow_rate", self.slow_rate)
        if self.slow_call is not None:
            _check_seconds("slow_call", self.slow_call)
        _check_seconds("open_base", self.open_base)
        _check_seconds("open_cap", self.open_cap)
        if self.open_cap < self.open_base:
            raise ValueError(
                f"open_cap must be >= open_base ({self.open_base!r}), "
                f"not {self.open_cap!r}"
            )
        if not isinstance(self.jitter, int | float) or not 0 <= self.jitter < 1:
            raise ValueError(f"jitter must be in [0, 1), not {self.jitter!r}")
        _check_count("probes", self.probes)
        _check_count("probe_successes", self.probe_successes)
        _check_seconds("probe_timeout", self.probe_timeout)

    def is_slow(self, duration: float) -> bool:
        """Whether a call that took ``duration`` seconds counts as slow."""
        return self.slow_call is not None and duration > self.slow_call

    def trip_reason(self, counts: WindowCounts) -> str | None:
        """Return why a window's counts open the breaker, or None if they do not.

        Returns:
            ``"failure_rate"`` or ``"slow_rate"``, the former when both apply.
        """
        if counts.calls < self.minimum_calls:
            return None
        if counts.failure_rate >= self.failure_rate:
            return "failure_rate"
        if self.slow_call is not None and counts.slow_rate >= self.slow_rate:
            return "slow_rate"

        return None

    def next_backoff(self, previous: float | None) -> float:
        """Return the open time before jitter: the base after a closed spell
        (``previous`` None), else twice the previous one, up to the cap."""
        if previous is None:
            return self.open_base

        return min(previous * 2, self.open_cap)

    def open_seconds(self, backoff: float, draw: float) -> float:
        """Return the open time for a backoff and a random draw in [0, 1)."""
        return backoff * (1 - self.jitter + 2 * self.jitter * draw)


@dataclass(frozen=True, slots=True)
class Verdict:
    """How a call's exception counts: a failure (with the upstream's
    Retry-After, when it gave one) or not at all."""

    failed: bool
    retry_after: float | None = None

    def __post_init__(self) -> None:
        _check_optional_seconds("retry_after", self.retry_after)


#: The verdict for an outcome that says nothing about the dependency's health.
IGNORE: Final = Verdict(failed=False)
#: The verdict for a failure without a Retry-After.
FAILURE: Final = Verdict(failed=True)


def _status_of(exc: BaseException) -> object:
    # Starlette's HTTPException has status_code, a Problem has status, and
    # httpx's HTTPStatusError keeps it on its response.
    for name in ("status_code", "status"):
        status = getattr(exc, name, None)
        if isinstance(status, int):
            return status

    return getattr(getattr(exc, "response", None), "status_code", None)


def classify(exc: BaseException) -> Verdict:
    """Count an exception the way breakers do unless told otherwise.

    Cancellation (``asyncio.CancelledError``, and anything else that is not
    an ``Exception``) is the caller giving up, not the dependency failing;
    a 429 means the dependency is healthy enough to say it is busy. Both are
    ignored. Anything else is a failure, with the exception's
    ``retry_after`` attribute (seconds) when it has a usable one.
    """
    if not isinstance(exc, Exception) or _status_of(exc) == 429:
        return IGNORE
    retry_after = getattr(exc, "retry_after", None)
    if (
        isinstance(retry_after, int | float)
        and not isinstance(retry_after, bool)
        and math.isfinite(retry_after)
        and retry_after >= 0
    ):
        return Verdict(failed=True, retry_after=float(retry_after))

    return FAILURE


class CircuitOpen(Problem):
    """Raised when a circuit breaker refuses a call: it is open, or half-open
    with every probe slot taken.

    It answers a request with ``DEPENDENCY_UNAVAILABLE`` and a Retry-After of
    the time the breaker still refuses calls. The breaker's name and why it
    refused are in its text, for logs and Sentry, and not in the response.

    Attributes:
        breaker: the name of the breaker.
        retry_after: seconds until the breaker would admit a call.
    """

    breaker: str
    retry_after: float
    #: Why the call was refused, in words for a developer.
    refusal: str

    def __init__(
        self, breaker: str, retry_after: float, *, refusal: str | None = None
    ) -> None:
        super().__init__(
            Code.DEPENDENCY_UNAVAILABLE, retry_after_ms=math.ceil(retry_after * 1000)
        )
        self.breaker = breaker
        self.retry_after = retry_after
        self.refusal = refusal or f"circuit breaker {breaker!r} refuses calls"

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.breaker, self.retry_after), {"refusal": self.refusal})

    def __str__(self) -> str:
        return f"{self.code}: {self.refusal}"

    def __repr__(self) -> str:
        return f"CircuitOpen({self.breaker!r}, {self.retry_after!r})"


class _Bucket:
    """The outcomes of one slice of the window."""

    __slots__ = ("calls", "epoch", "failures", "slow")

    def __init__(self) -> None:
        self.epoch = -1
        self.calls = 0
        self.failures = 0
        self.slow = 0


class _Window:
    """Outcomes of the last ``window`` seconds, kept in a ring of buckets."""

    __slots__ = ("_buckets", "_width")

    def __init__(self, window: float, buckets: int) -> None:
        self._width = window / buckets
        self._buckets = [_Bucket() for _ in range(buckets)]

    def _epoch(self, now: float) -> int:
        return math.floor(now / self._width)

    def add(self, now: float, *, failed: bool, slow: bool) -> None:
        epoch = self._epoch(now)
        bucket = self._buckets[epoch % len(self._buckets)]
        if bucket.epoch != epoch:
            bucket.epoch, bucket.calls, bucket.failures, bucket.slow = epoch, 0, 0, 0
        bucket.calls += 1
        bucket.failures += failed
        bucket.slow += slow

    def counts(self, now: float) -> WindowCounts:
        oldest = self._epoch(now) - len(self._buckets)
        live = [b for b in self._buckets if b.epoch > oldest]

        return WindowCounts(
            calls=sum(b.calls for b in live),
            failures=sum(b.failures for b in live),
            slow=sum(b.slow for b in live),
        )

    def clear(self) -> None:
        for bucket in self._buckets:
            bucket.epoch = -1


@dataclass(frozen=True, slots=True)
class _Change:
    """A transition, kept until it is announced."""

    old: State
    new: State
    reason: str | None = None
    counts: WindowCounts | None = None
    open_seconds: float | None = None


TransitionHook = Callable[["CircuitBreaker", State, State], object]
"""Called with the breaker, its old state and its new state, after each
transition, outside the breaker's lock."""

_registry: weakref.WeakValueDictionary[str, CircuitBreaker] = (
    weakref.WeakValueDictionary()
)
_registry_lock = threading.Lock()
#: The permits of the ``with breaker:`` blocks the current task or thread is in.
_held: ContextVar[tuple[Permit, ...]] = ContextVar("hiccup_breaker_permits", default=())
_serials = itertools.count()


def breakers() -> tuple[CircuitBreaker, ...]:
    """Return the breakers of the process that are still in use, by name."""
    with _registry_lock:
        alive = list(_registry.values())

    return tuple(sorted(alive, key=lambda breaker: breaker.name))


class Permit:
    """Leave to make one call through a breaker, settled exactly once.

    Whoever made the call reports how it went with ``success``, ``failure``
    or ``ignore``; the last is for outcomes that say nothing of the
    dependency's health, such as a 429 or the caller's own cancellation. A
    permit never settled counts for nothing, except that a probe left
    running times out as a failure.
    """

    __slots__ = ("_breaker", "_generation", "_serial", "_settled", "_started")

    def __init__(
        self, breaker: CircuitBreaker, generation: int, started: float
    ) -> None:
        self._breaker = breaker
        self._generation = generation
        self._started = started
        self._serial = next(_serials)
        self._settled = False

    def success(self, duration: float | None = None) -> None:
        """Report that the call succeeded.

        Args:
            duration: seconds the call took, for the slow-call rate; by
                default the time since the permit was given.
        """
        self._breaker._settle(self, failed=False, duration=duration)

    def failure(
        self, retry_after: float | None = None, duration: float | None = None
    ) -> None:
        """Report that the call failed.

        Args:
            retry_after: seconds the dependency asked callers to wait (its
                Retry-After); it lengthens the open time, never shortens it.
            duration: seconds the call took; by default the time since the
                permit was given.
        """
        _check_optional_seconds("retry_after", retry_after)
        self._breaker._settle(
            self, failed=True, duration=duration, retry_after=retry_after
        )

    def ignore(self) -> None:
        """Report an outcome that counts neither way, and free the permit."""
        self._breaker._settle(self, failed=None, duration=None)


class CircuitBreaker:
    """A circuit breaker around calls to one dependency.

        model = CircuitBreaker("model", BreakerPolicy(slow_call=20.0))

        draft = await model.call(client.complete, prompt)

    Calls go through ``call`` (async), ``call_sync``, the ``protect``
    decorator, ``async with breaker:`` / ``with breaker:``, or, to report
    outcomes that are not exceptions, ``admit`` and the permit it returns.
    A refused call raises ``CircuitOpen`` without running.

    Args:
        name: names the breaker in logs, metrics and readiness, and must be
            unique among the breakers alive in the process.
        policy: the thresholds and times.
        classify: decides how an exception raised by a call counts; it is
            consulted only for ``Exception``s, since cancellation never
            counts. The default is ``classify``.
        on_transition: called after each change of state (see
            ``TransitionHook``); an exception it raises is logged as
            ``breaker.hook_failed`` and goes no further.
        clock: a monotonic clock, in seconds.
        random: draws in [0, 1) for the jitter of the open time.

    Raises:
        ValueError: a breaker of the same name is alive already, or the name
            is empty.
    """

    __slots__ = (
        "__weakref__",
        "_backoff",
        "_classify",
        "_clock",
        "_flushing",
        "_generation",
        "_lock",
        "_name",
        "_on_transition",
        "_open_until",
        "_outbox",
        "_policy",
        "_probe_counts",
        "_probes",
        "_random",
        "_state",
        "_window",
    )

    def __init__(
        self,
        name: str,
        policy: BreakerPolicy | None = None,
        *,
        classify: Callable[[BaseException], Verdict] = classify,
        on_transition: TransitionHook | None = None,
        clock: Callable[[], float] = time.monotonic,
        random: Callable[[], float] = _random.random,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError(f"a breaker needs a non-empty name, not {name!r}")
        self._name = name
        self._policy = policy or BreakerPolicy()
        self._classify = classify
        self._on_transition = on_transition
        self._clock = clock
        self._random = random
        self._lock = threading.Lock()
        self._state = State.CLOSED
        self._generation = 0
        self._window = _Window(self._policy.window, self._policy.buckets)
        self._backoff: float | None = None
        self._open_until = 0.0
        self._probes: dict[int, float] = {}
        self._probe_counts = WindowCounts()
        self._outbox: list[_Change] = []
        self._flushing = False
        with _registry_lock:
            if name in _registry:
                raise ValueError(
                    f"a circuit breaker named {name!r} exists already; names "
                    "tell breakers apart in logs, metrics and readiness"
                )
            _registry[name] = self
        record_breaker_state(name, State.CLOSED.value, changed=False)

    def __repr__(self) -> str:
        return f"CircuitBreaker({self._name!r}, state={self.state.value!r})"

    @property
    def name(self) -> str:
        """The name of the breaker."""
        return self._name

    @property
    def policy(self) -> BreakerPolicy:
        """The thresholds and times of the breaker."""
        return self._policy

    @property
    def state(self) -> State:
        """The current state, after any transition that time has brought."""
        with self._lock:
            self._catch_up(self._clock())
            state = self._state
        self._flush()

        return state

    @property
    def retry_after(self) -> float:
        """Seconds until the breaker would admit a call: 0 when closed.

        Half-open with every probe slot taken, it is the time until the
        oldest probe times out, by when the probes will have decided.
        """
        with self._lock:
            now = self._clock()
            self._catch_up(now)
            wait = self._wait(now)
        self._flush()

        return wait

    @property
    def counts(self) -> WindowCounts:
        """The outcomes in the window. Only calls made while closed count, and
        they are forgotten when the breaker closes again."""
        with self._lock:
            now = self._clock()
            self._catch_up(now)
            counts = self._window.counts(now)
        self._flush()

        return counts

    def reset(self) -> None:
        """Close the breaker and forget the calls its window counted, as
        when an operator knows the dependency is fixed. Permits handed out
        before then settle as if ignored, if the breaker was not closed."""
        with self._lock:
            self._backoff = None
            if self._state is State.CLOSED:
                self._window.clear()
            else:
                self._close()
        self._flush()

    def admit(self) -> Permit:
        """Return a permit for one call, to be settled when it is done.

        Raises:
            CircuitOpen: the breaker refuses calls for now.
        """
        with self._lock:
            now = self._clock()
            self._catch_up(now)
            permit = None
            if self._state is State.CLOSED:
                permit = Permit(self, self._generation, now)
            elif (
                self._state is State.HALF_OPEN
                and len(self._probes) < self._policy.probes
            ):
                permit = Permit(self, self._generation, now)
                self._probes[permit._serial] = now
            wait, state = self._wait(now), self._state
        self._flush()
        if permit is None:
            raise CircuitOpen(self._name, wait, refusal=self._refusal(state, wait))

        return permit

    def _refusal(self, state: State, wait: float) -> str:
        if state is State.HALF_OPEN:
            return (
                f"circuit breaker {self._name!r} is half-open and its "
                f"{self._policy.probes} probe calls are in flight"
            )

        return f"circuit breaker {self._name!r} is open for {wait:.3f} s more"

    async def call(
        self, fn: Callable[P, Awaitable[T]], /, *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Await ``fn(*args, **kwargs)`` through the breaker.

        Raises:
            CircuitOpen: the breaker refuses calls for now; ``fn`` was not
                called.
        """
        permit = self.admit()
        try:
            result = await fn(*args, **kwargs)
        except BaseException as exc:
            self._settle_raised(permit, exc)
            raise
        permit.success()

        return result

    def call_sync(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Call ``fn(*args, **kwargs)`` through the breaker.

        Raises:
            CircuitOpen: the breaker refuses calls for now; ``fn`` was not
                called.
        """
        permit = self.admit()
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            self._settle_raised(permit, exc)
            raise
        permit.success()

        return result

    @overload
    def protect(
        self, fn: Callable[P, Coroutine[Any, Any, T]]
    ) -> Callable[P, Coroutine[Any, Any, T]]: ...

    @overload
    def protect(self, fn: Callable[P, T]) -> Callable[P, T]: ...

    def protect(self, fn: Callable[P, Any]) -> Callable[P, Any]:
        """Decorate a function, sync or async, so that its calls go through
        the breaker."""
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def guarded(*args: P.args, **kwargs: P.kwargs) -> Any:
                return await self.call(fn, *args, **kwargs)

            return guarded

        @functools.wraps(fn)
        def guarded_sync(*args: P.args, **kwargs: P.kwargs) -> Any:
            return self.call_sync(fn, *args, **kwargs)

        return guarded_sync

    def __enter__(self) -> None:
        _held.set((*_held.get(), self.admit()))

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        permit = self._release_held()
        if exc is None:
            permit.success()
        else:
            self._settle_raised(permit, exc)

    async def __aenter__(self) -> None:
        self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, traceback)

    def _release_held(self) -> Permit:
        held = _held.get()
        for index in range(len(held) - 1, -1, -1):
            if held[index]._breaker is self:
                _held.set(held[:index] + held[index + 1 :])
                return held[index]
        raise RuntimeError(f"left a block of breaker {self._name!r} never entered")

    def _settle_raised(self, permit: Permit, exc: BaseException) -> None:
        if not isinstance(exc, Exception):
            permit.ignore()
            return
        try:
            verdict = self._classify(exc)
        except Exception:
            permit.failure()
            raise
        if verdict.failed:
            permit.failure(verdict.retry_after)
        else:
            permit.ignore()

    def _settle(
        self,
        permit: Permit,
        *,
        failed: bool | None,
        duration: float | None,
        retry_after: float | None = None,
    ) -> None:
        """Count a permit's outcome; ``failed`` None ignores it."""
        _check_optional_seconds("duration", duration)
        with self._lock:
            if permit._settled:
                raise RuntimeError("a permit is settled exactly once")
            permit._settled = True
            now = self._clock()
            self._catch_up(now)
            if duration is None:
                duration = max(now - permit._started, 0.0)
            if permit._generation != self._generation:
                # Admitted before the latest transition: what it says is
                # about a spell that has ended, except that a Retry-After
                # still holds the breaker open longer.
                if failed and retry_after is not None and self._state is State.OPEN:
                    self._open_until = max(self._open_until, now + retry_after)
            elif self._state is State.CLOSED:
                if failed is not None:
                    self._count(now, failed, duration, retry_after)
            else:
                del self._probes[permit._serial]
                if failed is not None:
                    self._count_probe(now, failed, duration, retry_after)
        self._flush()

    def _count(
        self, now: float, failed: bool, duration: float, retry_after: float | None
    ) -> None:
        self._window.add(now, failed=failed, slow=self._policy.is_slow(duration))
        counts = self._window.counts(now)
        reason = self._policy.trip_reason(counts)
        if reason is not None:
            self._open(now, reason, counts, retry_after)

    def _count_probe(
        self, now: float, failed: bool, duration: float, retry_after: float | None
    ) -> None:
        # A probe that answers, but too slowly, shows a dependency that has
        # not recovered, just as a failed one does.
        slow = self._policy.is_slow(duration)
        seen = self._probe_counts
        seen = WindowCounts(seen.calls + 1, seen.failures + failed, seen.slow + slow)
        self._probe_counts = seen
        if failed:
            self._open(now, "probe_failed", seen, retry_after)
        elif slow:
            self._open(now, "probe_slow", seen, retry_after)
        elif seen.calls >= self._policy.probe_successes:
            self._close()

    def _catch_up(self, now: float) -> None:
        """Make the transitions time has brought by ``now``."""
        if self._state is State.HALF_OPEN and self._probes:
            deadline = min(self._probes.values()) + self._policy.probe_timeout
            if now > deadline:
                seen = self._probe_counts
                seen = WindowCounts(seen.calls + 1, seen.failures + 1, seen.slow)
                # Opened as of the probe's deadline, as if watched all along:
                # a breaker nobody called for a while is not held open for
                # the whole open time by the first caller back.
                self._open(deadline, "probe_timeout", seen, None)
        if self._state is State.OPEN and now >= self._open_until:
            self._move(State.HALF_OPEN, _Change(State.OPEN, State.HALF_OPEN))

    def _wait(self, now: float) -> float:
        if self._state is State.OPEN:
            return self._open_until - now
        if self._state is State.HALF_OPEN and len(self._probes) >= self._policy.probes:
            oldest = min(self._probes.values())
            return max(oldest + self._policy.probe_timeout - now, 0.0)

        return 0.0

    def _open(
        self,
        at: float,
        reason: str,
        counts: WindowCounts,
        retry_after: float | None,
    ) -> None:
        if self._state is State.CLOSED:
            self._backoff = self._policy.next_backoff(None)
        else:
            self._backoff = self._policy.next_backoff(self._backoff)
        seconds = self._policy.open_seconds(self._backoff, self._random())
        if retry_after is not None:
            seconds = max(seconds, retry_after)
        self._open_until = at + seconds
        change = _Change(self._state, State.OPEN, reason, counts, seconds)
        self._move(State.OPEN, change)

    def _close(self) -> None:
        self._window.clear()
        self._move(State.CLOSED, _Change(self._state, State.CLOSED))

    def _move(self, state: State, change: _Change) -> None:
        self._state = state
        self._generation += 1
        self._probes.clear()
        self._probe_counts = WindowCounts()
        self._outbox.append(change)

    def _flush(self) -> None:
        """Announce the transitions made so far, outside the lock.

        Outside, so that a hook may read the breaker; by one thread at a
        time, in the order they were made, so that a gauge set from a hook
        ends on the current state. A transition made meanwhile (by a hook, or
        by another thread) is announced by whoever is flushing already.
        """
        with self._lock:
            if self._flushing or not self._outbox:
                return
            self._flushing = True
        try:
            while changes := self._take_changes():
                for change in changes:
                    self._announce(change)
        except BaseException:
            with self._lock:
                self._flushing = False
            raise

    def _take_changes(self) -> list[_Change]:
        with self._lock:
            changes, self._outbox = self._outbox, []
            if not changes:
                self._flushing = False

        return changes

    def _announce(self, change: _Change) -> None:
        fields: dict[str, object] = {
            "breaker": self._name,
            "from": change.old.value,
            "to": change.new.value,
        }
        if change.counts is not None and change.open_seconds is not None:
            fields["reason"] = change.reason
            fields["calls"] = change.counts.calls
            fields["failure_rate"] = change.counts.failure_rate
            fields["slow_rate"] = change.counts.slow_rate
            fields["open_seconds"] = round(change.open_seconds, 3)
        _log.warning(_EVENTS[change.new], **fields)
        record_breaker_state(self._name, change.new.value)
        if self._on_transition is None:
            return
        try:
            self._on_transition(self, change.old, change.new)
        except Exception as exc:
            # Metrics wired through the hook are worth less than the call
            # that happened to make the transition.
            _log.warning(
                "breaker.hook_failed",
                breaker=self._name,
                **{"error.type": type(exc).__qualname__},
            )
