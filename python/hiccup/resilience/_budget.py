"""A retry budget: a cap on how many retries one process sends a dependency.

Retries help while a few calls fail and hurt when most do: if every caller
retries twice, an outage triples the load on the dependency that is already
down. A budget keeps retries to a share of the requests over a sliding
window, so that in an outage the extra load is at most that share.

Two sources of tokens add up:

- the **ratio**: each request recorded in the last ``window`` seconds earns
  ``ratio`` of a retry, and each retry granted from it is spent for as long
  as the window still holds it. Over the last ``burst_window`` a share of
  ``burst_ratio`` holds as well, so that what a healthy spell earned is not
  spent in one burst the moment a fault begins. It is twice the ratio by
  default: retries that hold their tokens while they wait come in clumps
  even when the dependency serves them, and a burst share equal to the
  ratio would refuse those clumps;
- the **floor**: a token bucket refilled at ``min_per_second``, so that a
  dependency called too rarely to earn a whole retry can still retry.

A retry is taken from the ratio when it has a whole token, otherwise from
the floor. A retry that succeeds gives its token back (``refund``): what
the budget bounds is the load retries add to a dependency that fails, and
a retry that succeeded found the dependency serving. So a dependency that
fails one call in five at random, with room to spare, gets nearly every
retry it needs, while one that is down gets a tenth more calls and no more.
Create one budget per dependency and share it among every call to that
dependency in the process; it is thread-safe.
"""

from __future__ import annotations

import bisect
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

__all__ = [
    "BUDGET_BURST_FACTOR",
    "BUDGET_BURST_WINDOW",
    "BUDGET_MIN_PER_SECOND",
    "BUDGET_RATIO",
    "BUDGET_WINDOW",
    "BudgetConfig",
    "RetryBudget",
]

#: Share of the requests in the window that may be retried.
BUDGET_RATIO: Final = 0.1
#: Seconds of requests and retries the ratio counts.
BUDGET_WINDOW: Final = 10.0
#: Retries per second allowed whatever the traffic.
BUDGET_MIN_PER_SECOND: Final = 1.0
#: Seconds over which the burst share holds too.
BUDGET_BURST_WINDOW: Final = 1.0
#: The burst share, as a multiple of the ratio, unless a config sets it.
BUDGET_BURST_FACTOR: Final = 2.0

# Rounded before comparing, so that 29% of 100 requests earns 29 retries
# rather than the 28.999999999999996 that float arithmetic gives.
_DIGITS: Final = 9


def _check_number(name: str, value: object, *, positive: bool) -> None:
    bound = "> 0" if positive else ">= 0"
    if (
        not isinstance(value, int | float)
        or isinstance(value, bool)
        or not math.isfinite(value)
        or value < 0
        or (positive and value == 0)
    ):
        raise ValueError(f"{name} must be a finite number {bound}, not {value!r}")


@dataclass(frozen=True, slots=True)
class BudgetConfig:
    """How many retries a budget grants.

    Args:
        ratio: retries earned per request in the window; 0.1 lets one
            request in ten be retried once.
        window: seconds a request (and a retry spent from the ratio) counts.
        min_per_second: rate at which the floor refills. The floor holds at
            most ``max(1, min_per_second)`` tokens, so it never saves up a
            burst while the dependency is quiet. 0 turns it off.
        burst_window: seconds over which ``burst_ratio`` holds as well; at
            most ``window``.
        burst_ratio: retries earned per request in the burst window; at
            least ``ratio``, or the ratio could never be reached. None,
            the default, is twice the ratio.

    Raises:
        ValueError: a value is negative, not finite, the window is 0, the
            burst window is 0 or longer than the window, or the burst ratio
            is below the ratio.
    """

    ratio: float = BUDGET_RATIO
    window: float = BUDGET_WINDOW
    min_per_second: float = BUDGET_MIN_PER_SECOND
    burst_window: float = BUDGET_BURST_WINDOW
    burst_ratio: float | None = None

    def __post_init__(self) -> None:
        _check_number("ratio", self.ratio, positive=False)
        _check_number("window", self.window, positive=True)
        _check_number("min_per_second", self.min_per_second, positive=False)
        _check_number("burst_window", self.burst_window, positive=True)
        if self.burst_ratio is not None:
            _check_number("burst_ratio", self.burst_ratio, positive=False)
        if self.burst_window > self.window:
            raise ValueError(
                f"burst_window must be at most window ({self.window!r}),"
                f" not {self.burst_window!r}"
            )
        if self.burst_share < self.ratio:
            raise ValueError(
                f"burst_ratio must be at least ratio ({self.ratio!r}),"
                f" not {self.burst_ratio!r}"
            )

    @property
    def burst_share(self) -> float:
        """Retries earned per request in the burst window."""
        if self.burst_ratio is None:
            return BUDGET_BURST_FACTOR * self.ratio

        return self.burst_ratio

    @property
    def floor_capacity(self) -> float:
        """The most tokens the floor holds.

        At least one whole token, or a floor slower than one per second
        could never grant a retry.
        """
        if self.min_per_second == 0:
            return 0.0

        return max(1.0, self.min_per_second)


