from __future__ import annotations

import asyncio
import itertools

import httpx
import pytest
from flaky_server import Flaky
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)
from servers import free_port

from hiccup._metrics import Metrics
from hiccup._tracing import _instrument_httpx
from hiccup.resilience import (
    BreakerPolicy,
    BudgetConfig,
    CircuitOpen,
    RetriesExhausted,
    RetryPolicy,
    State,
    resilient_client,
)

_names = itertools.count()


def no_waiting(waits: list[float]) -> RetryPolicy:
    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    return RetryPolicy(sleep=sleep, random=lambda: 0.5)


#: Enough retries for one test's few requests: the default budget allows a
#: quiet host one retry a second.
_ROOMY = BudgetConfig(min_per_second=10)


def client(policy: RetryPolicy, **options: object) -> httpx.AsyncClient:
    # Breakers are named by host; a prefix of its own keeps each test's apart.
    options.setdefault("budget", _ROOMY)
    return resilient_client(
        retry_policy=policy,
        prefix=f"test{next(_names)}",
        trust_env=False,
        timeout=10,
        **options,  # type: ignore[arg-type]
    )


def sample(metrics: Metrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


async def get(http: httpx.AsyncClient, url: str, **options: object) -> httpx.Response:
    async with http:
        return await http.get(url, **options)  # type: ignore[arg-type]


def test_a_failing_host_is_retried_until_it_answers(
    flaky: Flaky, metrics: Metrics
) -> None:
    flaky.replies += [(503, {}), (502, {})]
    waits: list[float] = []
    http = client(no_waiting(waits))

    response = asyncio.run(get(http, flaky.url))

    assert response.status_code == 200
    assert [method for method, _ in flaky.seen] == ["GET", "GET", "GET"]
    assert waits == [0.125, 0.25]
    name = http._transport.host(httpx.URL(flaky.url)).name  # type: ignore[attr-defined]
    attempts = "hiccup_retry_attempts_total"
    assert sample(metrics, attempts, dependency=name, outcome="retry") == 2
    assert sample(metrics, attempts, dependency=name, outcome="success") == 1
    assert sample(metrics, "hiccup_retry_amplification_sum", dependency=name) == 3


def test_a_429_waits_for_its_hint_and_does_not_count_against_the_breaker(
    flaky: Flaky, metrics: Metrics
) -> None:
    flaky.replies += [(429, {"Retry-After": "2"})]
    waits: list[float] = []
    http = client(no_waiting(waits))

    response = asyncio.run(get(http, flaky.url))

    assert response.status_code == 200
    assert waits == [pytest.approx(2.1)]
    breaker = http._transport.host(httpx.URL(flaky.url)).breaker  # type: ignore[attr-defined]
    assert breaker.counts.calls == 1
    assert breaker.counts.failures == 0


def test_when_retries_run_out_the_last_response_is_returned(
    flaky: Flaky, metrics: Metrics
) -> None:
    flaky.replies += [(503, {})] * 3

    response = asyncio.run(get(client(no_waiting([])), flaky.url))

    assert response.status_code == 503
    assert response.read() == b"{}"
    assert len(flaky.seen) == 3


def test_a_post_is_not_retried_after_a_500_unless_it_has_an_idempotency_key(
    flaky: Flaky, metrics: Metrics
) -> None:
    flaky.replies += [(500, {}), (500, {})]

    async def main() -> tuple[int, int]:
        async with client(no_waiting([])) as http:
            bare = await http.post(flaky.url, content=b"draft")
            keyed = await http.post(
                flaky.url, content=b"draft", headers={"Idempotency-Key": "k1"}
            )
        return bare.status_code, keyed.status_code

    assert asyncio.run(main()) == (500, 200)
    assert flaky.seen == [("POST", None), ("POST", "k1"), ("POST", "k1")]


def test_an_open_breaker_refuses_without_sending(
    flaky: Flaky, metrics: Metrics
) -> None:
    flaky.replies += [(500, {})] * 4
    policy = RetryPolicy(max_attempts=1)
    http = client(
        policy, breaker_policy=BreakerPolicy(minimum_calls=4, failure_rate=0.5)
    )

    async def main() -> CircuitOpen:
        async with http:
            for _ in range(4):
                await http.get(flaky.url)
            with pytest.raises(CircuitOpen) as refused:
                await http.get(flaky.url)
        return refused.value

    refused = asyncio.run(main())

    assert len(flaky.seen) == 4
    assert refused.retry_after > 0
    host = http._transport.host(httpx.URL(flaky.url))  # type: ignore[attr-defined]
    assert host.breaker.state is State.OPEN
    assert sample(metrics, "hiccup_breaker_state", breaker=host.name, state="open") == 1


def test_an_empty_budget_suppresses_the_retry(flaky: Flaky, metrics: Metrics) -> None:
    flaky.replies += [(503, {})] * 2
    http = client(
        no_waiting([]), budget=BudgetConfig(ratio=0.1, window=10, min_per_second=0)
    )

    response = asyncio.run(get(http, flaky.url))

    assert response.status_code == 503
    assert len(flaky.seen) == 1
    name = http._transport.host(httpx.URL(flaky.url)).name  # type: ignore[attr-defined]
    assert (
        sample(
            metrics, "hiccup_retry_suppressed_total", dependency=name, reason="budget"
        )
        == 1
    )
    assert sample(metrics, "hiccup_retry_budget_tokens", dependency=name) == 0


def test_a_host_that_refuses_connections_exhausts_the_retries(
    metrics: Metrics,
) -> None:
    url = f"http://127.0.0.1:{free_port()}/"

    with pytest.raises(RetriesExhausted) as raised:
        asyncio.run(get(client(no_waiting([])), url))

    assert raised.value.attempts == 3
    assert isinstance(raised.value.__cause__, httpx.ConnectError)


def test_each_retried_attempt_carries_its_resend_count_on_its_client_span(
    flaky: Flaky, metrics: Metrics
) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    instrumentor = HTTPXClientInstrumentor()
    was_instrumented = instrumentor.is_instrumented_by_opentelemetry
    if was_instrumented:
        instrumentor.uninstrument()
    _instrument_httpx(provider)
    flaky.replies += [(503, {}), (503, {})]
    try:
        response = asyncio.run(get(client(no_waiting([])), flaky.url))
    finally:
        instrumentor.uninstrument()

    assert response.status_code == 200
    clients = [s for s in exporter.get_finished_spans() if s.name == "GET"]
    assert [s.attributes.get("http.request.resend_count") for s in clients] == [
        None,
        1,
        2,
    ]
