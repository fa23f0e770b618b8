from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest
from support import LogCapture

from hiccup._metrics import Metrics, use_metrics
from hiccup.health import (
    Check,
    Group,
    Health,
    Outcome,
    Result,
    Status,
    overall_status,
)
from hiccup.health._checks import MAX_OUTPUT, STARTUP

if TYPE_CHECKING:
    from conftest import FakeClock, Ticks

MakeHealth = Callable[..., Health]


class Boom(Exception):
    """A dependency failing."""


class Dependency:
    """A fake dependency: its check answers what the test sets, counts its
    calls, and waits at a gate while the gate is closed."""

    def __init__(self, outcome: Outcome = None) -> None:
        self.outcome: Outcome | BaseException = outcome
        self.calls = 0
        self.active = 0
        self.most_active = 0
        self.cancelled = 0
        self.gate: asyncio.Event | None = None

    def hold(self) -> asyncio.Event:
        """Make runs wait until the returned event is set."""
        self.gate = asyncio.Event()
        return self.gate

    async def check(self) -> Outcome:
        self.calls += 1
        self.active += 1
        self.most_active = max(self.most_active, self.active)
        try:
            if self.gate is not None:
                await self.gate.wait()
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        finally:
            self.active -= 1
        if isinstance(self.outcome, BaseException):
            raise self.outcome

        return self.outcome


class Flapping:
    """A fake dependency that passes and fails in turn, passing first."""

    def __init__(self) -> None:
        self.calls = 0

    async def check(self) -> bool:
        self.calls += 1
        return self.calls % 2 == 1


async def hang() -> None:
    """A dependency that never answers."""
    await asyncio.Event().wait()


async def settle() -> None:
    """Let every task that can make progress make it."""
    for _ in range(100):
        await asyncio.sleep(0)


def started(make_health: MakeHealth, **options: Any) -> Health:
    """A registry whose startup check passes, so that only the test's count."""
    health = make_health(**options)
    health.mark_started()
    return health


def statuses(health: Health, group: Group) -> dict[str, Status]:
    return {c.name: r.status for c, r in health.report(group).checks}


# Outcomes of a check function.


@pytest.mark.parametrize(
    ("outcome", "status"),
    [
        (None, Status.PASS),
        (True, Status.PASS),
        (False, Status.FAIL),
        (Status.WARN, Status.WARN),
        (Result(Status.WARN, observed_value=3, observed_unit="ms"), Status.WARN),
    ],
    ids=["none", "true", "false", "status", "result"],
)
def test_a_check_may_answer_with_a_result_a_status_a_bool_or_none(
    make_health: MakeHealth, outcome: Outcome, status: Status
) -> None:
    health = make_health()
    health.add("dep", Dependency(outcome).check)

    result = asyncio.run(health.refresh("dep"))["dep"]

    assert result.status is status


def test_a_result_keeps_what_the_check_observed(make_health: MakeHealth) -> None:
    health = make_health()
    answer = Result(Status.WARN, observed_value=3.5, observed_unit="ms", output="slow")
    health.add("dep", Dependency(answer).check)

    result = asyncio.run(health.refresh("dep"))["dep"]

    assert (result.observed_value, result.observed_unit, result.output) == (
        3.5,
        "ms",
        "slow",
    )


def test_false_fails_with_an_output_saying_so(make_health: MakeHealth) -> None:
    health = make_health()
    health.add("dep", Dependency(False).check)

    result = asyncio.run(health.refresh("dep"))["dep"]

    assert result.output == "check returned False"


def test_an_answer_of_another_type_fails(make_health: MakeHealth) -> None:
    health = make_health()

    async def wrong() -> Any:
        return "ok"

    health.add("dep", wrong)

    result = asyncio.run(health.refresh("dep"))["dep"]

    assert result.status is Status.FAIL
    assert result.output == (
        "TypeError: check returned 'str', expected a Result, a Status, a bool or None"
    )


