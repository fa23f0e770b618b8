from __future__ import annotations

import asyncio
import math
import re
import threading
from collections.abc import Callable

import pytest

from hiccup.resilience._budget import (
    BUDGET_MIN_PER_SECOND,
    BUDGET_RATIO,
    BUDGET_WINDOW,
    BudgetConfig,
    RetryBudget,
)
from hiccup.resilience._retry import RetryPolicy, retry


class Clock:
    """Monotonic seconds that move only when a test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


MakeBudget = Callable[..., RetryBudget]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def make_budget(clock: Clock) -> MakeBudget:
    """Return a factory of budgets on the test's clock."""

    def make(**config: float) -> RetryBudget:
        return RetryBudget(BudgetConfig(**config), dependency="model", clock=clock)

    return make


def record(budget: RetryBudget, requests: int) -> None:
    for _ in range(requests):
        budget.record_request()


def grants(budget: RetryBudget, tries: int) -> int:
    return sum(budget.try_acquire() for _ in range(tries))


def test_defaults_allow_a_tenth_over_ten_seconds_and_one_a_second() -> None:
    config = BudgetConfig()

    assert (config.ratio, config.window, config.min_per_second) == (
        BUDGET_RATIO,
        BUDGET_WINDOW,
        BUDGET_MIN_PER_SECOND,
    )
    assert (config.ratio, config.window, config.min_per_second) == (0.1, 10.0, 1.0)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("ratio", -0.1, "ratio must be a finite number >= 0, not -0.1"),
        ("ratio", math.nan, "ratio must be a finite number >= 0, not nan"),
        ("ratio", True, "ratio must be a finite number >= 0, not True"),
        ("window", 0, "window must be a finite number > 0, not 0"),
        ("window", math.inf, "window must be a finite number > 0, not inf"),
        ("window", "10", "window must be a finite number > 0, not '10'"),
        ("min_per_second", -1, "min_per_second must be a finite number >= 0"),
    ],
    ids=[
        "negative-ratio",
        "nan-ratio",
        "bool-ratio",
        "zero-window",
        "inf-window",
        "text-window",
        "negative-floor",
    ],
)
def test_config_rejects_values_out_of_range(
    field: str, value: object, message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        BudgetConfig(**{field: value})  # type: ignore[arg-type]


def test_config_is_immutable() -> None:
    config = BudgetConfig()

    with pytest.raises(AttributeError):
        config.ratio = 0.5  # type: ignore[misc]


def test_nine_requests_earn_no_retry(make_budget: MakeBudget) -> None:
    budget = make_budget(min_per_second=0)
    record(budget, 9)

    assert budget.try_acquire() is False


def test_ten_requests_earn_one_retry(make_budget: MakeBudget) -> None:
    budget = make_budget(min_per_second=0)
    record(budget, 10)

    assert budget.try_acquire() is True
    assert budget.try_acquire() is False


def test_the_ratio_grants_a_tenth_of_the_requests(make_budget: MakeBudget) -> None:
    budget = make_budget(min_per_second=0)
    record(budget, 250)

    assert grants(budget, 100) == 25


def test_a_ratio_that_floats_poorly_still_grants_whole_retries(
    make_budget: MakeBudget,
) -> None:
    budget = make_budget(ratio=0.29, burst_ratio=0.29, min_per_second=0)
    record(budget, 100)

    assert grants(budget, 100) == 29


def test_a_zero_budget_never_grants(make_budget: MakeBudget) -> None:
    budget = make_budget(ratio=0, min_per_second=0)
    record(budget, 1000)

    assert budget.try_acquire() is False


def test_the_floor_grants_one_retry_without_traffic(make_budget: MakeBudget) -> None:
    budget = make_budget()

    assert budget.try_acquire() is True
    assert budget.try_acquire() is False


def test_the_floor_refills_after_one_second(
    make_budget: MakeBudget, clock: Clock
) -> None:
    budget = make_budget()
    budget.try_acquire()

    clock.now += 0.999
    assert budget.try_acquire() is False
    clock.now += 0.001
    assert budget.try_acquire() is True


def test_the_floor_saves_no_burst_while_quiet(
    make_budget: MakeBudget, clock: Clock
) -> None:
    budget = make_budget()
    clock.now += 60

    assert grants(budget, 10) == 1


def test_a_floor_faster_than_one_a_second_holds_that_many(
    make_budget: MakeBudget, clock: Clock
) -> None:
    budget = make_budget(min_per_second=3)

    assert grants(budget, 10) == 3
    clock.now += 1 / 3
    assert grants(budget, 10) == 1


def test_a_floor_slower_than_one_a_second_still_grants_whole_retries(
    make_budget: MakeBudget, clock: Clock
) -> None:
    budget = make_budget(min_per_second=0.5)
    budget.try_acquire()

    clock.now += 1.5
    assert budget.try_acquire() is False
    clock.now += 0.5
    assert budget.try_acquire() is True


def test_ratio_and_floor_add_up(make_budget: MakeBudget) -> None:
    budget = make_budget()
    record(budget, 20)

    assert grants(budget, 10) == 3
    assert budget.available() == 0


def test_the_ratio_is_spent_before_the_floor(
    make_budget: MakeBudget, clock: Clock
) -> None:
    budget = make_budget(min_per_second=0.01)
    record(budget, 10)
    budget.try_acquire()

    clock.now += 10
    # The requests are gone; a floor spent at once would still be refilling.
    assert budget.available() == 1


def test_a_request_counts_until_the_window_has_passed(
    make_budget: MakeBudget, clock: Clock
) -> None:
    budget = make_budget(min_per_second=0, burst_window=10.0)
    record(budget, 10)

    clock.now += 9.999
    assert budget.try_acquire() is True


def test_a_request_stops_counting_once_the_window_has_passed(
    make_budget: MakeBudget, clock: Clock
) -> None:
    budget = make_budget(min_per_second=0)
    record(budget, 10)

    clock.now += 10.0
    assert budget.try_acquire() is False


def test_a_spent_retry_is_given_back_when_it_leaves_the_window(
    make_budget: MakeBudget, clock: Clock
) -> None:
    budget = make_budget(min_per_second=0, burst_window=10.0)
    record(budget, 10)
    budget.try_acquire()
    clock.now += 5
    record(budget, 10)

    assert budget.available() == 1  # 20 requests earn 2, and 1 is spent
    clock.now += 5
    # The first 10 requests and the retry they paid for have left together.
    assert budget.available() == 1
    assert budget.try_acquire() is True


def test_the_window_slides_rather_than_resets(
    make_budget: MakeBudget, clock: Clock
) -> None:
    budget = make_budget(min_per_second=0, burst_window=10.0)
    for second in range(20):
        clock.now = 1000.0 + second
        budget.record_request()

    # Only the requests of the last 10 s count: 10 of the 20.
    assert budget.available() == 1


def test_tokens_and_available_report_what_is_left(make_budget: MakeBudget) -> None:
    budget = make_budget()
    record(budget, 15)

    assert budget.tokens() == pytest.approx(2.5)
    assert budget.available() == 2
    budget.try_acquire()
    assert budget.tokens() == pytest.approx(1.5)
    assert budget.available() == 1


def test_a_token_is_spent_when_granted(make_budget: MakeBudget) -> None:
    budget = make_budget(min_per_second=0)
    record(budget, 10)

    assert budget.available() == 1
    budget.try_acquire()
    assert budget.available() == 0


def test_the_budget_names_its_dependency(make_budget: MakeBudget) -> None:
    budget = make_budget()

    assert budget.dependency == "model"
    assert "dependency='model'" in repr(budget)


def test_threads_are_never_granted_more_than_the_budget_holds(
    make_budget: MakeBudget,
) -> None:
    budget = make_budget()
    record(budget, 100)
    start = threading.Barrier(16)
    granted: list[int] = []
    lock = threading.Lock()

    def contend() -> None:
        start.wait()
        mine = grants(budget, 50)
        with lock:
            granted.append(mine)

    threads = [threading.Thread(target=contend) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(granted) == 11  # 10% of 100, and the floor's one


def test_threads_recording_requests_lose_none(make_budget: MakeBudget) -> None:
    budget = make_budget(min_per_second=0)
    start = threading.Barrier(8)

    def send() -> None:
        start.wait()
        record(budget, 500)

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert budget.available() == 400


def test_what_a_healthy_spell_earned_is_not_spent_in_one_burst(
    make_budget: MakeBudget, clock: Clock
) -> None:
    budget = make_budget(min_per_second=0)
    for tenth in range(100):  # 10 s at 10 requests a second
        clock.now = 1000.0 + tenth / 10
        budget.record_request()
    clock.now = 1010.0 - 0.05

    # The window holds 10 retries; the last second, twice its share of 10
    # requests: 2.
    granted = [budget.try_acquire() for _ in range(10)]
    assert granted == [True, True] + [False] * 8
    assert budget.available() == 0


def test_the_burst_share_can_be_the_ratio_itself(
    make_budget: MakeBudget, clock: Clock
) -> None:
    budget = make_budget(min_per_second=0, burst_ratio=0.1)
    for tenth in range(100):
        clock.now = 1000.0 + tenth / 10
        budget.record_request()
    clock.now = 1010.0 - 0.05

    granted = [budget.try_acquire() for _ in range(10)]
    assert granted == [True] + [False] * 9


def test_the_burst_share_cannot_be_below_the_ratio() -> None:
    with pytest.raises(ValueError, match=r"burst_ratio must be at least ratio \(0.1\)"):
        BudgetConfig(burst_ratio=0.05)


def test_the_burst_window_cannot_exceed_the_window() -> None:
    with pytest.raises(ValueError, match=r"burst_window must be at most window"):
        BudgetConfig(window=5.0, burst_window=6.0)


def test_a_retry_that_succeeded_gives_its_token_back(
    make_budget: MakeBudget,
) -> None:
    budget = make_budget(min_per_second=0)
    record(budget, 10)

    assert budget.try_acquire() is True
    assert budget.try_acquire() is False
    budget.refund()
    assert budget.try_acquire() is True


def test_a_refund_of_a_floor_token_refills_the_floor_up_to_its_capacity(
    make_budget: MakeBudget,
) -> None:
    budget = make_budget(min_per_second=1.0)

    assert budget.try_acquire() is True  # from the floor: no requests yet
    assert budget.try_acquire() is False
    budget.refund()
    budget.refund()
    assert budget.available() == 1


def test_a_retrying_call_refunds_the_retry_that_worked(
    make_budget: MakeBudget,
) -> None:
    budget = make_budget(min_per_second=0)
    record(budget, 9)  # with the call's own request: 10, one retry
    outcomes = iter([ConnectionRefusedError(), "done"])

    async def call() -> str:
        outcome = next(outcomes)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    async def sleep(seconds: float) -> None:
        pass

    policy = RetryPolicy(sleep=sleep, random=lambda: 0.0)

    assert asyncio.run(retry(call, policy, budget=budget)) == "done"
    assert budget.available() == 1


@pytest.mark.parametrize(("ratio", "share"), [(0.1, 0.2), (0.5, 1.0), (1, 2)])
def test_the_burst_share_is_twice_the_ratio_unless_set(
    ratio: float, share: float
) -> None:
    assert BudgetConfig(ratio=ratio).burst_share == share
    assert BudgetConfig(ratio=ratio, burst_ratio=3).burst_share == 3
