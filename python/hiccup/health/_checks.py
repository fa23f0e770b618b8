"""Health checks: named checks run in the background, read from a cache.

    health = Health()
    health.add("db", sqlalchemy_ping(engine), component="db",
               measurement="responseTime")
    await health.start()
    ...
    health.report(Group.READY).status

Each check runs on its own interval (with jitter, so that the processes of a
fleet do not probe a dependency in step) under its own timeout, and its
latest result is kept. A report only reads those results: serving a probe
never runs a check, so a probe storm costs the dependencies nothing and a
hanging dependency never makes a probe hang. A check never runs twice at
once; whoever asks for a run while one is in flight shares it.

How a report counts what it reads:

- a result older than ``STALE_AFTER`` intervals fails: the loop that should
  have replaced it is stuck or gone;
- a check that has no result yet fails readiness and startup, which must not
  pass before the dependency has been seen to work, but passes liveness,
  which is about the process and must not have it restarted while it is
  still starting;
- the overall status fails when a critical check fails, warns when any
  check warns or a non-critical one fails, and passes otherwise;
- after ``drain()`` readiness fails whatever the checks say.

A check whose status changes writes one ``health.check_changed`` line: at
warning when it got worse, at info when it got better. A first result that
passes is what is expected and writes nothing. Results derived at read time
(stale, not checked yet, draining) are not logged: they follow from the
absence of a run, and requests must not be what writes log lines.
"""

from __future__ import annotations

import asyncio
import enum
import functools
import inspect
import math
import random as _random
import re
from collections.abc import Awaitable, Callable, Collection, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from time import monotonic
from types import TracebackType
from typing import Final, TypeAlias

from .._logging import get_logger
from .._metrics import record_health_result

__all__ = [
    "INTERVAL",
    "JITTER",
    "MAX_OUTPUT",
    "STALE_AFTER",
    "STARTUP",
    "TIMEOUT",
    "Check",
    "CheckFunction",
    "Group",
    "Health",
    "Outcome",
    "Report",
    "Result",
    "ResultHook",
    "Status",
    "overall_status",
]

#: Seconds a run of a check may take before it is cancelled and fails.
TIMEOUT: Final = 1.0
#: Seconds from the end of one run of a check to the start of the next,
#: before jitter.
INTERVAL: Final = 10.0
#: Relative spread of the interval either side.
JITTER: Final = 0.1
#: Intervals after which a check's latest result no longer counts.
STALE_AFTER: Final = 3
#: Characters of a check's output that are kept; the rest is cut off.
MAX_OUTPUT: Final = 500
#: The name of the built-in check that fails until ``Health.mark_started``.
STARTUP: Final = "startup"

# Names appear in URL paths (/readyz/<name>); keys in health+json bodies.
_NAME: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")
_KEY_PART: Final = re.compile(r"[A-Za-z0-9_.-]{1,64}")
# The password of a URL such as postgresql://user:secret@host/db.
_URL_PASSWORD: Final = re.compile(r"\b([A-Za-z][A-Za-z0-9+.-]*://[^\s/@:]*):[^\s/@]*@")
_WHITESPACE: Final = re.compile(r"\s+")

_log = get_logger("hiccup.health")


class Group(enum.StrEnum):
    """The probe a check answers to."""

    #: Whether the process works at all; failing it gets the process restarted.
    LIVE = "live"
    #: Whether the process can serve traffic now; failing it takes it out of
    #: the load balancer.
    READY = "ready"
    #: Whether the process has finished starting.
    STARTUP = "startup"


class Status(enum.StrEnum):
    """The status of a check or a report, as ``application/health+json`` has it."""

    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"

    @property
    def score(self) -> float:
        """1.0 for pass, 0.5 for warn, 0.0 for fail: the value of a gauge."""
        return _SCORES[self]


_SCORES: Final = {Status.PASS: 1.0, Status.WARN: 0.5, Status.FAIL: 0.0}


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Result:
    """What one run of a check found.

    A check returns one with the fields it knows; ``time`` and ``duration``
    are then set by the registry that ran it.

    Attributes:
        status: pass, warn or fail.
        observed_value: what was measured, such as a response time.
        observed_unit: the unit of ``observed_value``, such as ``ms``.
        output: why the check warns or fails. It may be shown to operators,
            so it names what went wrong and never a secret; the password of
            any URL in it is replaced, and it is cut to ``MAX_OUTPUT``
            characters.
        time: when the result was measured (UTC).
        duration: seconds the run took.
    """

    status: Status
    observed_value: float | int | str | None = None
    observed_unit: str | None = None
    output: str | None = None
    time: datetime = field(default_factory=_utcnow)
    duration: float = 0.0


