"""The writer's routes: the pages, the API the page calls, and the QA switches."""

from __future__ import annotations

import asyncio
import math
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import orjson
from fastapi import Body, FastAPI
from fastapi.responses import FileResponse, HTMLResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import hiccup
from hiccup import Code, FieldError, Problem
from hiccup._codes import CONTRACT
from hiccup.health import Health, Result, Status, breakers_check, sqlalchemy_ping
from hiccup.resilience import (
    IdempotencyMiddleware,
    MemoryIdempotencyStore,
    gather_partial,
)

from .copy_page import copy_page
from .faults import WIDGETS, Faults, FaultsUpdate
from .jobs import Jobs
from .provider import LARGE, SimulatedProvider
from .store import Store
from .writing import Opened, Writer

__all__ = ["create_app"]

#: Where the page sends what the browser SDK records.
REPORTS_PATH = "/api/reports"
#: The writer's business events, by the features that emit them, and the
#: funnel from a prompt to a whole draft.
EVENTS = {
    "draft.written": ("stream",),
    "draft.saved": ("editor",),
    "summary.requested": ("jobs",),
}
FUNNEL = ("drafting", ("prompted", "first_word", "written"))

HERE = Path(__file__).resolve().parent
#: Where ``npm run build`` in demo-app/web puts the page and its bundles.
PAGES = HERE.parent / "web" / "dist"
DEFAULT_DATABASE = HERE.parent / ".data" / "drafts.sqlite3"
_NOT_BUILT = (
    "<!doctype html><title>hiccup demo</title><p>The page is not built yet: run"
    " <code>npm ci &amp;&amp; npm run build</code> in <code>demo-app/web</code>,"
    " or serve the demo with <code>nox -s demo</code>, which does.</p>"
)


class DraftIn(BaseModel):
    title: str = Field(min_length=1, max_length=80)
    prompt: str = Field(min_length=1, max_length=2000)
    tone: Literal["plain", "friendly", "formal"] = "plain"


class PromptIn(BaseModel):
    prompt: str = Field(min_length=1, max_length=4000)


def _database_url() -> str:
    url = os.environ.get("HICCUP_DATABASE_URL")
    if url:
        return url
    DEFAULT_DATABASE.parent.mkdir(exist_ok=True)
    return f"sqlite+aiosqlite:///{DEFAULT_DATABASE}"


def _sse(event: str, data: object) -> bytes:
    return b"event: " + event.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


class DropConnection:
    """Drops the connection halfway through every API answer while the
    switch is on: headers and a piece of the body go out, then nothing."""

    def __init__(self, app: ASGIApp, faults: Callable[[], Faults]) -> None:
        self.app = app
        self.faults = faults

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or not scope["path"].startswith("/api/")
            or not self.faults().drop_connection
        ):
            await self.app(scope, receive, send)
            return
        start: Message = {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", b"64"),
            ],
        }
        await send(start)
        await send(
            {"type": "http.response.body", "body": b'{"partial": ', "more_body": True}
        )
        # Raised after the response began, so the server closes the
        # connection instead of answering.
        raise ConnectionResetError("the demo dropped the connection on purpose")


def create_app(
    settings: hiccup.Settings | None = None,
    *,
    database_url: str | None = None,
    breaker_name: str = LARGE,
) -> FastAPI:
    """Build the writer.

    Args:
        settings: hiccup's settings; read from ``HICCUP_*`` variables when
            not given.
        database_url: where drafts are kept; ``HICCUP_DATABASE_URL``, else a
            SQLite file in ``demo-app/.data``.
        breaker_name: the large model's breaker, unique in the process (two
            writers in one process, as in tests, need two names).
    """
    settings = settings or hiccup.Settings(
        service_name="hiccup-demo", client_reports_path=REPORTS_PATH
    )
    hiccup.declare_events(EVENTS)
    hiccup.declare_funnel(*FUNNEL)
    state = {"faults": Faults()}

    def faults() -> Faults:
        return state["faults"]

    store = Store(database_url or _database_url())
    provider = SimulatedProvider(faults)
    writer = Writer(provider, faults, breaker_name)
    jobs = Jobs(store)
    health = _health(store, writer, faults)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await store.create()
        jobs.start()
        try:
            yield
        finally:
            await jobs.stop()
            await store.close()

    app = FastAPI(title="hiccup demo: an AI writer", lifespan=lifespan)
    app.state.faults = faults
    app.state.provider = provider
    app.state.writer = writer
    app.state.store = store
    # "Try again" on a failed save sends the same Idempotency-Key: a save
    # that did go through is answered again, not stored twice.
    app.add_middleware(
        IdempotencyMiddleware, store=MemoryIdempotencyStore(), paths=["/api/drafts"]
    )
    app.add_middleware(DropConnection, faults=faults)

    _pages(app)
    _writer_routes(app, settings, _Parts(faults, writer, store, jobs))
    _qa_routes(app, state, writer)

    return hiccup.install(app, settings, health=health)