def test_a_plain_function_works_as_a_check(make_health: MakeHealth) -> None:
    health = make_health()
    health.add("dep", lambda: Status.WARN)

    result = asyncio.run(health.refresh("dep"))["dep"]

    assert result.status is Status.WARN


def test_the_registry_stamps_time_and_duration(
    make_health: MakeHealth, clock: FakeClock
) -> None:
    health = make_health()

    async def takes_two_seconds() -> None:
        clock.advance(2.0)

    health.add("dep", takes_two_seconds, timeout=5.0)

    result = asyncio.run(health.refresh("dep"))["dep"]

    assert result.duration == 2.0
    assert result.time == clock.wall()
    assert result.time.utcoffset() == timedelta(0)


# Failures are results, never exceptions.


def test_an_exception_is_a_failure_naming_its_type_and_message(
    make_health: MakeHealth,
) -> None:
    health = make_health()
    health.add("dep", Dependency(Boom("connection refused")).check)

    result = asyncio.run(health.refresh("dep"))["dep"]

    assert result.status is Status.FAIL
    assert result.output == "Boom: connection refused"


def test_an_exception_without_a_message_is_named_alone(
    make_health: MakeHealth,
) -> None:
    health = make_health()
    health.add("dep", Dependency(Boom()).check)

    result = asyncio.run(health.refresh("dep"))["dep"]

    assert result.output == "Boom"


def test_a_long_output_is_cut_to_the_bound(make_health: MakeHealth) -> None:
    health = make_health()
    health.add("dep", Dependency(Boom("x" * 10_000)).check)

    result = asyncio.run(health.refresh("dep"))["dep"]

    assert result.output is not None
    assert len(result.output) == MAX_OUTPUT
    assert result.output.startswith("Boom: xxx")
    assert result.output.endswith("…")


@pytest.mark.parametrize(
    "message",
    [
        "could not connect to postgresql://app:hunter2@db:5432/app",
        "redis://:hunter2@cache:6379/0 refused",
        "tried https://svc:hunter2@api.example/v1",
    ],
    ids=["postgres", "redis-no-user", "https"],
)
def test_the_password_of_a_url_never_reaches_the_output(
    make_health: MakeHealth, message: str
) -> None:
    health = make_health()
    health.add("dep", Dependency(Boom(message)).check)

    result = asyncio.run(health.refresh("dep"))["dep"]

    assert result.output is not None
    assert "hunter2" not in result.output
    assert ":***@" in result.output


def test_a_hanging_check_fails_after_its_timeout(make_health: MakeHealth) -> None:
    health = make_health()
    health.add("dep", hang, timeout=0.05)

    result = asyncio.run(health.refresh("dep"))["dep"]

    assert result.status is Status.FAIL
    assert result.output == "timed out after 0.05 s"


def test_a_hanging_check_is_cancelled_at_its_timeout(
    make_health: MakeHealth,
) -> None:
    health = make_health()
    dependency = Dependency()
    dependency.gate = asyncio.Event()
    health.add("dep", dependency.check, timeout=0.05)

    asyncio.run(health.refresh("dep"))

    assert (dependency.cancelled, dependency.active) == (1, 0)


def test_a_report_never_waits_for_a_hanging_check(make_health: MakeHealth) -> None:
    health = make_health()
    dependency = Dependency()
    health.add("dep", dependency.check, timeout=0.05)

    async def scenario() -> tuple[Status, str | None, int]:
        dependency.hold()
        run = asyncio.create_task(health.refresh("dep"))
        await settle()
        # The run is in flight and waiting; the report reads what is known.
        report = health.report(Group.READY, exclude=[STARTUP])
        in_flight = dependency.active
        await run
        return report.status, report.checks[0][1].output, in_flight

    assert asyncio.run(scenario()) == (Status.FAIL, "not checked yet", 1)
    assert health.report(Group.READY).checks[1][1].output == "timed out after 0.05 s"


