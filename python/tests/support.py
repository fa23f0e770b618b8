"""Helpers for the tests: an in-process ASGI driver, log capture, schema checks."""

from __future__ import annotations

import asyncio
import importlib.util
import io
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

from hiccup._schemas import load_schema


@dataclass
class Sent:
    """What an ASGI app sent for one request."""

    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes
    messages: list[dict[str, Any]] = field(default_factory=list)

    def header(self, name: str) -> str | None:
        wanted = name.lower().encode()
        values = [v.decode("latin-1") for n, v in self.headers if n == wanted]
        return values[0] if values else None

    def header_values(self, name: str) -> list[str]:
        wanted = name.lower().encode()
        return [v.decode("latin-1") for n, v in self.headers if n == wanted]

    def json(self) -> Any:
        return json.loads(self.body)


def http_scope(
    method: str = "GET",
    path: str = "/",
    headers: Sequence[tuple[bytes, bytes]] = (),
    query: bytes = b"",
) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query,
        "headers": [(b"host", b"testserver"), *headers],
        "server": ("testserver", 80),
        "client": ("127.0.0.1", 50000),
    }


async def call(
    app: Any,
    method: str = "GET",
    path: str = "/",
    *,
    headers: Sequence[tuple[bytes, bytes]] = (),
    body: bytes | Sequence[bytes] = b"",
    query: bytes = b"",
    stay: bool = False,
) -> Sent:
    """Call an ASGI app in process and collect what it sent.

    The client leaves once the body is sent, unless it is told to ``stay``:
    then a streamed response runs to its end.
    """
    chunks = [body] if isinstance(body, bytes) else list(body)
    messages: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if chunks:
            chunk = chunks.pop(0)
            return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}
        if stay:
            await asyncio.Event().wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    await app(http_scope(method, path, headers, query), receive, send)
    start = next(m for m in messages if m["type"] == "http.response.start")
    payload = b"".join(
        m.get("body", b"") for m in messages if m["type"] == "http.response.body"
    )

    return Sent(start["status"], list(start.get("headers", [])), payload, messages)


class LogCapture:
    """The lines hiccup wrote, parsed, with helpers to find them."""

    def __init__(self) -> None:
        self.stream = io.BytesIO()

    @property
    def lines(self) -> list[dict[str, Any]]:
        raw = self.stream.getvalue().decode().splitlines()
        return [json.loads(line) for line in raw if line.strip()]

    def events(self, event: str) -> list[dict[str, Any]]:
        return [line for line in self.lines if line.get("event") == event]

    def clear(self) -> None:
        self.stream.seek(0)
        self.stream.truncate()


def _validator(name: str) -> Draft202012Validator:
    return Draft202012Validator(load_schema(name), format_checker=FormatChecker())


def assert_valid(name: str, instance: object) -> None:
    """Fail with every schema error of an instance."""
    errors = sorted(_validator(name).iter_errors(instance), key=str)
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors]


def load_module(name: str, path: Path) -> ModuleType:
    """Import a file that is not on the path (a demo or sample app) as ``name``."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)

    return module
