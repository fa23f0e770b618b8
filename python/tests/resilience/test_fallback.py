from __future__ import annotations

import asyncio
import json

import pytest
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from support import LogCapture, call

import hiccup
from hiccup import Problem
from hiccup._metrics import Metrics
from hiccup.resilience._breaker import CircuitOpen
from hiccup.resilience._fallback import (
    degraded,
    failure_reason,
    fallback,
    mark_degraded,
    with_fallback,
)
from hiccup.resilience._partial import ComponentError, gather_partial
from hiccup.resilience._retry import RetriesExhausted


def fallbacks(metrics: Metrics, component: str, alternative: str, reason: str) -> float:
    found = metrics.registry.get_sample_value(
        "hiccup_fallbacks_total",
        {"component": component, "alternative": alternative, "reason": reason},
    )
    return found or 0.0


async def fail(message: str = "provider down") -> str:
    raise ConnectionError(message)


async def answer(text: str) -> str:
    return text


def test_the_primary_answer_is_returned_and_nothing_is_degraded(
    metrics: Metrics,
) -> None:
    got = asyncio.run(
        fallback(lambda: answer("full"), ("small", lambda: "small"), component="writer")
    )

    assert got == "full"
    assert fallbacks(metrics, "writer", "small", "error") == 0


def test_alternatives_are_tried_in_order_until_one_works(
    metrics: Metrics, logs: LogCapture
) -> None:
    tried: list[str] = []

    async def small() -> str:
        tried.append("small")
        raise TimeoutError

    def template() -> str:
        tried.append("template")
        return "a template"

    got = asyncio.run(
        fallback(
            fail,
            ("small", small),
            ("template", template),
            component="writer",
        )
    )

    assert got == "a template"
    assert tried == ["small", "template"]
    assert fallbacks(metrics, "writer", "small", "error") == 1
    assert fallbacks(metrics, "writer", "template", "timeout") == 1
    used = logs.events("fallback.used")
    assert [(line["alternative"], line["reason"]) for line in used] == [
        ("small", "error"),
        ("template", "timeout"),
    ]
    assert all(line["level"] == "warning" for line in used)
    assert used[0]["error.type"] == "ConnectionError"


def test_when_every_alternative_fails_the_last_failure_is_raised_chained(
    metrics: Metrics,
) -> None:
    async def small() -> str:
        raise TimeoutError("small model too")

    with pytest.raises(TimeoutError) as raised:
        asyncio.run(fallback(fail, ("small", small), component="writer"))

    assert isinstance(raised.value.__cause__, ConnectionError)


def test_exceptions_outside_on_propagate_without_a_fallback(metrics: Metrics) -> None:
    with pytest.raises(ConnectionError):
        asyncio.run(
            fallback(
                fail, ("small", lambda: "small"), component="writer", on=TimeoutError
            )
        )

    assert fallbacks(metrics, "writer", "small", "error") == 0


@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        (CircuitOpen("model", 1.0), "circuit_open"),
        (RetriesExhausted(2, "budget"), "budget"),
        (RetriesExhausted(3, "attempts"), "retries"),
        (RetriesExhausted(1, "deadline"), "retries"),
        (TimeoutError(), "timeout"),
        (ValueError(), "error"),
    ],
)
def test_each_failure_has_a_bounded_reason(exc: Exception, reason: str) -> None:
    assert failure_reason(exc) == reason


def test_the_decorator_calls_the_alternative_with_the_same_arguments(
    metrics: Metrics,
) -> None:
    def cached(prompt: str, *, tone: str) -> str:
        return f"cached {prompt} {tone}"

    @with_fallback(cached, component="summary", name="cache")
    async def summary(prompt: str, *, tone: str) -> str:
        raise ConnectionError

    @with_fallback(cached, component="summary", name="cache")
    def summary_sync(prompt: str, *, tone: str) -> str:
        raise ConnectionError

    assert asyncio.run(summary("p", tone="dry")) == "cached p dry"
    assert summary_sync("q", tone="warm") == "cached q warm"
    assert summary.__name__ == "summary"
    assert fallbacks(metrics, "summary", "cache", "error") == 2


def test_component_names_must_be_tokens() -> None:
    with pytest.raises(ValueError, match="letters, digits"):
        mark_degraded("writer, admin")
    with pytest.raises(ValueError, match="at most 64"):
        mark_degraded("x" * 65)


def test_outside_a_request_marking_does_nothing() -> None:
    mark_degraded("writer")

    assert degraded() == []


