"""An app with health checks, run under uvicorn by the probe tests.

``HICCUP_TEST_DEPENDENCY`` is the URL of the dependency its readiness
check asks, and ``HICCUP_TEST_CHECK_INTERVAL`` how often it asks.
"""

from __future__ import annotations

import asyncio
import os

from fastapi import FastAPI

import hiccup
from hiccup.health import Health, http_dependency


def create() -> FastAPI:
    """Build the app; uvicorn calls this with ``--factory``."""
    health = Health()
    health.add(
        "upstream",
        http_dependency(os.environ["HICCUP_TEST_DEPENDENCY"]),
        interval=float(os.environ.get("HICCUP_TEST_CHECK_INTERVAL", "30")),
        measurement="responseTime",
    )
    app = FastAPI()

    @app.get("/drafts")
    async def drafts() -> dict[str, str]:
        return {"draft": "ready"}

    @app.get("/slow")
    async def slow(seconds: float) -> dict[str, float]:
        await asyncio.sleep(seconds)
        return {"slept": seconds}

    return hiccup.install(app, hiccup.Settings(service_name="probed"), health=health)
