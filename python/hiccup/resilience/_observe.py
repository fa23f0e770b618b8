"""Where retries report to: Prometheus counters and the budget gauge."""

from __future__ import annotations

from typing import Any

from .._metrics import default_metrics
from ._budget import RetryBudget
from ._retry import Attempt, SuppressedRetry

__all__ = ["record_budget", "track_attempts"]


def track_attempts(
    dependency: str, budget: RetryBudget | None = None
) -> dict[str, Any]:
    """Return the hooks of ``retry`` that record a dependency's attempts,
    suppressed retries and attempts per call in Prometheus, and after each
    attempt what ``budget`` (if given) allows.

        await retry(call, policy, budget=budget, **track_attempts("search", budget))
    """
    metrics = default_metrics()
    attempts = metrics.retry_attempts

    def on_attempt(attempt: Attempt) -> None:
        attempts.labels(dependency, attempt.outcome).inc()
        if budget is not None:
            record_budget(budget)
        if attempt.outcome != "retry":
            metrics.retry_amplification.labels(dependency).observe(attempt.number)

    def on_suppressed(suppressed: SuppressedRetry) -> None:
        metrics.retry_suppressed.labels(dependency, suppressed.reason).inc()

    return {"on_attempt": on_attempt, "on_suppressed": on_suppressed}


def record_budget(budget: RetryBudget) -> None:
    """Set the budget gauge of a dependency to the retries it allows now."""
    default_metrics().retry_budget_tokens.labels(budget.dependency).set(
        budget.available()
    )
