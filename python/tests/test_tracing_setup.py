from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator, Sequence

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)
from opentelemetry.trace import SpanKind
from otlp import otlp_receiver
from support import LogCapture

import hiccup
from hiccup._metrics import default_metrics
from hiccup._tracing import Tracing, configure_tracing

SETTINGS = hiccup.Settings(
    service_name="writer-api", version="1.4.2", environment="staging"
)
OTEL_VARIABLES = (
    "OTEL_SDK_DISABLED",
    "OTEL_SERVICE_NAME",
    "OTEL_RESOURCE_ATTRIBUTES",
    "OTEL_TRACES_SAMPLER",
    "OTEL_TRACES_SAMPLER_ARG",
    "OTEL_TRACES_EXPORTER",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
)

Configure = Callable[..., Tracing]


@pytest.fixture
def configure(monkeypatch: pytest.MonkeyPatch) -> Iterator[Configure]:
    """Return ``configure_tracing`` for this process alone, from a clean
    environment; what it sets up is shut down after the test."""
    for name in OTEL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    made: list[Tracing] = []

    def make(settings: hiccup.Settings = SETTINGS, **options: object) -> Tracing:
        tracing = configure_tracing(settings, set_global=False, **options)  # type: ignore[arg-type]
        made.append(tracing)
        return tracing

    yield make
    for tracing in made:
        tracing.shutdown()


def sdk(tracing: Tracing) -> TracerProvider:
    assert isinstance(tracing.provider, TracerProvider)
    return tracing.provider


# The resource


def test_the_resource_names_the_service_from_the_settings(
    configure: Configure,
) -> None:
    attributes = sdk(configure()).resource.attributes

    assert {key: attributes[key] for key in ("service.name", "service.version")} == {
        "service.name": "writer-api",
        "service.version": "1.4.2",
    }
    assert attributes["deployment.environment.name"] == "staging"
    assert attributes["deployment.environment"] == "staging"
    assert uuid.UUID(str(attributes["service.instance.id"]))


def test_otel_service_name_wins_over_the_settings(
    configure: Configure, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_SERVICE_NAME", "from-env")

    assert sdk(configure()).resource.attributes["service.name"] == "from-env"


def test_otel_resource_attributes_win_over_the_settings(
    configure: Configure, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "OTEL_RESOURCE_ATTRIBUTES",
        "service.version=9.9.9,deployment.environment.name=canary,team=writers",
    )

    attributes = sdk(configure()).resource.attributes

    assert attributes["service.version"] == "9.9.9"
    assert attributes["deployment.environment.name"] == "canary"
    assert attributes["deployment.environment"] == "canary"
    assert attributes["team"] == "writers"


# The sampler


def test_new_traces_are_sampled_at_the_settings_ratio(configure: Configure) -> None:
    tracing = configure(hiccup.Settings(trace_sample_ratio=0.25))

    description = sdk(tracing).sampler.get_description()

    assert description.startswith("ParentBased{root:TraceIdRatioBased{0.25}")


def test_otel_traces_sampler_wins_over_the_settings(
    configure: Configure, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "traceidratio")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", "0.5")

    tracing = configure(hiccup.Settings(trace_sample_ratio=0.25))

    assert sdk(tracing).sampler.get_description() == "TraceIdRatioBased{0.5}"


# Where spans go


def test_without_an_endpoint_spans_stay_in_the_ring(configure: Configure) -> None:
    tracing = configure()

    with sdk(tracing).get_tracer("tests").start_as_current_span("work"):
        pass

    [recent] = tracing.recent_traces()
    assert [span["name"] for span in recent["spans"]] == ["work"]


def test_with_an_endpoint_spans_are_exported_over_otlp(
    configure: Configure, monkeypatch: pytest.MonkeyPatch
) -> None:
    with otlp_receiver() as receiver:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)
        tracing = configure()

        tracer = sdk(tracing).get_tracer("tests")
        tracer.start_span("work", kind=SpanKind.SERVER).end()
        tracing.force_flush()

        [span] = receiver.spans()
    assert (span.name, span.kind) == ("work", "SERVER")
    assert span.resource["service.name"] == "writer-api"
    assert tracing.recent_traces() == []
    assert tracing.dropped == 0


