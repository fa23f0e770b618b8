"""What a plain ``retry`` records when given the hooks of ``track_attempts``."""

from __future__ import annotations

import asyncio

from hiccup._metrics import Metrics
from hiccup.resilience import (
    BudgetConfig,
    RetryBudget,
    RetryPolicy,
    retry,
    track_attempts,
)


def sample(metrics: Metrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


def test_tracked_attempts_are_counted_with_the_budget_left(metrics: Metrics) -> None:
    budget = RetryBudget(BudgetConfig(min_per_second=10), dependency="search")
    outcomes = iter([ConnectionError("reset"), ConnectionError("reset"), "found"])

    async def once() -> str:
        outcome = next(outcomes)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    async def no_wait(seconds: float) -> None:
        pass

    policy = RetryPolicy(sleep=no_wait, random=lambda: 0.0)
    answer = asyncio.run(
        retry(
            once,
            policy,
            budget=budget,
            classify=lambda outcome: isinstance(outcome, ConnectionError),
            **track_attempts("search", budget),
        )
    )

    assert answer == "found"
    attempts = "hiccup_retry_attempts_total"
    assert sample(metrics, attempts, dependency="search", outcome="retry") == 2
    assert sample(metrics, attempts, dependency="search", outcome="success") == 1
    assert sample(metrics, "hiccup_retry_amplification_sum", dependency="search") == 3
    assert (
        sample(metrics, "hiccup_retry_budget_tokens", dependency="search")
        == budget.available()
    )
    assert budget.available() > 0
