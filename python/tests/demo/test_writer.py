"""The demo writer, in process: each fault switch fails the way it says, the
fallbacks degrade rather than fail, and the QA API changes what it names."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from fastapi import FastAPI
from support import LogCapture
from writer_support import events, running, send

import hiccup
from hiccup._codes import CONTRACT

PROMPT = {"prompt": "a launch note for the new search"}


def scenario(app: FastAPI, *steps: tuple[str, str, object]) -> list[Any]:
    """Send each (method, path, body) in order, with the app running."""

    async def run() -> list[Any]:
        async with running(app):
            return [await send(app, method, path, body) for method, path, body in steps]

    return asyncio.run(run())


def faults(**switches: object) -> tuple[str, str, object]:
    return ("PUT", "/qa/faults", switches)


def stream() -> tuple[str, str, object]:
    return ("POST", "/api/drafts/stream", PROMPT)


# Writing


def test_a_draft_streams_word_by_word_and_is_kept(writer_app: FastAPI) -> None:
    streamed, listed = scenario(writer_app, stream(), ("GET", "/api/drafts", None))

    assert streamed.status == 200
    assert streamed.header("content-type").startswith("text/event-stream")
    assert streamed.header("x-degraded") is None
    parsed = events(streamed)
    tokens = [data["text"] for event, data in parsed if event == "token"]
    assert len(tokens) > 10
    assert "".join(tokens).startswith("Here is a first draft about a launch note")
    done = parsed[-1]
    assert done[0] == "done"
    assert done[1]["model"] == "writer-large"
    assert done[1]["degraded"] == []
    [kept] = listed.json()["drafts"]
    assert kept["id"] == done[1]["draft_id"]
    assert kept["model"] == "writer-large"


def test_an_outage_of_the_large_model_falls_back_to_the_small_one(
    writer_app: FastAPI,
) -> None:
    _, streamed = scenario(writer_app, faults(outage=True), stream())

    assert streamed.status == 200
    assert streamed.header("x-degraded") == "writer"
    done = events(streamed)[-1][1]
    assert (done["model"], done["degraded"]) == ("writer-small", ["writer"])
    # Retried once, on the budget's floor of a retry a second; the budget
    # had no token for a second retry, and the fallback answered.
    assert writer_app.state.provider.calls == {"writer-large": 2, "writer-small": 1}


def test_the_breaker_opens_and_spares_the_large_model(writer_app: FastAPI) -> None:
    steps = [faults(outage=True), *[stream() for _ in range(4)]]

    answers = scenario(writer_app, *steps)[1:]

    assert all(events(sent)[-1][1]["model"] == "writer-small" for sent in answers)
    assert writer_app.state.writer.breaker.state.value == "open"
    # Five failures opened it; the calls after went straight to the fallback.
    assert writer_app.state.provider.calls["writer-large"] < 4 * 3


def test_when_every_model_fails_the_template_answers(writer_app: FastAPI) -> None:
    _, streamed = scenario(writer_app, faults(overloaded=True), stream())

    done = events(streamed)[-1][1]
    assert (done["model"], done["degraded"]) == ("template", ["writer"])
    text = "".join(data["text"] for event, data in events(streamed) if event == "token")
    assert text.startswith("Draft about a launch note")


@pytest.mark.parametrize(
    ("switch", "status", "code"),
    [
        ({"overloaded": True}, 503, "MODEL_OVERLOADED"),
        ({"outage": True}, 503, "MODEL_UNAVAILABLE"),
        ({"error_rate": 1.0}, 503, "MODEL_UNAVAILABLE"),
    ],
)
def test_with_fallbacks_off_the_failure_reaches_the_user(
    writer_app: FastAPI, switch: dict[str, object], status: int, code: str
) -> None:
    _, streamed = scenario(writer_app, faults(fallbacks=False, **switch), stream())

    assert streamed.status == status
    body = streamed.json()
    assert body["code"] == code
    assert body["user"]["title"]
    assert streamed.header("x-should-retry") == "false"


@pytest.mark.parametrize(
    ("switch", "code"),
    [
        ({"safety_block": True}, "MODEL_OUTPUT_BLOCKED"),
        ({"context_too_long": True}, "MODEL_CONTEXT_TOO_LONG"),
    ],
)
def test_a_refused_prompt_is_never_papered_over_by_a_fallback(
    writer_app: FastAPI, switch: dict[str, object], code: str
) -> None:
    _, streamed = scenario(writer_app, faults(**switch), stream())

    assert streamed.status == 422
    assert streamed.json()["code"] == code
    assert writer_app.state.provider.calls == {"writer-large": 1, "writer-small": 0}


def test_a_spent_quota_answers_429_with_its_retry_after(writer_app: FastAPI) -> None:
    _, streamed = scenario(
        writer_app, faults(rate_limited=True, retry_after_s=3), stream()
    )

    assert streamed.status == 429
    assert streamed.header("retry-after") == "3"
    body = streamed.json()
    assert body["code"] == "RATE_LIMITED"
    assert body["params"] == {"seconds": 3}
    assert writer_app.state.provider.calls["writer-large"] == 0


def test_an_error_mid_stream_ends_the_stream_with_an_envelope(
    writer_app: FastAPI,
) -> None:
    _, streamed = scenario(writer_app, faults(mid_stream_error=True), stream())

    parsed = events(streamed)
    assert [event for event, _ in parsed[:3]] == ["token"] * 3
    event, envelope = parsed[-1]
    assert event == "error"
    assert envelope["code"] == "MODEL_UNAVAILABLE"
    assert envelope["request_id"] == streamed.header("x-request-id")
    assert "done" not in [event for event, _ in parsed]


def test_latency_slows_the_first_word_and_nothing_else(writer_app: FastAPI) -> None:
    _, streamed = scenario(writer_app, faults(latency_ms=50), stream())

    assert events(streamed)[-1][0] == "done"


def test_a_dropped_connection_cuts_the_answer_short(writer_app: FastAPI) -> None:
    async def run() -> Exception | None:
        async with running(writer_app):
            await send(writer_app, *faults(drop_connection=True))
            try:
                await send(writer_app, "GET", "/api/drafts")
            except ConnectionResetError as exc:
                return exc
            return None

    assert isinstance(asyncio.run(run()), ConnectionResetError)


# The dashboard and the form


def test_the_dashboard_shows_what_worked_and_names_what_failed(
    writer_app: FastAPI,
) -> None:
    whole, partial = scenario(
        writer_app,
        ("GET", "/api/dashboard", None),
        faults(failing_widget="models"),
        ("GET", "/api/dashboard", None),
    )[0:3:2]

    assert sorted(whole.json()["results"]) == ["drafts", "models", "tips", "usage"]
    assert whole.json()["errors"] == []
    body = partial.json()
    assert sorted(body["results"]) == ["drafts", "tips", "usage"]
    [error] = body["errors"]
    assert (error["component"], error["code"], error["status"]) == (
        "models",
        "DEPENDENCY_UNAVAILABLE",
        503,
    )


def test_the_form_names_each_field_that_is_wrong(writer_app: FastAPI) -> None:
    [sent] = scenario(
        writer_app,
        ("POST", "/api/drafts", {"title": "", "prompt": "x" * 2001, "tone": "loud"}),
    )

    assert sent.status == 422
    body = sent.json()
    assert body["code"] == "VALIDATION_FAILED"
    fields = {error["source"]["pointer"]: error["code"] for error in body["errors"]}
    assert fields == {
        "/title": "FIELD_TOO_SHORT",
        "/prompt": "FIELD_TOO_LONG",
        "/tone": "FIELD_INVALID_CHOICE",
    }


def test_a_save_tried_again_with_its_key_is_kept_once(writer_app: FastAPI) -> None:
    draft = {"title": "Launch", "prompt": "A note", "tone": "friendly"}
    key = (b"idempotency-key", b"save-7f0c")

    async def run() -> list[Any]:
        async with running(writer_app):
            first = await send(writer_app, "POST", "/api/drafts", draft, headers=(key,))
            again = await send(writer_app, "POST", "/api/drafts", draft, headers=(key,))
            listed = await send(writer_app, "GET", "/api/drafts")
            return [first, again, listed]

    first, again, listed = asyncio.run(run())

    assert first.status == again.status == 201
    assert again.header("idempotent-replayed") == "true"
    assert again.json() == first.json()
    assert len(listed.json()["drafts"]) == 1


# Any code of the contract


SERVER_CODES = [
    name for name, spec in CONTRACT.codes.items() if not spec.client and not spec.field
]


@pytest.mark.parametrize("code", SERVER_CODES)
def test_any_server_code_can_be_raised(writer_app: FastAPI, code: str) -> None:
    [sent] = scenario(writer_app, ("GET", f"/api/codes/{code}", None))

    spec = CONTRACT.codes[code]
    assert sent.status == spec.status
    assert sent.json()["code"] == code
    if spec.status in (429, 503) and spec.retry.after_ms is not None:
        assert int(sent.header("retry-after") or 0) * 1000 >= spec.retry.after_ms


def test_a_field_code_is_raised_as_a_field_of_a_422(writer_app: FastAPI) -> None:
    [sent] = scenario(writer_app, ("GET", "/api/codes/FIELD_TOO_LONG", None))

    assert sent.status == 422
    [error] = sent.json()["errors"]
    assert (error["code"], error["source"]) == (
        "FIELD_TOO_LONG",
        {"pointer": "/prompt"},
    )


@pytest.mark.parametrize("code", ["NETWORK_OFFLINE", "NOPE"])
def test_a_code_no_server_raises_is_not_found(writer_app: FastAPI, code: str) -> None:
    [sent] = scenario(writer_app, ("GET", f"/api/codes/{code}", None))

    assert sent.status == 404
    assert sent.json()["code"] == "NOT_FOUND"


# The QA switches


def test_a_change_to_the_switches_leaves_the_others_alone(writer_app: FastAPI) -> None:
    first, second, reset = scenario(
        writer_app,
        faults(outage=True, latency_ms=200),
        faults(outage=False),
        ("POST", "/qa/faults/reset", None),
    )

    assert (first.json()["faults"]["outage"], first.json()["faults"]["latency_ms"]) == (
        True,
        200,
    )
    assert (
        second.json()["faults"]["outage"],
        second.json()["faults"]["latency_ms"],
    ) == (
        False,
        200,
    )
    assert reset.json()["faults"] == hiccup_faults_default()


def hiccup_faults_default() -> dict[str, object]:
    from writer.faults import Faults  # noqa: PLC0415 - importable once the path is set

    return Faults().model_dump()


def test_a_reset_closes_the_breaker_too(writer_app: FastAPI) -> None:
    scenario(
        writer_app,
        faults(outage=True, fallbacks=False),
        *[stream() for _ in range(5)],
    )
    assert writer_app.state.writer.breaker.state.value == "open"

    scenario(writer_app, ("POST", "/qa/faults/reset", None))

    assert writer_app.state.writer.breaker.state.value == "closed"


def test_a_bad_switch_is_refused_field_by_field(writer_app: FastAPI) -> None:
    sent, after = scenario(
        writer_app,
        faults(error_rate=2, failing_widget="clock", bogus=True),
        ("GET", "/qa/faults", None),
    )

    assert sent.status == 422
    pointers = sorted(error["source"]["pointer"] for error in sent.json()["errors"])
    assert pointers == ["/bogus", "/error_rate", "/failing_widget"]
    assert after.json()["faults"] == hiccup_faults_default()


def test_the_switches_are_logged(writer_app: FastAPI, logs: LogCapture) -> None:
    hiccup.configure_logging(writer_app.state.hiccup_settings, stream=logs.stream)

    scenario(writer_app, faults(outage=True))

    [line] = logs.events("qa.faults_changed")
    assert line["outage"] is True


# Readiness and jobs


def test_a_slow_dependency_fails_readiness(writer_app: FastAPI) -> None:
    async def run() -> list[Any]:
        async with running(writer_app):
            health = writer_app.state.hiccup_health
            await health.refresh()
            before = await send(writer_app, "GET", "/readyz", query=b"verbose")
            await send(writer_app, *faults(slow_dependency=True))
            await health.refresh("search")
            after = await send(writer_app, "GET", "/readyz", query=b"verbose")
            alive = await send(writer_app, "GET", "/livez")
            return [before, after, alive]

    before, after, alive = asyncio.run(run())

    assert before.status == 200
    assert after.status == 503
    assert "[-]search failed: timed out after 1.0 s" in after.body.decode()
    assert alive.status == 200


def test_a_summary_job_runs_in_the_background(
    writer_app: FastAPI, logs: LogCapture
) -> None:
    hiccup.configure_logging(writer_app.state.hiccup_settings, stream=logs.stream)

    async def run() -> tuple[Any, Any, Any]:
        async with running(writer_app):
            draft = {"title": "Launch", "prompt": "A note"}
            await send(writer_app, "POST", "/api/drafts", draft)
            queued = await send(writer_app, "POST", "/api/jobs/summarise")
            job = queued.json()["job_id"]
            for _ in range(200):
                status = await send(writer_app, "GET", f"/api/jobs/{job}")
                if status.json()["status"] in ("done", "failed"):
                    break
                await asyncio.sleep(0.01)
            return queued, status, await send(writer_app, "GET", "/api/jobs/nope")

    queued, status, missing = asyncio.run(run())

    assert queued.status == 202
    assert status.json() == {"status": "done", "summary": "1 drafts: Launch."}
    assert missing.status == 404
    [done] = logs.events("job.done")
    # The job's line carries the ID of the request that queued it.
    assert done["request_id"] == queued.header("x-request-id")


def test_drafts_are_kept_in_postgresql_when_it_is_named(
    postgres: Any, tmp_path: Any
) -> None:
    from writer import create_app  # noqa: PLC0415 - importable once the path is set

    url = postgres.dsn.replace("postgresql://", "postgresql+asyncpg://")
    app = create_app(database_url=url, breaker_name="writer-large-postgres")

    saved, listed = scenario(
        app,
        ("POST", "/api/drafts", {"title": "Kept", "prompt": "In PostgreSQL"}),
        ("GET", "/api/drafts", None),
    )

    assert saved.status == 201
    assert listed.json()["drafts"][0]["title"] == "Kept"


def test_the_copy_page_lists_every_code_with_rendered_copy(writer_app: FastAPI) -> None:
    [sent] = scenario(writer_app, ("GET", "/copy", None))

    assert sent.status == 200
    assert sent.header("content-type") == "text/html; charset=utf-8"
    page = sent.body.decode()
    for name in CONTRACT.codes:
        assert f"<code>{name}</code>" in page
    assert "writer-large did not finish in time." in page
    assert "{model}" not in page


def test_a_raised_code_says_the_wait_its_response_asks_for(writer_app: FastAPI) -> None:
    [sent] = scenario(writer_app, ("GET", "/api/codes/RATE_LIMITED", None))

    assert sent.header("retry-after") == "5"
    assert sent.json()["params"] == {"seconds": 5}


def test_the_summary_queue_reports_its_jobs(metrics: Any, tmp_path: Any) -> None:
    from writer import create_app  # noqa: PLC0415 - importable once the path is set

    app = create_app(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'drafts.sqlite3'}",
        breaker_name="writer-large-queue",
    )

    async def run() -> None:
        async with running(app):
            queued = await send(app, "POST", "/api/jobs/summarise")
            job = queued.json()["job_id"]
            for _ in range(200):
                status = await send(app, "GET", f"/api/jobs/{job}")
                if status.json()["status"] == "done":
                    return
                await asyncio.sleep(0.01)

    asyncio.run(run())

    def sample(name: str, **labels: str) -> float | None:
        return metrics.registry.get_sample_value(name, {"queue": "summaries", **labels})

    assert sample("hiccup_queue_jobs_total", outcome="succeeded") == 1
    assert sample("hiccup_queue_jobs_total", outcome="failed") == 0
    assert sample("hiccup_queue_depth") == 0
