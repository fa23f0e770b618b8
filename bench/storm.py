"""A retry storm, simulated: how each way of retrying loads a failing dependency.

The simulation runs in simulated time: a heap of events and a clock that
jumps from one event to the next, so a minute of traffic takes a fraction of
a second and nothing sleeps. Every random draw comes from a
``random.Random`` seeded from the run's seed, so a run repeats exactly.
hiccup's own ``RetryPolicy``, ``RetryBudget`` and ``CircuitBreaker`` take
part with their default settings, on the simulation's clock.

The model. Forty open-loop clients, each a Poisson process of 5 requests/s
(200/s in all), call one dependency. The dependency has 25 slots and serves
a call in 0.1 s, 250 calls/s; a call that finds every slot busy waits in a
first-in first-out queue of at most 300 calls, and one that finds the queue
full is answered 503 at once. A client waits 1 s for an attempt and then
gives up on it; the dependency cannot know and still serves the call when
its turn comes. A full queue holds 1.2 s of work, a little more than anyone
waits, so a dependency whose queue stays full does nothing but work nobody
waits for any more. Once retries keep it full it stays so after the fault
that filled it has ended: that is the metastable failure this is about.

The numbers are the same for every strategy. 200/s is 80% of capacity, busy
but healthy. The fault begins after 30 s of health, the breaker's whole
window, so that every window of every strategy holds only healthy traffic
when it begins, as in a process that has been up for a while. It lasts
10 s, and requests go on arriving for 30 s after it: time to recover, or to
show that it will not. Every strategy sees the same arrivals.

A logical request succeeds when one of its attempts succeeds within 10 s
of its arrival. The calls are idempotent reads, so timeouts may be retried.

Scenarios:

- ``down``: during the fault every call is answered 503 at once, with no
  work done.
- ``down+hint``: the same, and the 503s carry ``Retry-After: 5``. The
  dependency does not know when it will be back, so it says 5 s throughout.
- ``brown-out``: a call that starts during the fault takes 1 / 0.3 times as
  long, which leaves 30% of the capacity.
- ``flaky``: for the whole run, one call in five is answered 503 at once,
  as by one broken instance of five behind a load balancer.

Strategies:

- ``none``: one attempt.
- ``naive``: up to 3 retries, each at once.
- ``backoff``: ``RetryPolicy``'s full-jitter waits alone, with its default
  3 attempts: no budget, no breaker, hints ignored.
- ``hiccup``: ``RetryPolicy`` with hints, and in each of 4 processes (10
  clients each) a ``RetryBudget`` and a ``CircuitBreaker``. Outcomes are
  classified by ``is_retryable`` and hints read by ``parse_retry_hint``; a
  call the breaker refuses is not retried, as ``CircuitOpen`` is not
  retryable, and a retry that succeeds gives its budget token back, as
  hiccup's retry loop does.

Measures, from 0.1 s bins and windows of 1 s sliding over them:

- amplification: attempts that reached the dependency during the fault, per
  logical request that arrived during it (the whole run for ``flaky``);
- peak: the most attempts reaching it in any 1 s window, over its capacity;
- recovery: seconds from the fault's end to the start of the first window
  after which every 1 s window's requests (by arrival) succeed at 95% or
  more of the rate before the fault; "never" when the run's last window
  still falls short;
- success: the share of all logical requests that succeeded;
- metastable: the fault ended, yet the requests of the run's last 5 s
  succeed below that 95% mark.

The targets say what hiccup should achieve; a missed one is printed as
FAIL, and the run still exits 0: it is a measure, not a check.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import heapq
import itertools
import logging
import math
import random
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

import structlog

from hiccup.resilience import (
    AttemptTimeout,
    BreakerPolicy,
    CircuitBreaker,
    CircuitOpen,
    Permit,
    RetryBudget,
    RetryPolicy,
    State,
    is_retryable,
    parse_retry_hint,
)

from .report import _format_table

__all__ = [
    "CAPACITY",
    "SCENARIOS",
    "SEED",
    "STRATEGIES",
    "Recovery",
    "Scenario",
    "StormRow",
    "Target",
    "heading",
    "run",
    "run_all",
    "storm_json",
    "storm_table",
    "summary_lines",
    "targets",
]

#: The seed every table is drawn with.
SEED: Final = 1
CLIENTS: Final = 40
PROCESSES: Final = 4
#: Logical requests per second, all clients together.
RATE: Final = 200.0
SLOTS: Final = 25
#: Seconds the dependency takes to serve a call, when healthy.
SERVICE: Final = 0.1
#: Calls per second the dependency serves, when healthy.
CAPACITY: Final = SLOTS / SERVICE
#: Calls that may wait for a slot; more are answered 503 at once.
QUEUE: Final = 300
ATTEMPT_TIMEOUT: Final = 1.0
DEADLINE: Final = 10.0
#: Seconds of health before the fault: the breaker's whole window.
FAULT_START: Final = BreakerPolicy().window
FAULT_SECONDS: Final = 10.0
#: Seconds during which requests arrive; the run goes on until all are done.
RUN: Final = FAULT_START + FAULT_SECONDS + 30.0
HINT: Final = 5.0
NAIVE_RETRIES: Final = 3
#: Share of the success rate before the fault that counts as recovered.
RECOVERED: Final = 0.95
#: Seconds at the end of a run that say whether it ended metastable.
TAIL: Final = 5.0

MAX_AMPLIFICATION: Final = 1.2
MAX_PEAK: Final = 1.1
#: Seconds hiccup may take to recover beyond what a single attempt takes.
RECOVERY_SLACK: Final = 2.0
#: Share of requests hiccup may lose beyond plain backoff in ``flaky``.
SUCCESS_SLACK: Final = 0.005

_BINS_PER_SECOND: Final = 10
_WINDOW_BINS: Final = _BINS_PER_SECOND
_runs = itertools.count()

#: Seconds after the fault's end; "never"; or None, for a fault that never ends.
Recovery = float | Literal["never"] | None


@dataclass(frozen=True, slots=True)
class Scenario:
    """A fault of the dependency: what fails, and for how long."""

    name: str
    summary: str
    down: bool = False
    hint: float | None = None
    capacity: float = 1.0
    failures: float = 0.0
    whole_run: bool = False

    @property
    def window(self) -> tuple[float, float]:
        """The seconds of the run the fault spans."""
        if self.whole_run:
            return 0.0, RUN

        return FAULT_START, FAULT_START + FAULT_SECONDS


SCENARIOS: Final = (
    Scenario("down", "every call fails 503 at once", down=True),
    Scenario("down+hint", "every call fails 503, Retry-After: 5", down=True, hint=HINT),
    Scenario("brown-out", "30% of the capacity", capacity=0.3),
    Scenario("flaky", "1 call in 5 fails 503, all run", failures=0.2, whole_run=True),
)
STRATEGIES: Final = ("none", "naive", "backoff", "hiccup")


@dataclass(frozen=True, slots=True)
class StormRow:
    """What one strategy did in one scenario."""

    scenario: str
    strategy: str
    requests: int
    attempts: int
    amplification: float
    peak: float
    recovery: Recovery
    success: float
    metastable: bool | None
    breaker_openings: int


@dataclass(frozen=True, slots=True)
class Target:
    """One thing hiccup should achieve in one scenario, and whether it did."""

    scenario: str
    name: str
    value: str
    limit: str
    passed: bool


@dataclass(frozen=True, slots=True)
class _Answer:
    """The dependency's answer to an attempt, as the retry classifier reads it."""

    status_code: int
    headers: Mapping[str, str] = field(default_factory=dict)


