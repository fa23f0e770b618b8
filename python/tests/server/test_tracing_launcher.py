"""Under ``opentelemetry-instrument``, the launcher's tracer provider exports
hiccup's server span, and the FastAPI instrumentation it turned on records
no second one."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from otlp import ReceivedSpan, Receiver
from servers import Server, uvicorn_server

TRACE = "0af7651916cd43dd8448eb211c80319c"
PARENT = "b7ad6b7169203331"
LAUNCHER = str(Path(sys.executable).with_name("opentelemetry-instrument"))


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, receiver: Receiver
) -> Iterator[Server]:
    output = tmp_path_factory.mktemp("launched") / "output.jsonl"
    environment = {
        # What a deployment sets for the distro: OTLP over HTTP, traces only.
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
        "OTEL_SERVICE_NAME": "launched-api",
        "OTEL_BSP_SCHEDULE_DELAY": "50",
        "TRACED_DOWNSTREAM": "http://127.0.0.1:9/",
    }
    with pytest.MonkeyPatch.context() as patch:
        for name, value in environment.items():
            patch.setenv(name, value)
        with uvicorn_server("traced_app:create", output, [LAUNCHER]) as running:
            yield running


def spans_of(receiver: Receiver, trace_id: str) -> list[ReceivedSpan]:
    # The server span ends last: once it is in, so is any span inside it.
    spans = receiver.wait_for(
        lambda spans: any(s.trace_id == trace_id and s.kind == "SERVER" for s in spans)
    )
    return [span for span in spans if span.trace_id == trace_id]


def test_a_request_has_one_span_and_it_is_hiccups(
    server: Server, receiver: Receiver
) -> None:
    response = httpx2.get(
        f"{server.url}/hello?email=someone@example.com",
        headers={"traceparent": f"00-{TRACE}-{PARENT}-01"},
        timeout=30,
    )

    assert response.status_code == 200
    [span] = spans_of(receiver, TRACE)
    assert (span.name, span.kind, span.parent_span_id) == (
        "GET /hello",
        "SERVER",
        PARENT,
    )
    assert span.attributes["http.route"] == "/hello"
    assert span.attributes["url.path"] == "/hello"
    # The instrumentation's span would have recorded the query and the agent.
    assert not any("someone@example.com" in str(v) for v in span.attributes.values())
    assert "http.user_agent" not in span.attributes
    # The launcher's provider, configured from its variables, exported it.
    assert span.resource["service.name"] == "launched-api"
    assert span.resource["telemetry.sdk.name"] == "opentelemetry"


def test_the_envelope_and_the_lines_name_the_launched_span(
    server: Server, receiver: Receiver
) -> None:
    trace_id = "1bf92f3577b34da6a3ce929d0e0e4736"
    response = httpx2.get(
        f"{server.url}/boom",
        headers={"traceparent": f"00-{trace_id}-{PARENT}-01", "x-request-id": "l-1"},
        timeout=30,
    )

    assert response.status_code == 500
    assert response.json()["trace_id"] == trace_id
    [span] = spans_of(receiver, trace_id)
    assert (span.kind, span.status) == ("SERVER", "ERROR")
    assert span.attributes["hiccup.error.code"] == "INTERNAL"
    lines = server.wait_for(
        lambda ls: any(
            line.get("request_id") == "l-1" and line["event"] == "http.request"
            for line in ls
        )
    )
    mine = [line for line in lines if line.get("request_id") == "l-1"]
    assert [line["event"] for line in mine] == [
        "boom.soon",
        "http.exception",
        "http.request",
    ]
    assert {(line["trace_id"], line["span_id"]) for line in mine} == {
        (trace_id, span.span_id)
    }


def test_install_says_it_set_the_instrumentation_aside(server: Server) -> None:
    lines = server.wait_for(
        lambda ls: any(
            line["event"] == "tracing.fastapi_instrumentation_bypassed" for line in ls
        )
    )

    event = "tracing.fastapi_instrumentation_bypassed"
    [line] = [line for line in lines if line["event"] == event]
    assert line["logger"] == "hiccup.tracing"