def _health(store: Store, writer: Writer, faults: Callable[[], Faults]) -> Health:
    health = Health()
    health.add("db", sqlalchemy_ping(store.engine), measurement="responseTime")

    async def search_index() -> Result:
        # A dependency that answers readiness pings slowly when told to.
        if faults().slow_dependency:
            await asyncio.sleep(5)
        return Result(Status.PASS)

    health.add("search", search_index, timeout=1.0, interval=2.0)
    health.add("breakers", breakers_check(lambda: [writer.breaker]), critical=False)

    return health


def _pages(app: FastAPI) -> None:
    def page(name: str) -> Callable[[], Awaitable[Any]]:
        async def serve() -> Any:
            path = PAGES / name
            if not path.is_file():
                return HTMLResponse(_NOT_BUILT, status_code=503)
            return FileResponse(path)

        return serve

    app.add_api_route("/", page("index.html"), include_in_schema=False)
    app.add_api_route("/qa", page("qa.html"), include_in_schema=False)
    app.add_api_route("/copy", copy_page, response_class=HTMLResponse)
    PAGES.mkdir(parents=True, exist_ok=True)
    app.mount("/static", StaticFiles(directory=PAGES), name="static")


@dataclass(frozen=True)
class _Parts:
    """What the API's routes use."""

    faults: Callable[[], Faults]
    writer: Writer
    store: Store
    jobs: Jobs


def _writer_routes(app: FastAPI, settings: hiccup.Settings, parts: _Parts) -> None:
    faults, writer, store, jobs = parts.faults, parts.writer, parts.store, parts.jobs

    @app.get("/api/config")
    async def config() -> dict[str, object]:
        """What the page needs to know before its first call."""
        return {
            "locale_default": "en",
            "sentry_dsn": settings.sentry_dsn,
            "release": settings.version,
            "environment": settings.environment,
            "reports_path": settings.client_reports_path,
        }

    @app.post("/api/drafts/stream")
    async def stream_draft(draft: PromptIn) -> StreamingResponse:
        """Write a draft, word by word, as server-sent events."""
        _check_quota(faults())
        hiccup.funnel_step("drafting", "prompted")
        opened = await writer.open(draft.prompt)
        hiccup.funnel_step("drafting", "first_word")
        return StreamingResponse(
            _draft_events(opened, draft.prompt, store), media_type="text/event-stream"
        )

    @app.post("/api/drafts", status_code=201)
    async def save_draft(draft: DraftIn) -> dict[str, object]:
        """Keep a draft the user wrote."""
        _check_quota(faults())
        saved = await store.add(title=draft.title, prompt=draft.prompt, tone=draft.tone)
        hiccup.track("draft.saved", feature="editor")
        return saved

    @app.get("/api/drafts")
    async def list_drafts() -> dict[str, object]:
        return {"drafts": await store.latest()}

    @app.get("/api/dashboard")
    async def dashboard() -> dict[str, object]:
        """Four widgets, each from a source of its own that may fail alone."""
        sources = _widgets(faults, writer, store)
        partial = await gather_partial(sources, deadline=2.0)
        return partial.as_dict()

    @app.post("/api/jobs/summarise", status_code=202)
    async def summarise() -> dict[str, str]:
        hiccup.track("summary.requested", feature="jobs")
        return {"job_id": jobs.enqueue().id}

    @app.get("/api/jobs/{job_id}")
    async def job_status(job_id: str) -> dict[str, object]:
        job = jobs.jobs.get(job_id)
        if job is None:
            raise Problem(Code.NOT_FOUND)
        return {"status": job.status, "summary": job.summary}

    @app.get("/api/codes/{code}")
    async def raise_code(code: str) -> None:
        """Fail with any code of the contract, for QA."""
        raise _problem_for(code)