def build_app() -> FastAPI:
    app = FastAPI()

    @app.get("/draft")
    async def draft() -> dict[str, object]:
        text = await fallback(
            fail,
            ("small", lambda: answer("small draft")),
            component="writer",
        )
        mark_degraded("writer")
        mark_degraded("spellcheck")
        return {"draft": text, "degraded": degraded()}

    @app.get("/widgets")
    async def widgets() -> dict[str, object]:
        async def slow() -> int:
            await asyncio.Event().wait()
            return 0

        async def unavailable() -> int:
            raise Problem("MODEL_UNAVAILABLE", model="writer-large")

        async def broken() -> int:
            raise KeyError("a bug")

        partial = await gather_partial(
            {
                "usage": answer("42"),
                "recent": slow,
                "models": unavailable(),
                "billing": broken,
            },
            deadline=0.05,
        )
        return partial.as_dict()

    @app.get("/full")
    async def full() -> dict[str, object]:
        return {"degraded": degraded()}

    return hiccup.install(app, hiccup.Settings(service_name="tests", tracing=False))


def test_a_degraded_response_names_its_components_in_a_header_and_the_body(
    metrics: Metrics,
) -> None:
    app = build_app()

    sent = asyncio.run(call(app, "GET", "/draft"))

    assert sent.status == 200
    assert sent.header("x-degraded") == "writer, spellcheck"
    assert json.loads(sent.body) == {
        "draft": "small draft",
        "degraded": ["writer", "spellcheck"],
    }
    healthy = asyncio.run(call(app, "GET", "/full"))
    assert healthy.header("x-degraded") is None
    assert json.loads(healthy.body) == {"degraded": []}


def test_the_degraded_header_is_exposed_to_browsers_of_other_origins() -> None:
    app = FastAPI()
    app.add_middleware(CORSMiddleware, allow_origins=["https://app.example"])

    @app.get("/draft")
    async def draft() -> dict[str, str]:
        mark_degraded("writer")
        return {}

    app = hiccup.install(app, hiccup.Settings(service_name="tests", tracing=False))
    sent = asyncio.run(
        call(app, "GET", "/draft", headers=[(b"origin", b"https://app.example")])
    )

    assert "X-Degraded" in (sent.header("access-control-expose-headers") or "")


def test_partial_results_keep_what_worked_and_say_why_the_rest_failed(
    metrics: Metrics, logs: LogCapture
) -> None:
    app = build_app()
    # install() sends the lines to standard output: take them back.
    hiccup.configure_logging(hiccup.Settings(service_name="tests"), stream=logs.stream)

    sent = asyncio.run(call(app, "GET", "/widgets"))

    assert sent.status == 200
    body = json.loads(sent.body)
    assert body["results"] == {"usage": "42"}
    assert body["errors"] == [
        {
            "component": "recent",
            "code": "UPSTREAM_TIMEOUT",
            "status": 504,
            "retry": {"auto": True, "user": True, "after_ms": 2000},
        },
        {
            "component": "models",
            "code": "MODEL_UNAVAILABLE",
            "status": 503,
            "retry": {"auto": False, "user": True, "after_ms": 30000},
        },
        {
            "component": "billing",
            "code": "INTERNAL",
            "status": 500,
            "retry": {"auto": False, "user": True, "after_ms": 1000},
        },
    ]
    assert sent.header("x-degraded") == "recent, models, billing"
    assert "a bug" not in sent.body.decode()
    failed = logs.events("partial.component_failed")
    assert [(line["component"], line["error.code"]) for line in failed] == [
        ("recent", "UPSTREAM_TIMEOUT"),
        ("models", "MODEL_UNAVAILABLE"),
        ("billing", "INTERNAL"),
    ]
    assert "error.type" not in failed[0]
    assert failed[2]["error.type"] == "KeyError"
    assert (
        metrics.registry.get_sample_value(
            "hiccup_partial_failures_total",
            {"component": "models", "code": "MODEL_UNAVAILABLE"},
        )
        == 1
    )


def test_gather_partial_without_a_deadline_waits_for_every_component() -> None:
    async def late() -> str:
        await asyncio.sleep(0.01)
        return "late"

    partial = asyncio.run(gather_partial({"a": late, "b": answer("b")}))

    assert partial.complete
    assert partial.results == {"a": "late", "b": "b"}
    assert asyncio.run(gather_partial({})).as_dict() == {"results": {}, "errors": []}


def test_cancelling_gather_partial_cancels_every_component() -> None:
    cancelled: list[str] = []

    async def waits(name: str) -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(name)
            raise

    async def main() -> None:
        task = asyncio.ensure_future(gather_partial({"a": waits("a"), "b": waits("b")}))
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())

    assert sorted(cancelled) == ["a", "b"]


def test_component_error_status_comes_from_the_contract() -> None:
    assert ComponentError("x", "DEPENDENCY_UNAVAILABLE").status == 503
