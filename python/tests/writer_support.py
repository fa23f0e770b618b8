"""Helpers for the demo app's tests: the app's import path, in-process
calls that wait for whole streams, and a parser of server-sent events."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import orjson
from fastapi import FastAPI
from servers import Server, uvicorn_server
from support import Sent, call

DEMO = Path(__file__).resolve().parents[2] / "demo-app"
JSON = (b"content-type", b"application/json")


@contextmanager
def demo_server(folder: Path, **env: str) -> Iterator[Server]:
    """Serve the demo as ``app:app`` under uvicorn, with its drafts and its
    JSON log lines in ``folder``; ``env`` adds or overrides variables."""
    defaults = {
        "HICCUP_DATABASE_URL": f"sqlite+aiosqlite:///{folder / 'drafts.sqlite3'}",
        "HICCUP_LOG_FORMAT": "json",
        "HICCUP_SERVICE_NAME": "hiccup-demo",
    }
    with uvicorn_server(
        "app:app",
        folder / "server.jsonl",
        env={**defaults, **env},
        app_dir=DEMO,
        factory=False,
    ) as server:
        yield server


def import_path() -> None:
    """Make the demo's ``writer`` package importable, as uvicorn's
    ``--app-dir demo-app`` does."""
    if str(DEMO) not in sys.path:
        sys.path.insert(0, str(DEMO))


@asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[FastAPI]:
    """Run the app's lifespan, as a server does."""
    async with app.router.lifespan_context(app):
        yield app


async def send(
    app: FastAPI,
    method: str,
    path: str,
    body: object = None,
    *,
    headers: tuple[tuple[bytes, bytes], ...] = (),
    query: bytes = b"",
) -> Sent:
    """Call the app in process and wait for the whole response, a stream too.

    The request body is JSON when given. The client never goes away, so a
    streamed response runs to its end.
    """
    payload = b"" if body is None else orjson.dumps(body)
    sent_headers = (*headers, JSON) if body is not None else headers
    return await call(
        app, method, path, headers=sent_headers, body=payload, query=query, stay=True
    )


def events(sent: Sent) -> list[tuple[str, Any]]:
    """Parse a server-sent event stream into (event, data) pairs."""
    parsed = []
    for block in sent.body.decode().split("\n\n"):
        if not block.strip():
            continue
        fields = dict(line.split(": ", 1) for line in block.splitlines())
        parsed.append((fields["event"], orjson.loads(fields["data"])))
    return parsed