def _check_quota(faults: Faults) -> None:
    if faults.rate_limited:
        seconds = faults.retry_after_s
        raise Problem(Code.RATE_LIMITED, retry_after_ms=seconds * 1000, seconds=seconds)


async def _draft_events(
    opened: Opened, prompt: str, store: Store
) -> AsyncIterator[bytes]:
    words = [opened.first]
    yield _sse("token", {"text": opened.first})
    async for word in opened.rest:
        words.append(word)
        yield _sse("token", {"text": f" {word}"})
    body = " ".join(words)
    title = " ".join(prompt.split()[:6]) or "Draft"
    saved = await store.add(
        title=title[:80], prompt=prompt, tone="plain", body=body, model=opened.model
    )
    hiccup.track("draft.written", feature="stream")
    hiccup.funnel_step("drafting", "written")
    yield _sse(
        "done",
        {"draft_id": saved["id"], "model": opened.model, "degraded": opened.degraded},
    )


def _widgets(
    faults: Callable[[], Faults], writer: Writer, store: Store
) -> dict[str, Callable[[], Awaitable[object]]]:
    async def usage() -> object:
        return await store.totals()

    async def drafts() -> object:
        latest = await store.latest(limit=3)
        return {"latest": [draft["title"] for draft in latest]}

    async def models() -> object:
        return {"breaker": writer.breaker.state.value, **writer.provider.calls}

    async def tips() -> object:
        return {"tip": "Short prompts with one clear goal give the best drafts."}

    sources = {"usage": usage, "drafts": drafts, "models": models, "tips": tips}
    failing = faults().failing_widget

    def failed(name: str) -> Callable[[], Awaitable[object]]:
        async def source() -> object:
            raise Problem(Code.DEPENDENCY_UNAVAILABLE, detail=f"{name} is switched off")

        return source

    return {
        name: failed(name) if name == failing else sources[name] for name in WIDGETS
    }


def _problem_for(code: str) -> Problem:
    spec = CONTRACT.codes.get(code)
    if spec is None or spec.client:
        return Problem(Code.NOT_FOUND, detail=f"no server code named {code!r}")
    examples = {name: param.example for name, param in spec.params.items()}
    if "seconds" in examples and spec.retry.after_ms is not None:
        # The words say the wait the response asks for, not another one.
        examples["seconds"] = math.ceil(spec.retry.after_ms / 1000)
    if spec.field:
        error = FieldError(code, pointer="/prompt", **examples)
        return Problem(Code.VALIDATION_FAILED, errors=[error])
    # The envelope takes the wait a code asks for from the contract.
    return Problem(code, **examples)


def _qa_routes(app: FastAPI, state: dict[str, Faults], writer: Writer) -> None:
    @app.get("/qa/faults")
    async def read_faults() -> dict[str, object]:
        return {"faults": state["faults"].model_dump()}

    @app.put("/qa/faults")
    async def change_faults(
        change: Annotated[FaultsUpdate, Body()],
    ) -> dict[str, object]:
        """Flip the switches the body names; leave the others as they are."""
        given = change.model_dump(exclude_unset=True)
        state["faults"] = state["faults"].model_copy(update=given)
        hiccup.get_logger("writer.qa").info("qa.faults_changed", **given)
        return {"faults": state["faults"].model_dump()}

    @app.post("/qa/faults/reset")
    async def reset_faults() -> dict[str, object]:
        """Switch every fault off, and close the large model's breaker, so
        that the next test or session starts from a healthy writer."""
        state["faults"] = Faults()
        writer.breaker.reset()
        hiccup.get_logger("writer.qa").info("qa.faults_reset")
        return {"faults": state["faults"].model_dump()}
