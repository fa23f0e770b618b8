"""A real Prometheus scrapes the metrics app under uvicorn during a load."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import httpx2
import pytest
from prometheus import Prometheus, keyed, prometheus_server
from servers import Server, uvicorn_server

#: How many requests of each kind the load sends, by the labels they get.
LOAD = {
    ("/items/{item_id}", "200"): 80,
    ("unmatched", "404"): 40,
    ("/boom", "500"): 30,
    ("/problem", "504"): 30,
    ("/items/{item_id}", "422"): 20,
}
PATHS = {
    ("/items/{item_id}", "200"): "/items/{n}",
    ("unmatched", "404"): "/nowhere/{n}",
    ("/boom", "500"): "/boom",
    ("/problem", "504"): "/problem",
    ("/items/{item_id}", "422"): "/items/x{n}",
}
BY_ROUTE = (
    "sum by (http_route, http_response_status_code)"
    ' (http_server_request_duration_seconds_count{http_route!~"/metrics|/pid"})'
)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    output = tmp_path_factory.mktemp("metrics-app") / "output.log"
    with uvicorn_server("metrics_app:create", output) as running:
        yield running


@pytest.fixture(scope="module")
def prometheus(
    served: Server, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Prometheus]:
    directory = tmp_path_factory.mktemp("prometheus")
    with prometheus_server(
        [served.url], directory, extra_args=["--enable-feature=exemplar-storage"]
    ) as running:
        yield running


def send(
    base_url: str, paths: list[str], headers: dict[str, str] | None = None
) -> list[int]:
    """Send GET requests over 20 connections; return their statuses in order."""

    async def fire() -> list[int]:
        limits = httpx2.Limits(max_connections=20, max_keepalive_connections=20)
        async with httpx2.AsyncClient(
            base_url=base_url, limits=limits, timeout=60, headers=headers
        ) as client:
            responses = await asyncio.gather(*(client.get(path) for path in paths))
        return [response.status_code for response in responses]

    return asyncio.run(fire())


def test_prometheus_counts_every_request_by_route_and_status(
    served: Server, prometheus: Prometheus
) -> None:
    paths = [
        PATHS[kind].format(n=n) for kind, count in LOAD.items() for n in range(count)
    ]

    statuses = send(served.url, paths)

    assert sorted(statuses) == sorted(
        int(status) for (_, status), count in LOAD.items() for _ in range(count)
    )
    expected = {kind: float(count) for kind, count in LOAD.items()}
    by = ("http_route", "http_response_status_code")
    result = prometheus.wait_for(BY_ROUTE, lambda found: keyed(found, *by) == expected)
    assert keyed(result, *by) == expected, prometheus.targets()
    assert prometheus.samples("sum by (code) (hiccup_errors_total)", "code") == {
        ("NOT_FOUND",): 40,
        ("INTERNAL",): 30,
        ("MODEL_TIMEOUT",): 30,
        ("VALIDATION_FAILED",): 20,
    }


def test_prometheus_keeps_the_trace_of_a_sampled_request(
    served: Server, prometheus: Prometheus
) -> None:
    since = time.time()
    trace_id = "0af7651916cd43dd8448eb211c80319c"

    send(served.url, ["/pid"], {"traceparent": f"00-{trace_id}-b7ad6b7169203331-01"})

    promql = 'http_server_request_duration_seconds_bucket{http_route="/pid"}'
    deadline = time.monotonic() + 30
    while (
        not (found := prometheus.exemplars(promql, since))
        and time.monotonic() < deadline
    ):
        time.sleep(0.25)
    assert found == [{"trace_id": trace_id}]
    [target] = prometheus.targets()
    assert (target["health"], target["lastError"]) == ("up", "")


def test_build_info_reaches_prometheus(served: Server, prometheus: Prometheus) -> None:
    promql = "hiccup_build_info"

    result = prometheus.wait_for(promql, bool)

    [sample] = result
    labels = {k: v for k, v in sample["metric"].items() if k not in {"instance", "job"}}
    assert labels == {
        "__name__": "hiccup_build_info",
        "environment": "test",
        "service": "writer-api",
        "version": "1.4.2",
    }
    assert sample["value"][1] == "1"
