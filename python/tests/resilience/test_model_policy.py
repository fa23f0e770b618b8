from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator

import httpx
import pytest

from hiccup import model_call
from hiccup._metrics import Metrics
from hiccup.resilience import (
    BreakerPolicy,
    BudgetConfig,
    CircuitBreaker,
    CircuitOpen,
    RetryBudget,
    RetryPolicy,
)

_names = itertools.count()


class Overloaded(Exception):
    """What a provider SDK raises for a 503: the error carries the response."""

    def __init__(self) -> None:
        super().__init__("overloaded")
        request = httpx.Request("POST", "https://models.example/v1/chat")
        self.response = httpx.Response(503, request=request)


def policy(waits: list[float]) -> RetryPolicy:
    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    return RetryPolicy(sleep=sleep, sleep_sync=waits.append, random=lambda: 0.0)


def durations(metrics: Metrics, error_type: str) -> float:
    labels = {
        "gen_ai_provider_name": "openai",
        "gen_ai_request_model": "writer",
        "gen_ai_operation_name": "chat",
        "error_type": error_type,
    }
    found = metrics.registry.get_sample_value(
        "gen_ai_client_operation_duration_seconds_count", labels
    )
    return found or 0.0


def breaker(**policy: float) -> CircuitBreaker:
    return CircuitBreaker(f"model-{next(_names)}", BreakerPolicy(**policy))  # type: ignore[arg-type]


def roomy() -> RetryBudget:
    return RetryBudget(BudgetConfig(min_per_second=10))


def test_a_decorated_call_is_retried_and_each_attempt_is_a_model_call(
    metrics: Metrics,
) -> None:
    calls: list[str] = []
    waits: list[float] = []

    @model_call("openai", "writer", "chat", retry=policy(waits), budget=roomy())
    async def draft(prompt: str) -> str:
        calls.append(prompt)
        if len(calls) < 3:
            raise Overloaded
        return "a draft"

    assert asyncio.run(draft("hello")) == "a draft"
    assert calls == ["hello"] * 3
    assert waits == [0.0, 0.0]
    assert durations(metrics, "Overloaded") == 2
    assert durations(metrics, "") == 1
    assert (
        metrics.registry.get_sample_value(
            "hiccup_retry_attempts_total",
            {"dependency": "openai:writer", "outcome": "retry"},
        )
        == 2
    )


def test_a_sync_decorated_call_is_retried_too(metrics: Metrics) -> None:
    calls: list[int] = []

    @model_call("openai", "writer", "chat", retry=policy([]), budget=roomy())
    def embed(text: str) -> int:
        calls.append(1)
        if len(calls) < 2:
            raise Overloaded
        return len(text)

    assert embed("four") == 4
    assert len(calls) == 2


def test_an_open_breaker_refuses_the_call_without_making_it(metrics: Metrics) -> None:
    guard = breaker(minimum_calls=2, failure_rate=0.5)
    calls: list[str] = []

    @model_call("openai", "writer", "chat", breaker=guard)
    async def draft(prompt: str) -> str:
        calls.append(prompt)
        raise Overloaded

    async def main() -> None:
        for _ in range(2):
            with pytest.raises(Overloaded):
                await draft("x")
        with pytest.raises(CircuitOpen):
            await draft("y")

    asyncio.run(main())

    assert calls == ["x", "x"]
    assert durations(metrics, "Overloaded") == 2


def test_a_with_block_takes_a_breaker_but_no_retries(metrics: Metrics) -> None:
    guard = breaker(minimum_calls=1, failure_rate=1.0)

    with pytest.raises(TypeError, match="decorate"):  # noqa: SIM117
        with model_call("openai", "writer", "chat", retry=RetryPolicy()):
            pass
    with (
        pytest.raises(Overloaded),
        model_call("openai", "writer", "chat", breaker=guard),
    ):
        raise Overloaded
    with (
        pytest.raises(CircuitOpen),
        model_call("openai", "writer", "chat", breaker=guard),
    ):
        pass


def test_streams_refuse_a_policy() -> None:
    with pytest.raises(TypeError, match="stream"):

        @model_call("openai", "writer", "chat", retry=RetryPolicy())
        async def stream() -> AsyncIterator[str]:
            yield "chunk"
