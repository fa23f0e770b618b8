from __future__ import annotations

import asyncio
import itertools
import os
import subprocess
import types
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

import httpx2
import pytest
from fastapi import FastAPI
from prometheus_client import CollectorRegistry
from prometheus_client.openmetrics.parser import text_string_to_metric_families
from servers import SERVED_APPS
from starlette.types import ASGIApp
from support import load_module

from hiccup import _metrics as hiccup_metrics
from hiccup import _middleware as hiccup_middleware
from hiccup._metrics import (
    Metrics,
    MetricsEndpoint,
    MetricsObserver,
    count_client_event,
    count_dropped,
    mark_process_dead,
    use_metrics,
)
from hiccup._middleware import Exchange

metrics_app = load_module("metrics_app", SERVED_APPS / "metrics_app.py")

PROMTOOL = "/usr/bin/promtool"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
OPENMETRICS = "application/openmetrics-text; version=1.0.0"
DURATION = "http_server_request_duration_seconds"


@pytest.fixture
def metrics() -> Metrics:
    return Metrics()


@pytest.fixture
def app(metrics: Metrics) -> FastAPI:
    return metrics_app.build(metrics, before=[metrics_app.CallersTrace()])


@pytest.fixture
def as_default(metrics: Metrics) -> Iterator[Metrics]:
    """Make the test's metrics the default, as ``install`` will."""
    previous = use_metrics(metrics)
    yield metrics
    use_metrics(previous)


def fetch(
    app: ASGIApp, *requests: tuple[str, str], **options: Any
) -> list[httpx2.Response]:
    """Send requests one after the other through the app, in process."""

    async def send() -> list[httpx2.Response]:
        transport = httpx2.ASGITransport(app)
        async with httpx2.AsyncClient(
            transport=transport, base_url="http://app"
        ) as client:
            return [
                await client.request(method, path, **options)
                for method, path in requests
            ]

    return asyncio.run(send())


def scrape(app: FastAPI, accept: str | None = None) -> httpx2.Response:
    headers = {"Accept": accept} if accept else {}
    [response] = fetch(app, ("GET", "/metrics"), headers=headers)
    assert response.status_code == 200

    return response


def requests_of(
    metrics: Metrics,
    route: str,
    status: int,
    error_type: str = "",
    method: str = "GET",
) -> float | None:
    return metrics.registry.get_sample_value(
        f"{DURATION}_count",
        {
            "http_request_method": method,
            "http_route": route,
            "http_response_status_code": str(status),
            "error_type": error_type,
        },
    )


def label_values(metrics: Metrics, label: str) -> set[str]:
    return {
        sample.labels[label]
        for family in metrics.registry.collect()
        for sample in family.samples
        if label in sample.labels
    }


def test_a_request_is_counted_under_its_route_template(
    app: FastAPI, metrics: Metrics
) -> None:
    fetch(app, ("GET", "/items/7"), ("GET", "/items/8"))

    assert requests_of(metrics, "/items/{item_id}", 200) == 2
    assert metrics.registry.get_sample_value(
        f"{DURATION}_bucket",
        {
            "http_request_method": "GET",
            "http_route": "/items/{item_id}",
            "http_response_status_code": "200",
            "error_type": "",
            "le": "+Inf",
        },
    ) == pytest.approx(2)


def test_requests_that_match_no_route_share_one_label(
    app: FastAPI, metrics: Metrics
) -> None:
    fetch(app, ("GET", "/nope"), ("GET", "/drafts/123/x"), ("GET", "/%0d%0a"))

    assert requests_of(metrics, "unmatched", 404, "NOT_FOUND") == 3
    assert label_values(metrics, "http_route") == {"unmatched"}


class Failure(NamedTuple):
    method: str
    path: str
    route: str
    status: int
    code: str
    category: str