_OK: Final = _Answer(200)
_UNAVAILABLE: Final = _Answer(503)
_TIMED_OUT: Final = AttemptTimeout(ATTEMPT_TIMEOUT)
_Outcome = _Answer | AttemptTimeout | CircuitOpen


@dataclass(slots=True)
class _Request:
    """One logical request: every attempt a client makes for it."""

    arrived: float
    process: int
    bin: int
    attempts: int = 0


@dataclass(slots=True)
class _Attempt:
    """One call the dependency received, while its client still waits."""

    request: _Request
    permit: Permit | None
    waiting: bool = True


class _Clients:
    """How the clients retry: here, never."""

    breaker_openings = 0

    def begin(self, request: _Request) -> None:
        """Note a logical request before its first attempt."""

    def admit(self, request: _Request) -> Permit | None:
        """Return what the attempt must settle; raise ``CircuitOpen`` to refuse."""
        return None

    def settle(
        self, request: _Request, permit: Permit | None, outcome: _Outcome
    ) -> None:
        """Report an attempt's outcome to whatever admitted it."""

    def next_wait(
        self, request: _Request, outcome: _Outcome, now: float
    ) -> float | None:
        """Return the seconds until the next attempt, or None to give up."""
        return None


class _Naive(_Clients):
    """Retry every failure at once, a few times."""

    def next_wait(
        self, request: _Request, outcome: _Outcome, now: float
    ) -> float | None:
        return 0.0 if request.attempts <= NAIVE_RETRIES else None