def test_a_timeout_error_of_the_check_itself_is_not_its_timeout(
    make_health: MakeHealth,
) -> None:
    health = make_health()
    health.add("dep", Dependency(TimeoutError("socket read")).check)

    result = asyncio.run(health.refresh("dep"))["dep"]

    assert result.output == "TimeoutError: socket read"


def test_a_cancellation_from_inside_the_check_is_a_failure(
    make_health: MakeHealth,
) -> None:
    health = make_health()

    async def awaits_a_cancelled_future() -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        future.cancel()
        await future

    health.add("dep", awaits_a_cancelled_future)

    result = asyncio.run(health.refresh("dep"))["dep"]

    assert result.status is Status.FAIL
    assert result.output == "CancelledError"


# Registration.


def test_a_name_is_registered_once(make_health: MakeHealth) -> None:
    health = make_health()
    health.add("db", Dependency().check)

    with pytest.raises(ValueError, match="a check named 'db' exists already"):
        health.add("db", Dependency().check)


@pytest.mark.parametrize(
    "name",
    ["", "has space", "a/b", "dot.ted", "ünï", "x" * 65, "new\nline"],
    ids=["empty", "space", "slash", "dot", "unicode", "too-long", "newline"],
)
def test_a_name_must_fit_in_a_url_path(make_health: MakeHealth, name: str) -> None:
    health = make_health()

    with pytest.raises(ValueError, match="a check's name must be"):
        health.add(name, Dependency().check)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"timeout": 0}, "timeout must be a positive number"),
        ({"interval": float("inf")}, "interval must be a positive number"),
        ({"timeout": float("nan")}, "timeout must be a positive number"),
        ({"timeout": 2.0, "interval": 1.0}, "longer than its interval"),
        ({"groups": ()}, "needs at least one group"),
        ({"component": "a b"}, "component must be"),
        ({"measurement": "a:b"}, "measurement must be"),
    ],
    ids=[
        "timeout",
        "interval",
        "not-a-number",
        "timeout-over-interval",
        "groups",
        "component",
        "key",
    ],
)
def test_options_out_of_range_are_refused(
    make_health: MakeHealth, options: dict[str, Any], message: str
) -> None:
    health = make_health()

    with pytest.raises(ValueError, match=message):
        health.add("dep", Dependency().check, **options)


def test_a_check_must_be_callable(make_health: MakeHealth) -> None:
    health = make_health()

    with pytest.raises(ValueError, match="a check must be callable, not 42"):
        health.add("dep", 42)  # type: ignore[arg-type]


def test_one_group_may_be_given_on_its_own(make_health: MakeHealth) -> None:
    health = make_health()

    check = health.add("lag", Dependency().check, groups=Group.LIVE)

    assert check.groups == (Group.LIVE,)


@pytest.mark.parametrize(
    ("component", "measurement", "key"),
    [
        (None, None, "db"),
        ("postgres", None, "postgres"),
        (None, "responseTime", "db:responseTime"),
        ("postgres", "responseTime", "postgres:responseTime"),
    ],
    ids=["name", "component", "measurement", "both"],
)
def test_a_checks_key_is_component_then_measurement(
    component: str | None, measurement: str | None, key: str
) -> None:
    check = Check(
        "db", Dependency().check, component=component, measurement=measurement
    )

    assert check.key == key


def test_a_registry_lists_its_checks_by_group(make_health: MakeHealth) -> None:
    health = make_health()
    health.add("lag", Dependency().check, groups=[Group.LIVE])
    health.add("db", Dependency().check)

    assert [c.name for c in health.checks(Group.LIVE)] == ["lag"]
    assert [c.name for c in health.checks(Group.READY)] == [STARTUP, "db"]
    assert [c.name for c in health.checks()] == [STARTUP, "lag", "db"]


def test_an_unknown_name_is_a_key_error(make_health: MakeHealth) -> None:
    health = make_health()

    with pytest.raises(KeyError, match="no check is named 'nope'"):
        asyncio.run(health.refresh("nope"))


# Reports.