class RetryBudget:
    """The retries one process may still send one dependency.

    The retrying call records a request when it makes the first attempt of
    a call, and asks for a token when it schedules a retry, before waiting:
    retries are not requests, so they never earn budget for more retries,
    and a retry that is waiting holds its token.

    Args:
        config: how many retries the budget grants.
        dependency: the name of the dependency, for metrics and logs.
        clock: monotonic seconds; ``time.monotonic`` unless a test or a
            simulation drives time itself.
    """

    def __init__(
        self,
        config: BudgetConfig | None = None,
        *,
        dependency: str = "",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config or BudgetConfig()
        self.dependency = dependency
        self._clock = clock
        self._lock = threading.Lock()
        self._requests: deque[float] = deque()
        self._spent: deque[float] = deque()
        # The floor's level is kept as of its last spend and computed from
        # there on each read, so that reading it often adds no rounding.
        self._floor_level = self.config.floor_capacity
        self._floor_since = clock()

    def __repr__(self) -> str:
        return f"RetryBudget({self.config!r}, dependency={self.dependency!r})"

    def record_request(self) -> None:
        """Count one request: the first attempt of a call."""
        with self._lock:
            now = self._clock()
            self._forget(now)
            self._requests.append(now)

    def try_acquire(self) -> bool:
        """Take a token for one retry; return whether there was one."""
        with self._lock:
            now = self._clock()
            self._forget(now)
            if self._ratio_left() >= 1 and self._burst_left(now) >= 1:
                self._spent.append(now)
                return True
            floor = self._floor(now)
            if floor >= 1:
                self._floor_level = floor - 1
                self._floor_since = now
                return True

            return False

    def refund(self) -> None:
        """Give back the token of a retry that succeeded."""
        with self._lock:
            if self._spent:
                self._spent.pop()
                return
            now = self._clock()
            self._floor_level = min(self.config.floor_capacity, self._floor(now) + 1)
            self._floor_since = now

    def tokens(self) -> float:
        """Return the tokens left, fractions included, for a gauge."""
        with self._lock:
            now = self._clock()
            self._forget(now)

            ratio = min(self._ratio_left(), self._burst_left(now))

            return max(0.0, ratio) + self._floor(now)

    def available(self) -> int:
        """Return how many retries ``try_acquire`` would grant right now."""
        with self._lock:
            now = self._clock()
            self._forget(now)
            ratio = min(self._ratio_left(), self._burst_left(now))

            return max(0, math.floor(ratio)) + math.floor(self._floor(now))

    def _ratio_left(self) -> float:
        earned = round(self.config.ratio * len(self._requests), _DIGITS)
        return earned - len(self._spent)

    def _burst_left(self, now: float) -> float:
        horizon = now - self.config.burst_window
        requests = len(self._requests) - bisect.bisect_right(self._requests, horizon)
        spent = len(self._spent) - bisect.bisect_right(self._spent, horizon)

        return round(self.config.burst_share * requests, _DIGITS) - spent

    def _forget(self, now: float) -> None:
        # The window is (now - window, now]: an entry exactly `window`
        # seconds old no longer counts.
        horizon = now - self.config.window
        for entries in (self._requests, self._spent):
            while entries and entries[0] <= horizon:
                entries.popleft()

    def _floor(self, now: float) -> float:
        elapsed = max(0.0, now - self._floor_since)
        refilled = self._floor_level + elapsed * self.config.min_per_second

        return min(self.config.floor_capacity, refilled)