class _Backoff(_Clients):
    """Retry after hiccup's full-jitter waits, and nothing more."""

    def __init__(self, clock: Callable[[], float], draw: Callable[[], float]) -> None:
        self.policy = RetryPolicy(deadline=DEADLINE, clock=clock, random=draw)

    def next_wait(
        self, request: _Request, outcome: _Outcome, now: float
    ) -> float | None:
        remaining = DEADLINE - (now - request.arrived)

        return self.policy.next_wait(request.attempts, remaining=remaining)


class _Hiccup(_Clients):
    """hiccup's retries: a policy for all, a budget and a breaker per process."""

    def __init__(
        self, clock: Callable[[], float], draw: Callable[[], float], name: str
    ) -> None:
        self.policy = RetryPolicy(deadline=DEADLINE, clock=clock, random=draw)
        self.budgets = [
            RetryBudget(dependency="storm", clock=clock) for _ in range(PROCESSES)
        ]
        self.breakers = [
            CircuitBreaker(
                f"{name}-{process}", clock=clock, random=draw, on_transition=self._moved
            )
            for process in range(PROCESSES)
        ]

    def _moved(self, breaker: CircuitBreaker, old: State, new: State) -> None:
        if new is State.OPEN:
            self.breaker_openings += 1

    def begin(self, request: _Request) -> None:
        self.budgets[request.process].record_request()

    def admit(self, request: _Request) -> Permit:
        return self.breakers[request.process].admit()

    def settle(
        self, request: _Request, permit: Permit | None, outcome: _Outcome
    ) -> None:
        if outcome is _OK and request.attempts > 1:
            # As hiccup's retry loop does: a retry that worked costs nothing.
            self.budgets[request.process].refund()
        if permit is None:
            return
        if outcome is _OK:
            permit.success()
        else:
            permit.failure(retry_after=_hint(outcome))

    def next_wait(
        self, request: _Request, outcome: _Outcome, now: float
    ) -> float | None:
        if not is_retryable(outcome, method="GET"):
            return None
        remaining = DEADLINE - (now - request.arrived)
        wait = self.policy.next_wait(
            request.attempts, hint=_hint(outcome), remaining=remaining
        )
        # Asked last, as hiccup's retry loop does: a retry the policy
        # refuses spends no token.
        if wait is None or not self.budgets[request.process].try_acquire():
            return None

        return wait


def _hint(outcome: _Outcome) -> float | None:
    if isinstance(outcome, _Answer):
        return parse_retry_hint(outcome.headers)

    return None


def _clients(
    strategy: str, clock: Callable[[], float], draw: Callable[[], float]
) -> _Clients:
    if strategy == "none":
        return _Clients()
    if strategy == "naive":
        return _Naive()
    if strategy == "backoff":
        return _Backoff(clock, draw)
    if strategy == "hiccup":
        # Breaker names must be unique among the live ones: number each run.
        return _Hiccup(clock, draw, f"storm-{next(_runs)}")
    raise ValueError(
        f"expected a strategy among {', '.join(STRATEGIES)}, not {strategy!r}"
    )