def test_a_given_exporter_gets_the_spans(configure: Configure) -> None:
    exporter = InMemorySpanExporter()
    tracing = configure(exporter=exporter)

    sdk(tracing).get_tracer("tests").start_span("work").end()
    tracing.force_flush()

    assert [span.name for span in exporter.get_finished_spans()] == ["work"]


def test_dropped_spans_are_counted_in_hiccups_metrics(configure: Configure) -> None:
    class Refused(InMemorySpanExporter):
        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            return SpanExportResult.FAILURE

    registry = default_metrics().registry
    labels = {"sink": "otlp"}
    before = registry.get_sample_value("hiccup_telemetry_dropped_total", labels) or 0
    tracing = configure(exporter=Refused())

    for _ in range(3):
        sdk(tracing).get_tracer("tests").start_span("work").end()
    tracing.force_flush()

    after = registry.get_sample_value("hiccup_telemetry_dropped_total", labels)
    assert (tracing.dropped, after) == (3, before + 3)


def test_an_unsupported_protocol_falls_back_to_the_ring_with_a_warning(
    configure: Configure, monkeypatch: pytest.MonkeyPatch, logs: LogCapture
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")

    tracing = configure()
    sdk(tracing).get_tracer("tests").start_span("work").end()

    [warning] = logs.events("tracing.exporter_unsupported")
    assert (warning["level"], warning["protocol"]) == ("warning", "grpc")
    assert len(tracing.recent_traces()) == 1


def test_otel_traces_exporter_none_exports_nothing(
    configure: Configure, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "none")

    tracing = configure()
    sdk(tracing).get_tracer("tests").start_span("work").end()

    assert len(tracing.recent_traces()) == 1


def test_otel_sdk_disabled_turns_tracing_off(
    configure: Configure, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")

    tracing = configure()

    assert not tracing.enabled
    assert not tracing.provider.get_tracer("tests").start_span("work").is_recording()


# The process's global provider, each in a fresh interpreter


def run_python(code: str) -> dict[str, object]:
    """Run a script in a new interpreter; return the JSON it printed last."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        check=True,
        text=True,
        timeout=60,
    )
    result: dict[str, object] = json.loads(done.stdout.splitlines()[-1])
    return result


def test_a_provider_installed_first_is_used_as_it_is() -> None:
    result = run_python(
        """
        import json
        from opentelemetry import trace
        from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
        from opentelemetry.sdk.trace import TracerProvider
        import hiccup
        from hiccup._tracing import configure_tracing

        theirs = TracerProvider()
        trace.set_tracer_provider(theirs)
        tracing = configure_tracing(hiccup.Settings())
        print(json.dumps({
            "theirs": tracing.provider is theirs,
            "owned": tracing.owned,
            "global": trace.get_tracer_provider() is theirs,
            "httpx": HTTPXClientInstrumentor().is_instrumented_by_opentelemetry,
        }))
        """
    )

    assert result == {"theirs": True, "owned": False, "global": True, "httpx": True}


def test_configuring_twice_installs_one_global_provider() -> None:
    result = run_python(
        """
        import json
        from opentelemetry import trace
        import hiccup
        from hiccup._tracing import configure_tracing, recent_traces

        first = configure_tracing(hiccup.Settings(service_name="once"))
        second = configure_tracing(hiccup.Settings(service_name="twice"))
        with trace.get_tracer("tests").start_as_current_span("work"):
            pass
        print(json.dumps({
            "same": first is second,
            "global": trace.get_tracer_provider() is first.provider,
            "owned": first.owned,
            "service": first.provider.resource.attributes["service.name"],
            "recent": [s["name"] for t in recent_traces() for s in t["spans"]],
        }))
        """
    )

    assert result == {
        "same": True,
        "global": True,
        "owned": True,
        "service": "once",
        "recent": ["work"],
    }
