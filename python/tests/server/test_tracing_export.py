"""What a served app exports over OTLP/HTTP, and what it logs beside it."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx2
import pytest
from otlp import ReceivedSpan, Receiver, otlp_receiver
from servers import SERVED_APPS, Server, free_port, uvicorn_server
from support import assert_valid

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE}-{PARENT}-01"
#: Export quickly, so that tests wait for spans a short while.
FAST_EXPORT = {"OTEL_BSP_SCHEDULE_DELAY": "50"}


@contextmanager
def served(output: Path, **environment: str) -> Iterator[Server]:
    """Serve ``traced_app`` under uvicorn with extra environment variables."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in environment.items():
            patch.setenv(name, value)
        with uvicorn_server("traced_app:create", output) as server:
            yield server


@dataclass
class Downstream:
    """A plain HTTP server that records the headers of each request."""

    url: str
    headers: list[dict[str, str]]


@contextmanager
def downstream_server() -> Iterator[Downstream]:
    seen: list[dict[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append({k.lower(): v for k, v in self.headers.items()})
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            """Keep the test output quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Downstream(f"http://127.0.0.1:{server.server_address[1]}/", seen)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def downstream() -> Iterator[Downstream]:
    with downstream_server() as running:
        yield running


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory,
    receiver: Receiver,
    downstream: Downstream,
) -> Iterator[Server]:
    output = tmp_path_factory.mktemp("traced") / "output.jsonl"
    with served(
        output,
        OTEL_EXPORTER_OTLP_ENDPOINT=receiver.url,
        TRACED_DOWNSTREAM=downstream.url,
        **FAST_EXPORT,
    ) as running:
        yield running


def spans_of_trace(receiver: Receiver, trace_id: str, count: int) -> list[ReceivedSpan]:
    """Wait for ``count`` spans of a trace; return those that came."""
    spans = receiver.wait_for(
        lambda spans: sum(s.trace_id == trace_id for s in spans) >= count
    )
    return [span for span in spans if span.trace_id == trace_id]


def lines_of(server: Server, request_id: str, count: int) -> list[dict[str, Any]]:
    lines = server.wait_for(
        lambda ls: sum(line.get("request_id") == request_id for line in ls) >= count
    )
    return [line for line in lines if line.get("request_id") == request_id]


def test_one_trace_id_in_the_span_the_envelope_and_every_log_line(
    server: Server, receiver: Receiver
) -> None:
    response = httpx2.get(
        f"{server.url}/boom",
        headers={"traceparent": TRACEPARENT, "x-request-id": "boom-1"},
        timeout=30,
    )

    assert response.status_code == 500
    assert response.json()["trace_id"] == TRACE
    [span] = spans_of_trace(receiver, TRACE, 1)
    assert (span.name, span.kind, span.status) == ("GET /boom", "SERVER", "ERROR")
    assert span.parent_span_id == PARENT
    lines = lines_of(server, "boom-1", 3)
    assert [line["event"] for line in lines] == [
        "boom.soon",
        "http.exception",
        "http.request",
    ]
    for line in lines:
        assert (line["trace_id"], line["span_id"]) == (TRACE, span.span_id)
        assert_valid("log-record", line)


def test_the_server_span_carries_the_resource_and_http_attributes(
    server: Server, receiver: Receiver
) -> None:
    trace_id = "5b8aa5a2d2c872e8321cf37308d69df2"
    response = httpx2.get(
        f"{server.url}/hello?email=someone@example.com",
        headers={"traceparent": f"00-{trace_id}-{PARENT}-01"},
        timeout=30,
    )

    assert response.status_code == 200
    [span] = spans_of_trace(receiver, trace_id, 1)
    assert span.resource["service.name"] == "traced-api"
    assert span.resource["service.version"] == "2.3.4"
    assert span.resource["deployment.environment.name"] == "staging"
    assert span.resource["deployment.environment"] == "staging"
    assert span.resource["service.instance.id"]
    assert span.attributes == {
        "http.request.method": "GET",
        "url.path": "/hello",
        "url.scheme": "http",
        "network.protocol.version": "1.1",
        "server.address": "127.0.0.1",
        "server.port": server.port,
        "client.address": "127.0.0.1",
        "test.pid": response.json()["pid"],
        "http.route": "/hello",
        "http.response.status_code": 200,
    }


def test_stdlib_lines_of_a_request_carry_its_ids(
    server: Server, receiver: Receiver
) -> None:
    trace_id = "0af7651916cd43dd8448eb211c80319c"
    httpx2.get(
        f"{server.url}/hello",
        headers={"traceparent": f"00-{trace_id}-{PARENT}-01", "x-request-id": "lib-1"},
        timeout=30,
    )

    [span] = spans_of_trace(receiver, trace_id, 1)
    lines = lines_of(server, "lib-1", 3)
    [library] = [line for line in lines if line["logger"] == "traced.library"]
    assert (library["trace_id"], library["span_id"]) == (trace_id, span.span_id)
    assert {line["trace_id"] for line in lines} == {trace_id}


def test_an_outgoing_httpx_call_carries_the_trace_to_the_next_server(
    server: Server, receiver: Receiver, downstream: Downstream
) -> None:
    trace_id = "6e0c63257de34c92bf9efcd03927272e"
    response = httpx2.get(
        f"{server.url}/call",
        headers={"traceparent": f"00-{trace_id}-{PARENT}-01"},
        timeout=30,
    )

    assert response.json() == {"status": 200}
    spans = spans_of_trace(receiver, trace_id, 2)
    [server_span] = [s for s in spans if s.kind == "SERVER"]
    [client_span] = [s for s in spans if s.kind == "CLIENT"]
    assert client_span.parent_span_id == server_span.span_id
    [sent] = [h for h in downstream.headers if trace_id in h.get("traceparent", "")]
    _, sent_trace, sent_parent, _ = sent["traceparent"].split("-")
    assert (sent_trace, sent_parent) == (trace_id, client_span.span_id)


def test_a_queued_job_is_a_consumer_span_in_the_request_trace(
    server: Server, receiver: Receiver
) -> None:
    trace_id = "8c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f"
    response = httpx2.post(
        f"{server.url}/jobs",
        headers={"traceparent": f"00-{trace_id}-{PARENT}-01", "x-request-id": "job-1"},
        timeout=30,
    )

    assert response.json() == {"queued": True}
    spans = spans_of_trace(receiver, trace_id, 2)
    [server_span] = [s for s in spans if s.kind == "SERVER"]
    [job] = [s for s in spans if s.kind == "CONSUMER"]
    assert (job.name, job.parent_span_id) == ("job.run", server_span.span_id)
    [ran] = [
        line for line in lines_of(server, "job-1", 2) if line["event"] == "job.ran"
    ]
    assert (ran["trace_id"], ran["span_id"]) == (trace_id, job.span_id)


def test_probes_get_no_span(server: Server, receiver: Receiver) -> None:
    trace_id = "9d2e3f4a5b6c7d8e9f0a1b2c3d4e5f60"
    httpx2.get(
        f"{server.url}/healthz",
        headers={"traceparent": f"00-{trace_id}-{PARENT}-01"},
        timeout=30,
    )
    # A request after the probe: once its span is in, the probe's would be.
    marker = "ad3e4f5a6b7c8d9e0f1a2b3c4d5e6f70"
    httpx2.get(
        f"{server.url}/hello",
        headers={"traceparent": f"00-{marker}-{PARENT}-01"},
        timeout=30,
    )

    spans_of_trace(receiver, marker, 1)
    assert spans_of_trace(receiver, trace_id, 0) == []


# A collector that is down or stalled


REQUESTS = 200
SMALL_QUEUE = {
    "OTEL_BSP_MAX_QUEUE_SIZE": "32",
    "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "8",
    **FAST_EXPORT,
}


@contextmanager
def unreachable_collector(kind: str) -> Iterator[str]:
    """Yield the endpoint of a collector that never answers, or of none."""
    if kind == "stalled":
        with otlp_receiver(answer=False) as stalled:
            yield stalled.url
    else:
        yield f"http://127.0.0.1:{free_port()}"


def fire(base_url: str, path: str, count: int) -> list[httpx2.Response]:
    async def send() -> list[httpx2.Response]:
        async with httpx2.AsyncClient(base_url=base_url, timeout=60) as client:
            return await asyncio.gather(*(client.get(path) for _ in range(count)))

    return asyncio.run(send())


@pytest.mark.parametrize("kind", ["stalled", "closed-port"])
def test_requests_are_answered_while_spans_are_dropped_and_counted(
    tmp_path: Path, kind: str
) -> None:
    with (
        unreachable_collector(kind) as endpoint,
        served(
            tmp_path / "output.jsonl",
            OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
            **SMALL_QUEUE,
        ) as server,
    ):
        responses = fire(server.url, "/hello", REQUESTS)

        assert [r.status_code for r in responses] == [200] * REQUESTS
        dropped = wait_for_value(
            lambda: int(httpx2.get(f"{server.url}/tracing/dropped").json()["dropped"]),
            lambda value: value >= REQUESTS - 32,
        )
    assert REQUESTS - 32 <= dropped <= REQUESTS


def wait_for_value(
    read: Callable[[], int], done: Callable[[int], bool], timeout: float = 60
) -> int:
    """Read a value until ``done`` says it is final, or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while not done(value := read()) and time.monotonic() < deadline:
        time.sleep(0.1)

    return value


# Several workers forked from one process


GUNICORN_CONFIG = "control_socket_disable = True\n"


@contextmanager
def gunicorn_server(directory: Path, endpoint: str, workers: int) -> Iterator[str]:
    """Serve ``traced_app`` under gunicorn, the app loaded before the fork."""
    config = directory / "gunicorn.conf.py"
    config.write_text(GUNICORN_CONFIG)
    port = free_port()
    with (directory / "gunicorn.log").open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "traced_app:create()",
                "--preload",
                f"--config={config}",
                f"--pythonpath={SERVED_APPS}",
                f"--workers={workers}",
                "--worker-class=uvicorn_worker.UvicornWorker",
                f"--bind=127.0.0.1:{port}",
                "--graceful-timeout=5",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={
                **os.environ,
                "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
                "PYTHONUNBUFFERED": "1",
                **FAST_EXPORT,
            },
        )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def test_each_forked_worker_exports_with_an_instance_id_of_its_own(
    tmp_path: Path,
) -> None:
    with otlp_receiver() as receiver, gunicorn_server(tmp_path, receiver.url, 2) as url:
        pids: set[int] = set()
        deadline = time.monotonic() + 60
        while len(pids) < 2 and time.monotonic() < deadline:
            try:
                # A connection each, so that either worker may take it.
                response = httpx2.get(f"{url}/hello", headers={"connection": "close"})
            except httpx2.TransportError:
                time.sleep(0.1)  # the workers are still starting
                continue
            pids.add(response.json()["pid"])
        spans = receiver.wait_for(
            lambda spans: {s.attributes.get("test.pid") for s in spans} >= pids
        )

    assert len(pids) == 2
    pairs = {
        (s.attributes["test.pid"], s.resource["service.instance.id"]) for s in spans
    }
    assert len(pairs) == 2
    assert {pid for pid, _ in pairs} == pids
    assert len({instance for _, instance in pairs}) == 2
