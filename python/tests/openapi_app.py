"""A small writer API behind hiccup, and a script printing its OpenAPI document.

    python python/tests/openapi_app.py OUT.json

The tests of the OpenAPI document import ``create_app``; ``nox -s openapi``
runs this file to generate TypeScript types from the document.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Literal

from fastapi import FastAPI
from pydantic import BaseModel, Field

import hiccup
from hiccup import Code, Problem

#: The codes ``GET /drafts/{draft_id}`` declares: two of them answer 503.
DRAFT_CODES = (
    Code.MODEL_TIMEOUT,
    Code.RATE_LIMITED,
    Code.MODEL_OVERLOADED,
    Code.MODEL_UNAVAILABLE,
)


class DraftRequest(BaseModel):
    prompt: str = Field(min_length=1, max_length=2000)
    tone: Literal["plain", "warm", "formal"] = "plain"


class Draft(BaseModel):
    id: str
    text: str


def create_app() -> FastAPI:
    """Return a new app with a body route, a path-param route and a bare one."""
    app = hiccup.install(FastAPI(title="writer", version="1.0.0"))

    @app.post("/drafts", status_code=201)
    async def create_draft(request: DraftRequest) -> Draft:
        return Draft(id="d1", text=f"({request.tone}) {request.prompt}")

    @app.get("/drafts/{draft_id}", responses=hiccup.problem_responses(*DRAFT_CODES))
    async def read_draft(draft_id: str) -> Draft:
        if draft_id == "slow":
            raise Problem(Code.MODEL_TIMEOUT, model="writer-large")
        return Draft(id=draft_id, text="Once upon a time")

    @app.get("/ping")
    async def ping() -> dict[str, str]:
        return {"status": "ok"}

    return app


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: openapi_app.py OUT.json", file=sys.stderr)
        return 2
    document = create_app().openapi()
    Path(argv[0]).write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")

    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
