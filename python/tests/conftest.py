from __future__ import annotations

import io
from collections.abc import Callable, Iterator

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)
from postgres_server import PostgresServer, postgres_server
from support import LogCapture

import hiccup
from hiccup._metrics import Metrics, use_metrics


@pytest.fixture
def logs() -> Iterator[LogCapture]:
    """Configure hiccup's logging into memory, JSON lines, for one test."""
    capture = LogCapture()
    hiccup.configure_logging(
        hiccup.Settings(service_name="tests"), stream=capture.stream
    )
    yield capture
    hiccup.configure_logging(hiccup.Settings(service_name="tests"), stream=io.BytesIO())


@pytest.fixture
def make_logs() -> Iterator[Callable[[hiccup.Settings], LogCapture]]:
    """Return a factory configuring logging with given settings into memory."""

    def configure(settings: hiccup.Settings) -> LogCapture:
        capture = LogCapture()
        hiccup.configure_logging(settings, stream=capture.stream)
        return capture

    yield configure
    hiccup.configure_logging(hiccup.Settings(service_name="tests"), stream=io.BytesIO())


@pytest.fixture
def spans() -> InMemorySpanExporter:
    """Keep the spans of ``provider`` in memory."""
    return InMemorySpanExporter()


@pytest.fixture
def provider(spans: InMemorySpanExporter) -> Iterator[TracerProvider]:
    """An SDK tracer provider of the test's own, exporting into ``spans``."""
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(spans))
    yield provider
    provider.shutdown()


@pytest.fixture
def metrics() -> Iterator[Metrics]:
    """Fresh metrics, the default for the test's duration; a test module may
    define its own ``metrics`` instead."""
    fresh = Metrics()
    previous = use_metrics(fresh)
    yield fresh
    use_metrics(previous)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One PostgreSQL on loopback for the whole run, started when first asked."""
    with postgres_server() as server:
        yield server