class _Run:
    """One strategy in one scenario: the clients, the dependency, the clock."""

    def __init__(self, scenario: Scenario, strategy: str, seed: int) -> None:
        self.scenario = scenario
        self.strategy = strategy
        self.now = 0.0
        self._events: list[tuple[float, int, Callable[[], None]]] = []
        self._serials = itertools.count()
        # One stream per purpose, so that every strategy sees the same
        # arrivals whatever it draws for its own jitter.
        self._arrivals = random.Random(f"{seed}/arrivals")
        self._faults = random.Random(f"{seed}/faults")
        draw = random.Random(f"{seed}/jitter").random
        self.clients = _clients(strategy, self._clock, draw)
        start, end = scenario.window
        self._fault = (start, math.inf if scenario.whole_run else end)
        self._down = _Answer(
            503, {"Retry-After": f"{scenario.hint:g}"} if scenario.hint else {}
        )
        self._busy = 0
        self._queue: deque[_Attempt] = deque()
        bins = round(RUN * _BINS_PER_SECOND)
        self.sent = [0] * bins
        self.arrived = [0] * bins
        self.succeeded = [0] * bins

    def _clock(self) -> float:
        return self.now

    def _at(self, when: float, action: Callable[[], None]) -> None:
        heapq.heappush(self._events, (when, next(self._serials), action))

    def _in_fault(self) -> bool:
        start, end = self._fault
        return start <= self.now < end

    def run(self) -> None:
        """Let requests arrive for ``RUN`` seconds, and every one finish."""
        for client in range(CLIENTS):
            self._next_arrival(client)
        while self._events:
            self.now, _, action = heapq.heappop(self._events)
            action()

    def _next_arrival(self, client: int) -> None:
        when = self.now + self._arrivals.expovariate(RATE / CLIENTS)
        if when < RUN:
            self._at(when, functools.partial(self._arrive, client))

    def _arrive(self, client: int) -> None:
        request = _Request(self.now, client % PROCESSES, self._bin(self.now))
        self.arrived[request.bin] += 1
        self.clients.begin(request)
        self._attempt(request)
        self._next_arrival(client)

    def _bin(self, when: float) -> int:
        return int(when * _BINS_PER_SECOND)

    def _attempt(self, request: _Request) -> None:
        remaining = request.arrived + DEADLINE - self.now
        if remaining <= 0:
            return
        request.attempts += 1
        try:
            permit = self.clients.admit(request)
        except CircuitOpen as refusal:
            self._failed(request, refusal)
            return
        sent = self._bin(self.now)
        if sent < len(self.sent):
            self.sent[sent] += 1
        self._receive(_Attempt(request, permit), min(ATTEMPT_TIMEOUT, remaining))

    def _receive(self, attempt: _Attempt, timeout: float) -> None:
        """Serve, queue or refuse a call, as the dependency does."""
        scenario = self.scenario
        faulty = self._in_fault()
        if faulty and scenario.down:
            self._answer(attempt, self._down)
            return
        if faulty and self._faults.random() < scenario.failures:
            self._answer(attempt, _UNAVAILABLE)
            return
        if self._busy < SLOTS:
            self._serve(attempt)
        elif len(self._queue) < QUEUE:
            self._queue.append(attempt)
        else:
            self._answer(attempt, _UNAVAILABLE)
            return
        self._at(self.now + timeout, functools.partial(self._time_out, attempt))

    def _serve(self, attempt: _Attempt) -> None:
        # A call takes the time of the capacity in force when it starts.
        share = self.scenario.capacity if self._in_fault() else 1.0
        self._busy += 1
        self._at(self.now + SERVICE / share, functools.partial(self._served, attempt))

    def _served(self, attempt: _Attempt) -> None:
        self._busy -= 1
        if self._queue:
            self._serve(self._queue.popleft())
        if attempt.waiting:
            self._answer(attempt, _OK)

    def _time_out(self, attempt: _Attempt) -> None:
        if attempt.waiting:
            self._answer(attempt, _TIMED_OUT)

    def _answer(self, attempt: _Attempt, outcome: _Outcome) -> None:
        attempt.waiting = False
        self.clients.settle(attempt.request, attempt.permit, outcome)
        if outcome is _OK:
            self.succeeded[attempt.request.bin] += 1
        else:
            self._failed(attempt.request, outcome)

    def _failed(self, request: _Request, outcome: _Outcome) -> None:
        wait = self.clients.next_wait(request, outcome, self.now)
        if wait is not None:
            self._at(self.now + wait, functools.partial(self._attempt, request))

    def row(self) -> StormRow:
        """Return the measures of the run, once it has run."""
        scenario = self.scenario
        start, end = (round(edge * _BINS_PER_SECOND) for edge in scenario.window)
        requests = sum(self.arrived)
        level = None if scenario.whole_run else self._level(start)

        return StormRow(
            scenario=scenario.name,
            strategy=self.strategy,
            requests=requests,
            attempts=sum(self.sent),
            amplification=_ratio(
                sum(self.sent[start:end]), sum(self.arrived[start:end])
            ),
            peak=max(_windows(self.sent)) / CAPACITY,
            recovery=None if level is None else self._recovery(end, level),
            success=_ratio(sum(self.succeeded), requests),
            metastable=None if level is None else self._metastable(level),
            breaker_openings=self.clients.breaker_openings,
        )

    def _level(self, start: int) -> float:
        """Return the success rate that counts as recovered."""
        before = _ratio(sum(self.succeeded[:start]), sum(self.arrived[:start]))

        return RECOVERED * before

    def _recovery(self, end: int, level: float) -> Recovery:
        """Return when the windows from the fault's end on stay at ``level``."""
        rates = [
            _ratio(ok, total, empty=1.0)
            for ok, total in zip(
                _windows(self.succeeded), _windows(self.arrived), strict=True
            )
        ]
        short = [first for first in range(end, len(rates)) if rates[first] < level]
        if not short:
            return 0.0
        if short[-1] == len(rates) - 1:
            return "never"

        return (short[-1] + 1 - end) / _BINS_PER_SECOND

    def _metastable(self, level: float) -> bool:
        tail = round(TAIL * _BINS_PER_SECOND)

        return _ratio(sum(self.succeeded[-tail:]), sum(self.arrived[-tail:])) < level