@pytest.mark.parametrize(
    ("results", "overall"),
    [
        ([], Status.PASS),
        ([(Status.PASS, True), (Status.PASS, False)], Status.PASS),
        ([(Status.PASS, True), (Status.WARN, True)], Status.WARN),
        ([(Status.PASS, True), (Status.FAIL, False)], Status.WARN),
        ([(Status.WARN, False), (Status.FAIL, True)], Status.FAIL),
        ([(Status.FAIL, True), (Status.PASS, True)], Status.FAIL),
    ],
    ids=[
        "no-checks",
        "all-pass",
        "a-warning",
        "non-critical-failure",
        "critical-failure",
        "critical-failure-first",
    ],
)
def test_the_overall_status(
    results: list[tuple[Status, bool]], overall: Status
) -> None:
    pairs = [
        (Check(f"c{i}", Dependency().check, critical=critical), Result(status))
        for i, (status, critical) in enumerate(results)
    ]

    assert overall_status(pairs) is overall


def test_a_report_reads_the_latest_results(make_health: MakeHealth) -> None:
    health = started(make_health)
    health.add("db", Dependency().check)
    health.add("cache", Dependency(Status.WARN).check, critical=False)

    asyncio.run(health.refresh())
    report = health.report(Group.READY)

    assert (report.group, report.status, report.output) == (
        Group.READY,
        Status.WARN,
        "warned: cache",
    )
    assert statuses(health, Group.READY) == {
        STARTUP: Status.PASS,
        "db": Status.PASS,
        "cache": Status.WARN,
    }


def test_a_non_critical_failure_only_warns(make_health: MakeHealth) -> None:
    health = started(make_health)
    health.add("db", Dependency().check)
    health.add("search", Dependency(Boom("down")).check, critical=False)

    asyncio.run(health.refresh())
    report = health.report(Group.READY)

    assert (report.status, report.output) == (Status.WARN, "failed: search")
    assert statuses(health, Group.READY)["search"] is Status.FAIL


def test_a_critical_failure_fails_and_the_output_names_every_problem(
    make_health: MakeHealth,
) -> None:
    health = started(make_health)
    health.add("db", Dependency(Boom("down")).check)
    health.add("cache", Dependency(Status.WARN).check)

    asyncio.run(health.refresh())
    report = health.report(Group.READY)

    assert (report.status, report.output) == (
        Status.FAIL,
        "failed: db; warned: cache",
    )


def test_an_unchecked_check_fails_readiness_and_startup(
    make_health: MakeHealth,
) -> None:
    health = started(make_health)
    health.add("db", Dependency().check, groups=[Group.READY, Group.STARTUP])

    for group in (Group.READY, Group.STARTUP):
        report = health.report(group)
        assert report.status is Status.FAIL
        assert report.checks[-1][1].output == "not checked yet"


def test_an_unchecked_check_passes_liveness(make_health: MakeHealth) -> None:
    health = make_health()
    health.add("lag", Dependency(False).check, groups=[Group.LIVE])

    report = health.report(Group.LIVE)

    assert report.status is Status.PASS
    assert report.checks[0][1].output is None


def test_a_result_counts_for_three_intervals(
    make_health: MakeHealth, clock: FakeClock
) -> None:
    health = started(make_health)
    health.add("db", Dependency().check, interval=10.0)
    asyncio.run(health.refresh("db"))

    clock.advance(30.0)

    assert statuses(health, Group.READY)["db"] is Status.PASS


def test_an_older_result_is_stale_and_fails(
    make_health: MakeHealth, clock: FakeClock
) -> None:
    health = started(make_health)
    health.add("db", Dependency(Result(Status.PASS, observed_value=4)).check)
    asyncio.run(health.refresh("db"))
    measured = health.latest("db")

    clock.advance(30.5)
    report = health.report(Group.READY, exclude=[STARTUP])

    _, result = report.checks[0]
    assert (report.status, result.status) == (Status.FAIL, Status.FAIL)
    assert result.output == "stale: last result 30 s old"
    assert measured is not None
    assert (result.time, result.observed_value) == (measured.time, 4)