@pytest.mark.parametrize(
    "failure",
    [
        Failure("GET", "/boom", "/boom", 500, "INTERNAL", "internal"),
        Failure("GET", "/problem", "/problem", 504, "MODEL_TIMEOUT", "timeout"),
        Failure(
            "GET",
            "/items/x",
            "/items/{item_id}",
            422,
            "VALIDATION_FAILED",
            "invalid_request",
        ),
        Failure(
            "POST",
            "/items/1",
            "/items/{item_id}",
            405,
            "METHOD_NOT_ALLOWED",
            "invalid_request",
        ),
        Failure("GET", "/nope", "unmatched", 404, "NOT_FOUND", "not_found"),
    ],
    ids=["exception", "problem", "validation", "method", "no-route"],
)
def test_a_failure_is_labelled_with_its_contract_code(
    app: FastAPI, metrics: Metrics, failure: Failure
) -> None:
    [response] = fetch(app, (failure.method, failure.path))

    assert response.status_code == failure.status
    assert (
        requests_of(
            metrics, failure.route, failure.status, failure.code, failure.method
        )
        == 1
    )
    assert metrics.registry.get_sample_value(
        "hiccup_errors_total", {"code": failure.code, "category": failure.category}
    ) == pytest.approx(1)


def test_a_5xx_without_a_code_has_its_status_as_error_type(
    app: FastAPI, metrics: Metrics
) -> None:
    [response] = fetch(app, ("GET", "/busy"))

    assert response.status_code == 503
    assert requests_of(metrics, "/busy", 503, "503") == 1
    assert label_values(metrics, "code") == set()


def test_a_success_has_no_error_type(app: FastAPI, metrics: Metrics) -> None:
    fetch(app, ("GET", "/items/1"), ("GET", "/stream"))

    assert requests_of(metrics, "/items/{item_id}", 200) == 1
    assert requests_of(metrics, "/stream", 200) == 1
    assert label_values(metrics, "error_type") == {""}


def test_an_unknown_method_is_other(app: FastAPI, metrics: Metrics) -> None:
    fetch(app, ("BREW", "/items/1"), ("FROB", "/items/1"))

    assert (
        requests_of(metrics, "/items/{item_id}", 405, "METHOD_NOT_ALLOWED", "_OTHER")
        == 2
    )
    assert label_values(metrics, "http_request_method") == {
        "_OTHER",
        "CONNECT",
        "DELETE",
        "GET",
        "HEAD",
        "OPTIONS",
        "PATCH",
        "POST",
        "PUT",
        "TRACE",
    }


def test_a_request_is_active_while_it_is_served(app: FastAPI, metrics: Metrics) -> None:
    def active() -> float | None:
        return metrics.registry.get_sample_value(
            "http_server_active_requests", {"http_request_method": "GET"}
        )

    @app.get("/active")
    async def during() -> dict[str, float | None]:
        return {"active": active()}

    [response] = fetch(app, ("GET", "/active"))

    assert response.json() == {"active": 1}
    assert active() == 0


def test_body_sizes_come_from_content_length(app: FastAPI, metrics: Metrics) -> None:
    body = b'{"prompt": "a short draft"}'

    [response] = fetch(
        app,
        ("POST", "/drafts"),
        content=body,
        headers={"Content-Type": "application/json"},
    )

    labels = {
        "http_request_method": "POST",
        "http_route": "/drafts",
        "http_response_status_code": "201",
        "error_type": "",
    }
    sample = metrics.registry.get_sample_value
    assert sample("http_server_request_body_size_bytes_count", labels) == 1
    assert sample("http_server_request_body_size_bytes_sum", labels) == len(body)
    assert sample("http_server_response_body_size_bytes_sum", labels) == len(
        response.content
    )


def test_bodies_without_content_length_are_not_measured(
    app: FastAPI, metrics: Metrics
) -> None:
    [response] = fetch(app, ("GET", "/stream"))

    assert response.text == "one,two"
    assert "content-length" not in response.headers
    assert requests_of(metrics, "/stream", 200) == 1
    sizes = [
        family.name
        for family in metrics.registry.collect()
        if "body_size" in family.name and family.samples
    ]
    assert sizes == []


def test_build_info_names_what_runs(app: FastAPI, metrics: Metrics) -> None:
    assert metrics.registry.get_sample_value(
        "hiccup_build_info",
        {"version": "1.4.2", "service": "writer-api", "environment": "test"},
    ) == pytest.approx(1)


def test_describing_again_replaces_build_info(metrics: Metrics) -> None:
    metrics.describe(metrics_app.SETTINGS)
    metrics.describe(metrics_app.SETTINGS.model_copy(update={"version": "1.5.0"}))

    [family] = [f for f in metrics.registry.collect() if f.name == "hiccup_build_info"]
    assert [s.labels["version"] for s in family.samples] == ["1.5.0"]