def _windows(bins: Sequence[int]) -> list[int]:
    """Return the sum of every run of ``_WINDOW_BINS`` consecutive bins."""
    return [
        sum(bins[first : first + _WINDOW_BINS])
        for first in range(len(bins) - _WINDOW_BINS + 1)
    ]


def _ratio(part: int, whole: int, *, empty: float = 0.0) -> float:
    return part / whole if whole else empty


@contextlib.contextmanager
def _breaker_logs_muted() -> Iterator[None]:
    """Keep the breakers' warnings out of the tables."""
    config = structlog.get_config()
    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR)
    )
    try:
        yield
    finally:
        structlog.configure(**config)


def run(scenario: Scenario, strategy: str, seed: int = SEED) -> StormRow:
    """Simulate one strategy in one scenario and return its measures.

    Raises:
        ValueError: the strategy is not one of ``STRATEGIES``.
    """
    simulation = _Run(scenario, strategy, seed)
    with _breaker_logs_muted():
        simulation.run()

    return simulation.row()


def run_all(seed: int = SEED) -> list[StormRow]:
    """Simulate every strategy in every scenario."""
    return [
        run(scenario, strategy, seed)
        for scenario in SCENARIOS
        for strategy in STRATEGIES
    ]


def heading(seed: int = SEED) -> str:
    """Return the line that says what the storm table shows."""
    start, end = FAULT_START, FAULT_START + FAULT_SECONDS
    return (
        f"storm: {CLIENTS} open-loop clients in {PROCESSES} processes send"
        f" {RATE:g} requests/s to a dependency serving {CAPACITY:g} calls/s,"
        f" faulty from {start:g} s to {end:g} s of a {RUN:g} s run simulated with"
        f" seed {seed}; attempts per request during the fault, peak attempts/s over"
        " capacity (lower is better), seconds to recover after the fault, share of"
        " requests that succeeded (higher is better)"
    )


def _recovery_text(recovery: Recovery) -> str:
    if recovery is None:
        return "-"
    if recovery == "never":
        return recovery

    return f"{recovery:.1f}"


def _yes_no(flag: bool | None) -> str:
    if flag is None:
        return "-"

    return "yes" if flag else "no"