def test_exclude_leaves_checks_out(make_health: MakeHealth) -> None:
    health = started(make_health)
    health.add("db", Dependency().check)
    health.add("search", Dependency(False).check)
    asyncio.run(health.refresh())

    report = health.report(Group.READY, exclude=["search", "no-such-check"])

    assert report.status is Status.PASS
    assert [c.name for c, _ in report.checks] == [STARTUP, "db"]


def test_one_name_to_exclude_may_be_given_on_its_own(
    make_health: MakeHealth,
) -> None:
    health = started(make_health)
    health.add("d", Dependency().check)
    health.add("db", Dependency().check)

    report = health.report(Group.READY, exclude="db")

    assert [c.name for c, _ in report.checks] == [STARTUP, "d"]


def test_only_reports_one_check(make_health: MakeHealth) -> None:
    health = started(make_health)
    health.add("db", Dependency(False).check)
    health.add("cache", Dependency().check)
    asyncio.run(health.refresh())

    report = health.report(Group.READY, only="cache")

    assert report.status is Status.PASS
    assert [c.name for c, _ in report.checks] == ["cache"]


@pytest.mark.parametrize(
    ("only", "message"),
    [("lag", "check 'lag' is not in group 'ready'"), ("nope", "no check is named")],
    ids=["other-group", "unknown"],
)
def test_only_names_a_check_of_the_group(
    make_health: MakeHealth, only: str, message: str
) -> None:
    health = make_health()
    health.add("lag", Dependency().check, groups=[Group.LIVE])

    with pytest.raises(KeyError, match=message):
        health.report(Group.READY, only=only)


def test_a_group_without_checks_passes(make_health: MakeHealth) -> None:
    health = make_health()

    report = health.report(Group.LIVE)

    assert (report.status, report.checks, report.output) == (Status.PASS, (), None)


def test_status_scores_are_gauge_values() -> None:
    assert [s.score for s in (Status.PASS, Status.WARN, Status.FAIL)] == [
        1.0,
        0.5,
        0.0,
    ]


# Startup and draining.


def test_startup_fails_until_marked_started(make_health: MakeHealth) -> None:
    health = make_health()

    asyncio.run(health.refresh())

    for group in (Group.STARTUP, Group.READY):
        report = health.report(group)
        assert (report.status, report.checks[0][1].output) == (
            Status.FAIL,
            "not started yet",
        )


def test_startup_passes_as_soon_as_marked_started(make_health: MakeHealth) -> None:
    health = make_health()

    health.mark_started()

    assert health.started
    assert health.report(Group.STARTUP).status is Status.PASS
    assert health.report(Group.READY).status is Status.PASS


def test_startup_stays_passed_when_the_check_runs_again(
    make_health: MakeHealth,
) -> None:
    health = make_health()
    health.mark_started()

    result = asyncio.run(health.refresh(STARTUP))[STARTUP]

    assert result.status is Status.PASS


def test_draining_fails_readiness_at_once(make_health: MakeHealth) -> None:
    health = started(make_health)
    health.add("db", Dependency().check)
    asyncio.run(health.refresh())

    health.drain()
    report = health.report(Group.READY)

    assert health.draining
    assert (report.status, report.output) == (Status.FAIL, "draining")
    assert {r.status for _, r in report.checks} == {Status.PASS}


def test_draining_leaves_liveness_and_startup_passing(
    make_health: MakeHealth,
) -> None:
    health = started(make_health)
    health.add("lag", Dependency().check, groups=[Group.LIVE])
    asyncio.run(health.refresh())

    health.drain()

    assert health.report(Group.LIVE).status is Status.PASS
    assert health.report(Group.STARTUP).status is Status.PASS


def test_draining_is_logged_once(make_health: MakeHealth, logs: LogCapture) -> None:
    health = make_health()

    health.drain()
    health.drain()

    assert len(logs.events("health.draining")) == 1


# One run at a time.