Outcome: TypeAlias = Result | Status | bool | None
"""What a check returns: a result, a bare status, or True/None for pass and
False for fail."""
CheckFunction: TypeAlias = Callable[[], Awaitable[Outcome] | Outcome]
"""A check: an async function of no arguments. A plain function is accepted
too, for checks that need not wait; it must not block."""


def _check_seconds(name: str, value: object) -> float:
    if (
        not isinstance(value, int | float)
        or isinstance(value, bool)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ValueError(f"{name} must be a positive number of seconds, not {value!r}")

    return float(value)


def _check_key_part(name: str, value: str | None) -> None:
    if value is not None and not (
        isinstance(value, str) and _KEY_PART.fullmatch(value)
    ):
        raise ValueError(
            f"{name} must be 1 to 64 letters, digits, '.', '-' or '_', not {value!r}"
        )


def _as_groups(groups: Group | Collection[Group]) -> tuple[Group, ...]:
    # One group on its own is a string, and would count as its letters.
    given = (groups,) if isinstance(groups, str) else groups
    wanted = {Group(group) for group in given}

    return tuple(group for group in Group if group in wanted)


@dataclass(frozen=True, slots=True, eq=False)
class Check:
    """A registered check and how it runs.

    Attributes:
        name: unique in its registry; letters, digits, ``-`` and ``_``, since
            it is part of a URL path.
        fn: the check function.
        groups: the probes it answers to.
        critical: whether its failure fails the probes, or only warns.
        timeout: seconds a run may take before it is cancelled and fails.
        interval: seconds between runs, before jitter.
        component: the component part of the check's key in a health+json
            body (``component:measurement``); the name by default.
        measurement: what is measured, such as ``responseTime``.

    Raises:
        ValueError: a value is out of its range.
    """

    name: str
    fn: CheckFunction
    groups: tuple[Group, ...] = (Group.READY,)
    critical: bool = True
    timeout: float = TIMEOUT
    interval: float = INTERVAL
    component: str | None = None
    measurement: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.fullmatch(self.name):
            raise ValueError(
                "a check's name must be 1 to 64 letters, digits, '-' or '_', "
                f"not {self.name!r}"
            )
        if not callable(self.fn):
            raise ValueError(f"a check must be callable, not {self.fn!r}")
        groups = _as_groups(self.groups)
        if not groups:
            raise ValueError(f"check {self.name!r} needs at least one group")
        timeout = _check_seconds("timeout", self.timeout)
        interval = _check_seconds("interval", self.interval)
        if timeout > interval:
            raise ValueError(
                f"check {self.name!r} has a timeout ({timeout!r} s) longer than "
                f"its interval ({interval!r} s); its results would go stale "
                "while it runs"
            )
        _check_key_part("component", self.component)
        _check_key_part("measurement", self.measurement)
        object.__setattr__(self, "groups", groups)
        object.__setattr__(self, "timeout", timeout)
        object.__setattr__(self, "interval", interval)

    @property
    def key(self) -> str:
        """The check's key in a health+json body: ``component:measurement``,
        or the component alone."""
        component = self.component or self.name
        if self.measurement is None:
            return component

        return f"{component}:{self.measurement}"


ResultHook: TypeAlias = Callable[[Check, Result], None]
"""Called with every new result; an exception it raises is logged as
``health.hook_failed`` and goes no further."""


@dataclass(frozen=True, slots=True)
class Report:
    """A probe's view of the checks of its group.

    Attributes:
        group: the probe.
        status: the overall status (see ``overall_status``).
        checks: each check of the group with the result it counts with,
            in the order they were added. A stale or missing result appears
            as the failure it counts as.
        output: why the status is not pass: ``"draining"``, or the checks
            that fail and warn.
    """

    group: Group
    status: Status
    checks: tuple[tuple[Check, Result], ...]
    output: str | None = None


def overall_status(checks: Iterable[tuple[Check, Result]]) -> Status:
    """Return fail if a critical check fails, warn if any check warns or a
    non-critical one fails, pass otherwise (and with no checks)."""
    status = Status.PASS
    for check, result in checks:
        if result.status is Status.FAIL and check.critical:
            return Status.FAIL
        if result.status is not Status.PASS:
            status = Status.WARN

    return status


def _summary(checks: Iterable[tuple[Check, Result]]) -> str:
    failed = [c.name for c, r in checks if r.status is Status.FAIL]
    warned = [c.name for c, r in checks if r.status is Status.WARN]
    parts = [f"failed: {', '.join(failed)}"] if failed else []
    if warned:
        parts.append(f"warned: {', '.join(warned)}")

    return "; ".join(parts)


def _clean_output(output: str | None) -> str | None:
    if output is None:
        return None
    output = _WHITESPACE.sub(" ", _URL_PASSWORD.sub(r"\1:***@", str(output))).strip()
    if len(output) > MAX_OUTPUT:
        output = output[: MAX_OUTPUT - 1] + "…"

    return output


def _failure(exc: BaseException) -> Result:
    message = str(exc)
    name = type(exc).__qualname__

    return Result(Status.FAIL, output=f"{name}: {message}" if message else name)


def _as_result(outcome: object) -> Result:
    if isinstance(outcome, Result):
        return outcome
    if isinstance(outcome, Status):
        return Result(outcome)
    if outcome is None or outcome is True:
        return Result(Status.PASS)
    if outcome is False:
        return Result(Status.FAIL, output="check returned False")

    return Result(
        Status.FAIL,
        output=(
            f"TypeError: check returned {type(outcome).__qualname__!r}, "
            "expected a Result, a Status, a bool or None"
        ),
    )


@dataclass(frozen=True, slots=True)
class _Latest:
    result: Result
    #: When it was recorded, on the registry's monotonic clock.
    at: float


class Health:
    """The health checks of an app, their results and the loop that runs them.

        health = Health()
        health.add("db", sqlalchemy_ping(engine))
        async with health:           # start() ... stop()
            health.mark_started()
            ...

    A built-in check named ``startup``, in the startup and readiness groups,
    fails until ``mark_started()``: an app that has not finished starting
    (loading a model, warming a cache) can serve nothing yet, whether or not
    the platform probes startup separately.

    Args:
        on_result: called with the check and its result after every run,
            besides the ``hiccup_health_check_status`` gauge (1, 0.5, 0 per
            group) and the run-duration histogram hiccup records itself;
            see ``ResultHook``.
        clock: a monotonic clock, in seconds, for durations and staleness.
        wall_clock: returns the current UTC time, for ``Result.time``.
        random: draws in [0, 1) for the jitter of the intervals.
        sleep: waits between runs; ``asyncio.sleep`` unless a test drives
            the loop itself.
    """

    def __init__(
        self,
        *,
        on_result: ResultHook | None = None,
        clock: Callable[[], float] = monotonic,
        wall_clock: Callable[[], datetime] = _utcnow,
        random: Callable[[], float] = _random.random,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._on_result = on_result
        self._clock = clock
        self._wall_clock = wall_clock
        self._random = random
        self._sleep = sleep
        self._checks: dict[str, Check] = {}
        self._latest: dict[str, _Latest] = {}
        self._running: dict[str, asyncio.Task[Result]] = {}
        self._loops: dict[str, asyncio.Task[None]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._started = False
        self._draining = False
        # Imported here, since the built-in checks import this module.
        from ._builtin import NOT_STARTED, startup_complete  # noqa: PLC0415

        self.add(STARTUP, startup_complete(self), groups=(Group.STARTUP, Group.READY))
        # Not having started is known before the check first runs, and is
        # what a starting app expects: its first run is no change to log.
        self._latest[STARTUP] = _Latest(
            Result(Status.FAIL, output=NOT_STARTED, time=wall_clock()), clock()
        )

    def add(
        self,
        name: str,
        fn: CheckFunction,
        *,
        groups: Group | Collection[Group] = (Group.READY,),
        critical: bool = True,
        timeout: float = TIMEOUT,
        interval: float = INTERVAL,
        component: str | None = None,
        measurement: str | None = None,
    ) -> Check:
        """Register a check; if the loop runs, the check starts running too.

        Call it on the event loop's thread.

        Args:
            name: unique; letters, digits, ``-`` and ``_``.
            fn: the check function.
            groups: the probes it answers to.
            critical: whether its failure fails the probes (else it warns).
            timeout: seconds a run may take; at most ``interval``.
            interval: seconds between runs, before jitter.
            component: the component of its key in health+json bodies.
            measurement: what it measures, such as ``responseTime``.

        Returns:
            The registered check.

        Raises:
            ValueError: the name is taken, or a value is out of its range.
        """
        check = Check(
            name,
            fn,
            _as_groups(groups),
            critical=critical,
            timeout=timeout,
            interval=interval,
            component=component,
            measurement=measurement,
        )
        if name in self._checks:
            raise ValueError(f"a check named {name!r} exists already")
        self._checks[name] = check
        if self._loop is not None:
            self._spawn(check, self._loop)

        return check

    def checks(self, group: Group | None = None) -> tuple[Check, ...]:
        """Return the checks, of one group or all, in the order they were added."""
        checks = self._checks.values()
        if group is None:
            return tuple(checks)

        return tuple(check for check in checks if group in check.groups)

    def latest(self, name: str) -> Result | None:
        """Return the latest result of a check as it was recorded, or None.

        Raises:
            KeyError: no check has this name.
        """
        self._get(name)
        latest = self._latest.get(name)

        return None if latest is None else latest.result

    @property
    def started(self) -> bool:
        """Whether ``mark_started()`` was called."""
        return self._started

    @property
    def draining(self) -> bool:
        """Whether ``drain()`` was called."""
        return self._draining

    @property
    def running(self) -> bool:
        """Whether the background loop runs."""
        return self._loop is not None

    def mark_started(self) -> None:
        """Record that the app has finished starting: the ``startup`` check
        passes from now on, without waiting for its next run."""
        if self._started:
            return
        self._started = True
        self._record(
            self._checks[STARTUP], Result(Status.PASS, time=self._wall_clock())
        )

    def drain(self) -> None:
        """Fail readiness from now on, so that the load balancer sends no new
        requests while those in flight finish. Liveness is unaffected."""
        if self._draining:
            return
        self._draining = True
        _log.info("health.draining")

    def report(
        self,
        group: Group,
        exclude: Collection[str] = (),
        *,
        only: str | None = None,
    ) -> Report:
        """Return a probe's view of the latest results, without running a check.

        Args:
            group: the probe.
            exclude: names of checks to leave out; unknown names are ignored.
            only: the name of the one check to report on.

        Raises:
            KeyError: ``only`` names no check of the group.
        """
        group = Group(group)
        if only is None:
            selected = self.checks(group)
        elif group in self._get(only).groups:
            selected = (self._checks[only],)
        else:
            raise KeyError(f"check {only!r} is not in group {group.value!r}")
        # One name on its own would otherwise be matched as a substring.
        left_out = {exclude} if isinstance(exclude, str) else set(exclude)
        now = self._clock()
        pairs = tuple(
            (check, self._effective(check, group, now))
            for check in selected
            if check.name not in left_out
        )
        if group is Group.READY and self._draining:
            return Report(group, Status.FAIL, pairs, "draining")
        status = overall_status(pairs)
        output = None if status is Status.PASS else _summary(pairs)

        return Report(group, status, pairs, output)

    async def refresh(self, name: str | None = None) -> dict[str, Result]:
        """Run one check, or all of them concurrently, now; return the results.

        A check already running is not started again: the caller waits for
        the run in flight and gets its result.

        Raises:
            KeyError: no check has this name.
        """
        checks = self.checks() if name is None else (self._get(name),)
        results = await asyncio.gather(*(self._run(check) for check in checks))

        return {
            check.name: result for check, result in zip(checks, results, strict=True)
        }

    async def start(self) -> None:
        """Start running every check on its interval, the first time at once.

        Raises:
            RuntimeError: the loop runs already.
        """
        if self._loop is not None:
            raise RuntimeError("the health checks run already; stop() them first")
        self._loop = asyncio.get_running_loop()
        for check in self._checks.values():
            self._spawn(check, self._loop)

    async def stop(self) -> None:
        """Stop the loop and cancel the runs in flight; wait until they end."""
        tasks = [*self._loops.values(), *self._running.values()]
        self._loops.clear()
        self._loop = None
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def __aenter__(self) -> Health:
        await self.start()

        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    def next_delay(self, check: Check) -> float:
        """Return the seconds to wait before the next run of a check: its
        interval, moved by up to ``JITTER`` of it either way."""
        return check.interval * (1 + JITTER * (2 * self._random() - 1))

    def _get(self, name: str) -> Check:
        try:
            return self._checks[name]
        except KeyError:
            raise KeyError(f"no check is named {name!r}") from None

    def _effective(self, check: Check, group: Group, now: float) -> Result:
        """The result a check counts with in a group's report."""
        latest = self._latest.get(check.name)
        if latest is None:
            if group is Group.LIVE:
                return Result(Status.PASS, time=self._wall_clock())
            return Result(
                Status.FAIL, output="not checked yet", time=self._wall_clock()
            )
        age = now - latest.at
        if age > STALE_AFTER * check.interval:
            return replace(
                latest.result,
                status=Status.FAIL,
                output=f"stale: last result {age:.0f} s old",
            )

        return latest.result

    def _spawn(self, check: Check, loop: asyncio.AbstractEventLoop) -> None:
        self._loops[check.name] = loop.create_task(
            self._repeat(check), name=f"hiccup.health.loop:{check.name}"
        )

    async def _repeat(self, check: Check) -> None:
        while True:
            await self._run(check)
            await self._sleep(self.next_delay(check))

    async def _run(self, check: Check) -> Result:
        task = self._running.get(check.name)
        if task is None:
            task = asyncio.get_running_loop().create_task(
                self._measure(check), name=f"hiccup.health.run:{check.name}"
            )
            self._running[check.name] = task
            task.add_done_callback(functools.partial(self._forget, check.name))
        # Shielded: a caller that gives up must not cancel the run that the
        # other callers, and the cache, are waiting for.
        return await asyncio.shield(task)

    def _forget(self, name: str, task: asyncio.Task[Result]) -> None:
        if self._running.get(name) is task:
            del self._running[name]

    async def _measure(self, check: Check) -> Result:
        started = self._clock()
        result = await self._attempt(check)
        finished = self._clock()
        result = replace(
            result,
            output=_clean_output(result.output),
            time=self._wall_clock(),
            duration=max(finished - started, 0.0),
        )
        self._record(check, result, finished)

        return result

    async def _attempt(self, check: Check) -> Result:
        """Run a check once under its timeout; whatever happens is a result."""
        deadline = asyncio.timeout(check.timeout)
        try:
            async with deadline:
                outcome = check.fn()
                if inspect.isawaitable(outcome):
                    outcome = await outcome
        except TimeoutError as exc:
            if not deadline.expired():
                return _failure(exc)
            return Result(Status.FAIL, output=f"timed out after {check.timeout!r} s")
        except asyncio.CancelledError as exc:
            task = asyncio.current_task()
            if task is None or task.cancelling():
                raise
            # Not this run being cancelled: something the check awaited was.
            return _failure(exc)
        except Exception as exc:
            return _failure(exc)

        return _as_result(outcome)

    def _record(self, check: Check, result: Result, at: float | None = None) -> None:
        previous = self._latest.get(check.name)
        self._latest[check.name] = _Latest(result, self._clock() if at is None else at)
        before = None if previous is None else previous.result.status
        if result.status is not (Status.PASS if before is None else before):
            self._log_change(check, before, result)
        try:
            record_health_result(
                check.name,
                [group.value for group in check.groups],
                result.status.score,
                result.duration,
            )
            if self._on_result is not None:
                self._on_result(check, result)
        except Exception as exc:
            # A broken metric must not stop the checks it would report on.
            _log.warning(
                "health.hook_failed",
                check=check.name,
                **{"error.type": type(exc).__qualname__},
            )

    def _log_change(self, check: Check, before: Status | None, result: Result) -> None:
        baseline = Status.PASS if before is None else before
        worse = result.status.score < baseline.score
        log = _log.warning if worse else _log.info
        log(
            "health.check_changed",
            check=check.name,
            groups=[group.value for group in check.groups],
            critical=check.critical,
            output=result.output,
            **{
                "from": None if before is None else before.value,
                "to": result.status.value,
            },
        )
