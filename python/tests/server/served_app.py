"""The app the server-backed tests run under uvicorn."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import StreamingResponse

import hiccup
from hiccup import Code, Problem, context

ORIGIN = "https://writer.example"


def create() -> FastAPI:
    """Build the app; uvicorn calls this with ``--factory``."""
    app = FastAPI()
    app.add_middleware(CORSMiddleware, allow_origins=[ORIGIN], allow_methods=["*"])
    log = hiccup.get_logger("served")

    @app.get("/echo/{n}")
    async def echo(n: int) -> dict[str, object]:
        context.bind(n=n)
        await asyncio.sleep(random.random() / 100)
        log.info("echo.handled")
        await asyncio.sleep(random.random() / 100)
        return {"n": n, "request_id": context.request_id()}

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("boom")

    @app.get("/stream")
    async def stream() -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            yield b"first part,"
            await asyncio.sleep(0.01)
            raise RuntimeError("stream broke")

        return StreamingResponse(chunks(), media_type="text/plain")

    @app.get("/events")
    async def events() -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            yield b"data: one\n\n"
            await asyncio.sleep(0.01)
            raise Problem(Code.MODEL_OVERLOADED)

        return StreamingResponse(chunks(), media_type="text/event-stream")

    @app.get("/slow")
    async def slow() -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(200):
                yield b"x" * 1024
                await asyncio.sleep(0.01)

        return StreamingResponse(chunks(), media_type="text/plain")

    return hiccup.install(app, hiccup.Settings(service_name="served"))
