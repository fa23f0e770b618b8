"""The app the Sentry tests run under uvicorn; it reports to ``SENTRY_DSN``."""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import FastAPI
from fastapi.responses import StreamingResponse

import hiccup
from hiccup._sentry import configure_sentry

SETTINGS = hiccup.Settings(
    service_name="writer-api", version="1.4.2", environment="test"
)


def create() -> FastAPI:
    """Build the app; uvicorn calls this with ``--factory``."""
    app = FastAPI()

    @app.get("/ok")
    async def ok() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("boom")

    @app.get("/stream")
    async def stream() -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            yield b"first part,"
            raise RuntimeError("stream broke")

        return StreamingResponse(chunks(), media_type="text/plain")

    # Long enough for every event to leave when the server stops.
    reporter = configure_sentry(SETTINGS, shutdown_timeout=30)
    hiccup.install(app, SETTINGS, sentry=reporter)

    return app
