"""The middleware's observers: what they see of each request, and when."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from fastapi import FastAPI
from support import LogCapture, call

import hiccup
from hiccup._middleware import Exchange, HiccupMiddleware, Observer


class Recorder:
    """An observer that writes down every call it gets."""

    def __init__(self, name: str, calls: list[tuple[Any, ...]]) -> None:
        self.name = name
        self.calls = calls

    def started(self, exchange: Exchange) -> object:
        self.calls.append((self.name, "started", exchange.method, exchange.status))
        return f"{self.name}-state"

    def finished(
        self, exchange: Exchange, state: object, duration: float, route: str | None
    ) -> None:
        self.calls.append(
            (self.name, "finished", state, exchange.status, exchange.error_code, route)
        )
        assert duration > 0


class Broken:
    """An observer that fails at both ends."""

    def started(self, exchange: Exchange) -> object:
        raise RuntimeError("observer down")

    def finished(
        self, exchange: Exchange, state: object, duration: float, route: str | None
    ) -> None:
        raise RuntimeError("observer down")


def served(*observers: Observer) -> HiccupMiddleware:
    app = FastAPI()

    @app.get("/drafts/{draft_id}")
    async def draft(draft_id: str) -> dict[str, str]:
        return {"id": draft_id}

    @app.get("/broken")
    async def broken() -> None:
        raise RuntimeError("boom")

    hiccup.install(app, hiccup.Settings(service_name="tests"))

    return HiccupMiddleware(app.build_middleware_stack().app, observers=observers)


def test_observers_see_start_then_end_in_reverse_order(logs: LogCapture) -> None:
    calls: list[tuple[Any, ...]] = []
    app = served(Recorder("outer", calls), Recorder("inner", calls))

    sent = asyncio.run(call(app, "GET", "/drafts/7"))

    assert sent.status == 200
    assert calls == [
        ("outer", "started", "GET", 0),
        ("inner", "started", "GET", 0),
        ("inner", "finished", "inner-state", 200, None, "/drafts/{draft_id}"),
        ("outer", "finished", "outer-state", 200, None, "/drafts/{draft_id}"),
    ]


@pytest.mark.parametrize(
    ("path", "status", "code", "route"),
    [
        ("/broken", 500, "INTERNAL", "/broken"),
        ("/nowhere", 404, "NOT_FOUND", None),
    ],
    ids=["exception", "unmatched"],
)
def test_observers_see_the_failure_and_its_route(
    logs: LogCapture, path: str, status: int, code: str, route: str | None
) -> None:
    calls: list[tuple[Any, ...]] = []
    app = served(Recorder("only", calls))

    asyncio.run(call(app, "GET", path))

    assert calls[-1] == ("only", "finished", "only-state", status, code, route)


def test_a_broken_observer_breaks_no_response(
    logs: LogCapture, capsys: pytest.CaptureFixture[str]
) -> None:
    calls: list[tuple[Any, ...]] = []
    app = served(Broken(), Recorder("after", calls))

    sent = asyncio.run(call(app, "GET", "/drafts/7"))

    assert sent.status == 200
    assert [entry[:2] for entry in calls] == [
        ("after", "started"),
        ("after", "finished"),
    ]
    assert capsys.readouterr().err.count("observer down") == 2