def test_concurrent_refreshes_share_one_run(make_health: MakeHealth) -> None:
    health = make_health()
    dependency = Dependency()
    health.add("dep", dependency.check)

    async def scenario() -> list[dict[str, Result]]:
        gate = dependency.hold()
        callers = [asyncio.create_task(health.refresh("dep")) for _ in range(50)]
        await asyncio.sleep(0)
        gate.set()
        return await asyncio.gather(*callers)

    results = asyncio.run(scenario())

    assert dependency.calls == 1
    assert len({id(r["dep"]) for r in results}) == 1


def test_a_thousand_readers_cost_one_call_per_check(
    make_health: MakeHealth, ticks: Ticks
) -> None:
    health = started(make_health, sleep=ticks.sleep)
    db, cache = Dependency(), Dependency()
    health.add("db", db.check)
    health.add("cache", cache.check)

    async def reader(index: int) -> Status:
        if index % 2:
            await health.refresh()
        return health.report(Group.READY).status

    async def scenario() -> list[Status]:
        gates = [db.hold(), cache.hold()]
        await health.start()
        await asyncio.sleep(0)
        readers = [asyncio.create_task(reader(i)) for i in range(1000)]
        await asyncio.sleep(0)
        for gate in gates:
            gate.set()
        seen = await asyncio.gather(*readers)
        await health.stop()
        return seen

    seen = asyncio.run(scenario())

    assert (db.calls, cache.calls) == (1, 1)
    assert (db.most_active, cache.most_active) == (1, 1)
    assert seen.count(Status.PASS) == 500


def test_a_caller_giving_up_does_not_cancel_the_shared_run(
    make_health: MakeHealth,
) -> None:
    health = make_health()
    dependency = Dependency()
    health.add("dep", dependency.check)

    async def scenario() -> Result:
        gate = dependency.hold()
        impatient = asyncio.create_task(health.refresh("dep"))
        patient = asyncio.create_task(health.refresh("dep"))
        await asyncio.sleep(0)
        impatient.cancel()
        await asyncio.sleep(0)
        gate.set()
        return (await patient)["dep"]

    result = asyncio.run(scenario())

    assert (result.status, dependency.calls, dependency.cancelled) == (
        Status.PASS,
        1,
        0,
    )
    assert health.latest("dep") is result


def test_refreshing_everything_runs_the_checks_concurrently(
    make_health: MakeHealth,
) -> None:
    health = make_health()
    first, second = Dependency(), Dependency()
    health.add("first", first.check)
    health.add("second", second.check)

    async def scenario() -> int:
        gates = [first.hold(), second.hold()]
        run = asyncio.create_task(health.refresh())
        await settle()
        both = first.active + second.active
        for gate in gates:
            gate.set()
        await run
        return both

    assert asyncio.run(scenario()) == 2


# The background loop.


@pytest.mark.parametrize(
    ("draw", "delay"),
    [(0.0, 9.0), (0.5, 10.0), (0.75, 10.5), (1.0, 11.0)],
    ids=["lowest", "middle", "upper-half", "highest"],
)
def test_the_delay_is_the_interval_within_its_jitter(
    make_health: MakeHealth, draw: float, delay: float
) -> None:
    health = make_health(random=lambda: draw)
    check = health.add("dep", Dependency().check, interval=10.0)

    assert health.next_delay(check) == pytest.approx(delay)


def test_the_loop_runs_each_check_at_once_then_after_each_delay(
    make_health: MakeHealth, ticks: Ticks
) -> None:
    health = started(make_health, sleep=ticks.sleep, random=lambda: 0.0)
    dependency = Dependency()
    health.add("dep", dependency.check, interval=20.0)

    async def scenario() -> list[int]:
        calls = []
        await health.start()
        for _ in range(3):
            await settle()
            calls.append(dependency.calls)
            # One for each check: the startup check loops as well.
            ticks.release(2)
        await health.stop()
        return calls

    assert asyncio.run(scenario()) == [1, 2, 3]
    assert sorted(set(ticks.delays)) == [9.0, 18.0]