def test_process_metrics_are_on_hiccups_registry(metrics: Metrics) -> None:
    sample = metrics.registry.get_sample_value

    assert (sample("process_resident_memory_bytes") or 0) > 0
    assert sample("python_gc_collections_total", {"generation": "0"}) is not None
    names = {family.name for family in metrics.registry.collect()}
    assert "python_info" in names


def test_a_registry_can_be_passed_in() -> None:
    registry = CollectorRegistry()

    metrics = Metrics(registry)

    assert metrics.registry is registry
    assert registry.get_sample_value("process_open_fds") is not None


def test_the_text_format_passes_promtool(app: FastAPI) -> None:
    fetch(
        app,
        ("GET", "/items/1"),
        ("GET", "/nope"),
        ("GET", "/boom"),
        ("GET", "/problem"),
        ("GET", "/stream"),
        ("POST", "/drafts"),
    )

    response = scrape(app)

    assert (
        response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    )
    checked = subprocess.run(
        [PROMTOOL, "check", "metrics"],
        input=response.content,
        capture_output=True,
        check=False,
        timeout=30,
    )
    assert (checked.returncode, checked.stdout, checked.stderr) == (0, b"", b"")


def test_openmetrics_is_served_when_asked_for(app: FastAPI) -> None:
    fetch(app, ("GET", "/items/1"))

    response = scrape(app, f"{OPENMETRICS},text/plain;version=0.0.4;q=0.5")

    assert response.headers["content-type"].startswith(OPENMETRICS)
    assert response.text.endswith("# EOF\n")
    assert "# TYPE http_server_request_duration_seconds histogram" in response.text


def exemplars(text: str) -> list[dict[str, str]]:
    return [
        dict(sample.exemplar.labels)
        for family in text_string_to_metric_families(text)
        if family.name == DURATION
        for sample in family.samples
        if sample.exemplar is not None
    ]


@pytest.mark.parametrize(
    ("flags", "expected"),
    [("01", [{"trace_id": TRACE_ID}]), ("00", [])],
    ids=["sampled", "not-sampled"],
)
def test_a_sampled_trace_leaves_an_exemplar(
    app: FastAPI, flags: str, expected: list[dict[str, str]]
) -> None:
    traceparent = f"00-{TRACE_ID}-00f067aa0ba902b7-{flags}"
    fetch(app, ("GET", "/items/1"), headers={"traceparent": traceparent})

    response = scrape(app, OPENMETRICS)

    assert exemplars(response.text) == expected


