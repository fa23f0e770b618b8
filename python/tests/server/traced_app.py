"""The app the tracing tests serve: routes that log, fail, call another server
and queue work for a worker task.

``TRACED_DOWNSTREAM`` is the URL ``/call`` fetches with httpx.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

import httpx
from fastapi import FastAPI
from opentelemetry import trace

import hiccup
from hiccup._jobs import continue_trace, inject_trace

SETTINGS = hiccup.Settings(
    service_name="traced-api",
    version="2.3.4",
    environment="staging",
    untraced_paths=("/healthz", "/tracing/dropped"),
)


def create() -> FastAPI:
    """Build the app; uvicorn calls this with ``--factory``, gunicorn as
    ``traced_app:create()``."""
    jobs: asyncio.Queue[dict[str, object]] = asyncio.Queue()
    log = hiccup.get_logger("traced")

    async def work() -> None:
        while True:
            job = await jobs.get()
            with continue_trace(job, "job.run"):
                log.info("job.ran", n=job["n"])

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        worker = asyncio.create_task(work())
        yield
        worker.cancel()
        with suppress(asyncio.CancelledError):
            await worker

    app = FastAPI(lifespan=lifespan)

    @app.get("/hello")
    async def hello() -> dict[str, int]:
        trace.get_current_span().set_attribute("test.pid", os.getpid())
        log.info("hello.said")
        logging.getLogger("traced.library").warning("a library line")
        return {"pid": os.getpid()}

    @app.get("/boom")
    async def boom() -> None:
        log.info("boom.soon")
        raise RuntimeError("boom")

    @app.get("/call")
    async def call() -> dict[str, int]:
        async with httpx.AsyncClient() as client:
            response = await client.get(os.environ["TRACED_DOWNSTREAM"])
        return {"status": response.status_code}

    @app.post("/jobs")
    async def queue_job() -> dict[str, bool]:
        await jobs.put(inject_trace({"n": 1}))
        return {"queued": True}

    @app.get("/tracing/dropped")
    async def dropped() -> dict[str, int]:
        return {"dropped": tracing.dropped}

    hiccup.install(app, SETTINGS)
    tracing = app.state.hiccup_tracing

    return app