def test_the_loop_keeps_running_after_failures(
    make_health: MakeHealth, ticks: Ticks
) -> None:
    health = started(make_health, sleep=ticks.sleep)
    dependency = Dependency(Boom("down"))
    health.add("dep", dependency.check)

    async def scenario() -> None:
        await health.start()
        for _ in range(3):
            await settle()
            ticks.release(2)
        await settle()
        await health.stop()

    asyncio.run(scenario())

    assert dependency.calls == 4
    assert statuses(health, Group.READY)["dep"] is Status.FAIL


def test_a_check_added_while_running_runs_too(
    make_health: MakeHealth, ticks: Ticks
) -> None:
    health = make_health(sleep=ticks.sleep)
    dependency = Dependency()

    async def scenario() -> None:
        await health.start()
        health.add("late", dependency.check)
        await settle()
        await health.stop()

    asyncio.run(scenario())

    assert dependency.calls == 1


def test_stop_cancels_a_run_in_flight_and_waits_for_it(
    make_health: MakeHealth,
) -> None:
    health = make_health()
    dependency = Dependency()
    health.add("dep", dependency.check, timeout=5.0)

    async def scenario() -> None:
        dependency.hold()
        await health.start()
        await settle()
        await health.stop()

    asyncio.run(scenario())

    assert (dependency.calls, dependency.cancelled, dependency.active) == (1, 1, 0)
    assert not health.running
    assert health.latest("dep") is None


def test_the_loop_starts_once_at_a_time(make_health: MakeHealth) -> None:
    health = make_health()

    async def scenario() -> None:
        await health.start()
        try:
            with pytest.raises(RuntimeError, match="run already"):
                await health.start()
        finally:
            await health.stop()

    asyncio.run(scenario())


def test_a_stopped_loop_starts_again(make_health: MakeHealth, ticks: Ticks) -> None:
    health = started(make_health, sleep=ticks.sleep)
    dependency = Dependency()
    health.add("dep", dependency.check)

    async def scenario() -> None:
        async with health:
            await settle()
        async with health:
            assert health.running
            await settle()

    asyncio.run(scenario())

    assert dependency.calls == 2


# Logging a change of status.


def changes(logs: LogCapture, check: str = "dep") -> list[tuple[str, str | None, str]]:
    return [
        (line["level"], line["from"], line["to"])
        for line in logs.events("health.check_changed")
        if line["check"] == check
    ]


def test_a_flapping_check_logs_each_change_once(
    make_health: MakeHealth, logs: LogCapture
) -> None:
    health = started(make_health)
    flapping = Flapping()
    health.add("dep", flapping.check)

    async def scenario() -> None:
        for _ in range(4):
            await health.refresh("dep")
            for _ in range(100):
                health.report(Group.READY)

    asyncio.run(scenario())

    assert changes(logs) == [
        ("warning", "pass", "fail"),
        ("info", "fail", "pass"),
        ("warning", "pass", "fail"),
    ]


def test_a_change_line_names_the_check_and_why(
    make_health: MakeHealth, logs: LogCapture
) -> None:
    health = started(make_health)
    health.add(
        "db", Dependency(Boom("refused")).check, groups=[Group.READY, Group.LIVE]
    )

    asyncio.run(health.refresh("db"))

    [line] = [e for e in logs.events("health.check_changed") if e["check"] == "db"]
    assert {key: line[key] for key in ("logger", "check", "groups", "output")} == {
        "logger": "hiccup.health",
        "check": "db",
        "groups": ["live", "ready"],
        "output": "Boom: refused",
    }
    assert (line["level"], line["from"], line["to"]) == ("warning", None, "fail")


def test_an_unchanged_status_logs_nothing(
    make_health: MakeHealth, logs: LogCapture
) -> None:
    health = started(make_health)
    dependency = Dependency(False)
    health.add("db", dependency.check)

    async def scenario() -> None:
        for _ in range(3):
            await health.refresh("db")

    asyncio.run(scenario())

    assert changes(logs, "db") == [("warning", None, "fail")]