def test_a_bucket_takes_one_exemplar_a_second(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [1000.0]
    monkeypatch.setattr(hiccup_metrics.time, "monotonic", lambda: now[0])
    # Every request takes 1 ms, so that all of them fall in one bucket
    # however loaded the machine is.
    ticks = itertools.count()
    monkeypatch.setattr(
        hiccup_middleware,
        "time",
        types.SimpleNamespace(perf_counter=lambda: next(ticks) * 0.001),
    )
    traces = [f"{n:032x}" for n in (0xA1, 0xB2, 0xC3)]

    def fetch_traced(trace_id: str) -> None:
        traceparent = f"00-{trace_id}-00f067aa0ba902b7-01"
        fetch(app, ("GET", "/items/1"), headers={"traceparent": traceparent})

    fetch_traced(traces[0])
    now[0] += hiccup_metrics.EXEMPLAR_SECONDS / 2
    fetch_traced(traces[1])
    kept = exemplars(scrape(app, OPENMETRICS).text)
    now[0] += hiccup_metrics.EXEMPLAR_SECONDS
    fetch_traced(traces[2])
    replaced = exemplars(scrape(app, OPENMETRICS).text)

    # The scrapes themselves are untraced: every exemplar is of /items/1.
    assert kept == [{"trace_id": traces[0]}]
    assert replaced == [{"trace_id": traces[2]}]


def test_the_text_format_has_no_exemplars(app: FastAPI) -> None:
    traceparent = f"00-{TRACE_ID}-00f067aa0ba902b7-01"
    fetch(app, ("GET", "/items/1"), headers={"traceparent": traceparent})

    response = scrape(app)

    assert TRACE_ID not in response.text


def test_a_request_without_a_trace_leaves_no_exemplar(metrics: Metrics) -> None:
    untraced = metrics_app.SETTINGS.model_copy(update={"tracing": False})
    app = metrics_app.build(metrics, settings=untraced)

    fetch(app, ("GET", "/items/1"))

    assert exemplars(scrape(app, OPENMETRICS).text) == []


def test_the_scrape_is_gzipped_when_accepted(app: FastAPI) -> None:
    [response] = fetch(app, ("GET", "/metrics"), headers={"Accept-Encoding": "gzip"})

    assert response.headers["content-encoding"] == "gzip"
    assert "# TYPE hiccup_errors_total counter" in response.text


def test_head_gets_the_headers_without_the_body(app: FastAPI) -> None:
    [response] = fetch(app, ("HEAD", "/metrics"))

    assert response.status_code == 200
    assert int(response.headers["content-length"]) > 0
    assert response.content == b""


@pytest.mark.parametrize(
    ("method", "status", "allow"),
    [("GET", 200, None), ("HEAD", 200, None), ("POST", 405, "GET, HEAD")],
    ids=["get", "head", "post"],
)
def test_the_endpoint_is_an_asgi_app_of_its_own(
    metrics: Metrics, method: str, status: int, allow: str | None
) -> None:
    endpoint = MetricsEndpoint(metrics)

    [response] = fetch(endpoint, (method, "/"))

    assert response.status_code == status
    assert response.headers.get("allow") == allow
    assert ("# TYPE hiccup_errors_total counter" in response.text) is (method == "GET")


def test_the_scrape_itself_is_counted_under_its_path(
    app: FastAPI, metrics: Metrics
) -> None:
    scrape(app)
    scrape(app)

    assert requests_of(metrics, "/metrics", 200) == 2


def test_one_kind_of_request_looks_its_labels_up_once(metrics: Metrics) -> None:
    observer = MetricsObserver(metrics)
    scope = {"type": "http", "method": "GET", "headers": [], "path": "/x"}

    async def ignore(message: object) -> None:
        pass

    for _ in range(3):
        exchange = Exchange(scope, ignore, b"x-request-id", True)
        exchange.status = 200
        observer.finished(exchange, observer.started(exchange), 0.01, "/x")

    assert requests_of(metrics, "/x", 200) == 3
    assert len(observer._series) == 1


def test_dropped_telemetry_is_counted_by_sink(as_default: Metrics) -> None:
    count_dropped("otlp", 3)
    count_dropped("sentry")

    sample = as_default.registry.get_sample_value
    assert sample("hiccup_telemetry_dropped_total", {"sink": "otlp"}) == 3
    assert sample("hiccup_telemetry_dropped_total", {"sink": "sentry"}) == 1


@pytest.mark.parametrize(
    ("code", "label"),
    [("MODEL_TIMEOUT", "MODEL_TIMEOUT"), ("NO_SUCH_CODE", "_other"), (None, "")],
    ids=["contract-code", "unknown-code", "no-code"],
)
def test_client_events_are_counted_by_kind_and_bounded_code(
    as_default: Metrics, code: str | None, label: str
) -> None:
    count_client_event("error", code)

    assert as_default.registry.get_sample_value(
        "hiccup_client_events_total", {"kind": "error", "code": label}
    ) == pytest.approx(1)


def touch(directory: os.PathLike[str], names: Sequence[str]) -> None:
    for name in names:
        with open(os.path.join(directory, name), "wb"):
            pass


def test_a_dead_workers_live_gauges_are_dropped(
    tmp_path: os.PathLike[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    touch(tmp_path, ["gauge_livesum_41.db", "gauge_livemax_41.db", "counter_41.db"])
    touch(tmp_path, ["gauge_livesum_42.db", "gauge_mostrecent_41.db"])

    mark_process_dead(41)

    assert sorted(os.listdir(tmp_path)) == [
        "counter_41.db",
        "gauge_livesum_42.db",
        "gauge_mostrecent_41.db",
    ]


def test_marking_a_process_dead_without_multiprocess_mode_does_nothing(
    tmp_path: os.PathLike[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    touch(tmp_path, ["gauge_livesum_41.db"])

    mark_process_dead(41)

    assert os.listdir(tmp_path) == ["gauge_livesum_41.db"]