def storm_table(rows: Sequence[StormRow]) -> str:
    """Return the table of every strategy in every scenario."""
    header = ["scenario", "strategy", "attempts/req", "peak", "recovery s"]
    header += ["success", "metastable", "breaker opened"]
    lines = [
        [
            row.scenario,
            row.strategy,
            f"{row.amplification:.2f}",
            f"{row.peak:.2f}x",
            _recovery_text(row.recovery),
            f"{row.success:.1%}",
            _yes_no(row.metastable),
            str(row.breaker_openings) if row.strategy == "hiccup" else "-",
        ]
        for row in rows
    ]

    return _format_table(header, lines, numbers=range(2, 6))


def _recovery_target(ours: StormRow, alone: StormRow) -> Target:
    """hiccup recovers at most ``RECOVERY_SLACK`` later than a single attempt."""
    value = f"{_recovery_text(ours.recovery)} s"
    if not isinstance(alone.recovery, float):
        return Target(ours.scenario, "recovery", value, "any", passed=True)
    bound = alone.recovery + RECOVERY_SLACK
    passed = isinstance(ours.recovery, float) and ours.recovery <= bound

    return Target(ours.scenario, "recovery", value, f"<= {bound:.1f} s", passed)


def _scenario_targets(
    scenario: Scenario, found: Mapping[str, StormRow]
) -> list[Target]:
    ours = found["hiccup"]
    name = scenario.name
    checks = [
        Target(
            name,
            "amplification",
            f"{ours.amplification:.2f}",
            f"<= {MAX_AMPLIFICATION:.2f}",
            ours.amplification <= MAX_AMPLIFICATION,
        ),
        Target(
            name,
            "peak",
            f"{ours.peak:.2f}x",
            f"<= {MAX_PEAK:.2f}x",
            ours.peak <= MAX_PEAK,
        ),
    ]
    if scenario.whole_run:
        floor = found["backoff"].success - SUCCESS_SLACK
        checks.append(
            Target(
                name,
                "success",
                f"{ours.success:.1%}",
                f">= {floor:.1%}, backoff's less 0.5 points",
                ours.success >= floor,
            )
        )
        return checks

    alone = found["none"]
    checks.append(_recovery_target(ours, alone))
    checks.append(
        Target(
            name,
            "metastable",
            _yes_no(ours.metastable),
            "any" if alone.metastable else "no, as with one attempt",
            bool(alone.metastable) or not ours.metastable,
        )
    )

    return checks


def targets(rows: Sequence[StormRow]) -> list[Target]:
    """Return what hiccup should achieve in each scenario, and whether it did.

    Args:
        rows: every strategy in every scenario, as ``run_all`` returns them.
    """
    by_scenario: dict[str, dict[str, StormRow]] = {}
    for row in rows:
        by_scenario.setdefault(row.scenario, {})[row.strategy] = row

    return [
        target
        for scenario in SCENARIOS
        if scenario.name in by_scenario
        for target in _scenario_targets(scenario, by_scenario[scenario.name])
    ]


def summary_lines(checks: Sequence[Target]) -> list[str]:
    """Return one summary line per target, saying whether hiccup met it."""
    return [
        f"storm, {check.scenario}: hiccup {check.name} {check.value}"
        f" (target {check.limit}): {'pass' if check.passed else 'FAIL'}"
        for check in checks
    ]


def storm_json(
    rows: Sequence[StormRow], checks: Sequence[Target], seed: int = SEED
) -> dict[str, object]:
    """Return the simulation's parameters, rows and targets as JSON values."""
    return {
        "parameters": {
            "seed": seed,
            "clients": CLIENTS,
            "processes": PROCESSES,
            "requests_per_second": RATE,
            "capacity_per_second": CAPACITY,
            "slots": SLOTS,
            "service_s": SERVICE,
            "queue": QUEUE,
            "attempt_timeout_s": ATTEMPT_TIMEOUT,
            "deadline_s": DEADLINE,
            "fault_start_s": FAULT_START,
            "fault_s": FAULT_SECONDS,
            "run_s": RUN,
            "scenarios": {scenario.name: scenario.summary for scenario in SCENARIOS},
        },
        "rows": [dataclasses.asdict(row) for row in rows],
        "targets": [dataclasses.asdict(check) for check in checks],
    }