def test_a_first_pass_logs_nothing(make_health: MakeHealth, logs: LogCapture) -> None:
    health = make_health()
    health.add("dep", Dependency().check)

    asyncio.run(health.refresh("dep"))

    assert changes(logs) == []


@pytest.mark.parametrize(
    ("first", "then", "level"),
    [
        (Status.PASS, Status.WARN, "warning"),
        (Status.WARN, Status.FAIL, "warning"),
        (Status.FAIL, Status.WARN, "info"),
        (Status.WARN, Status.PASS, "info"),
    ],
    ids=["pass-warn", "warn-fail", "fail-warn", "warn-pass"],
)
def test_worse_logs_a_warning_and_better_an_info(
    make_health: MakeHealth,
    logs: LogCapture,
    first: Status,
    then: Status,
    level: str,
) -> None:
    health = make_health()
    dependency = Dependency(first)
    health.add("dep", dependency.check)

    async def scenario() -> None:
        await health.refresh("dep")
        logs.clear()
        dependency.outcome = then
        await health.refresh("dep")

    asyncio.run(scenario())

    assert changes(logs) == [(level, first.value, then.value)]


def test_startup_logs_only_when_it_passes(
    make_health: MakeHealth, logs: LogCapture
) -> None:
    health = make_health()

    asyncio.run(health.refresh())
    health.mark_started()
    health.mark_started()

    assert changes(logs, STARTUP) == [("info", "fail", "pass")]


# The result hook.


def test_the_hook_sees_every_result(make_health: MakeHealth) -> None:
    seen: list[tuple[str, Status]] = []
    health = make_health(on_result=lambda c, r: seen.append((c.name, r.status)))
    health.add("db", Dependency(False).check)

    asyncio.run(health.refresh("db"))
    asyncio.run(health.refresh("db"))
    health.mark_started()

    assert seen == [("db", Status.FAIL), ("db", Status.FAIL), (STARTUP, Status.PASS)]


def test_a_failing_hook_breaks_nothing(
    make_health: MakeHealth, ticks: Ticks, logs: LogCapture
) -> None:
    def broken(check: Check, result: Result) -> None:
        raise Boom("gauge gone")

    health = started(make_health, on_result=broken, sleep=ticks.sleep)
    dependency = Dependency()
    health.add("db", dependency.check)

    async def scenario() -> None:
        async with health:
            for _ in range(2):
                await settle()
                ticks.release(2)
            await settle()

    asyncio.run(scenario())

    assert dependency.calls == 3
    assert statuses(health, Group.READY)["db"] is Status.PASS
    failures = logs.events("health.hook_failed")
    assert {(line["check"], line["error.type"]) for line in failures} >= {
        ("db", "Boom")
    }
    assert len([line for line in failures if line["check"] == "db"]) == 3


def test_every_run_sets_the_status_gauge_of_each_group_and_times_the_run(
    make_health: Callable[..., Health],
) -> None:
    metrics = Metrics()
    previous = use_metrics(metrics)
    outcomes = iter([Status.WARN, Status.FAIL])
    try:
        health = make_health()
        health.add("cache", lambda: next(outcomes), groups=(Group.LIVE, Group.READY))

        def status(group: str) -> float | None:
            return metrics.registry.get_sample_value(
                "hiccup_health_check_status", {"check": "cache", "group": group}
            )

        asyncio.run(health.refresh("cache"))
        warned = (status("live"), status("ready"))
        asyncio.run(health.refresh("cache"))
        failed = (status("live"), status("ready"))
        runs = metrics.registry.get_sample_value(
            "hiccup_health_check_duration_seconds_count", {"check": "cache"}
        )
    finally:
        use_metrics(previous)

    assert warned == (0.5, 0.5)
    assert failed == (0.0, 0.0)
    assert status("startup") is None
    assert runs == 2
