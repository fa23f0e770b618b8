"""What the browser tests do to the demo and read from it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from playwright.sync_api import Locator, Page, Request
from servers import Server

from hiccup._codes import CONTRACT
from hiccup._icu import parse, render

PROMPT = "a launch note for the new search"
#: Opens a tab on the writer, as the ``open_tab`` fixture gives it:
#: ``open_tab(server=None, *, locale="en-US", clock=False)``.
OpenTab = Callable[..., Page]


def set_faults(demo: Server, **switches: object) -> None:
    """Flip the demo's switches, as the QA panel does."""
    httpx.put(f"{demo.url}/qa/faults", json=switches).raise_for_status()


def reset_faults(demo: Server) -> None:
    """Switch every fault off."""
    httpx.post(f"{demo.url}/qa/faults/reset").raise_for_status()


@dataclass
class Traffic:
    """The page's requests to one path, in the order it sent them."""

    path: str
    method: str
    requests: list[Request] = field(default_factory=list)

    def watch(self, page: Page) -> Traffic:
        page.on("request", self._request)
        return self

    def _matches(self, request: Request) -> bool:
        return request.method == self.method and request.url.endswith(self.path)

    def _request(self, request: Request) -> None:
        if self._matches(request):
            self.requests.append(request)


def copy_of(
    code: str, locale: str, params: dict[str, Any] | None = None
) -> dict[str, str]:
    """Return the contract's words for a code, as a user reads them."""
    spec = CONTRACT.codes[code]
    texts = dict(spec.copy[locale].texts())
    return {
        name: render(parse(texts[name]), params or {}, locale)
        for name in ("title", "message")
    }


def dialog(page: Page) -> Locator:
    return page.get_by_role("alertdialog")


def write(page: Page, prompt: str = PROMPT) -> None:
    page.get_by_test_id("prompt").fill(prompt)
    page.get_by_test_id("write").click()


def access_lines(
    demo: Server, *, count: int = 1, **fields: object
) -> list[dict[str, Any]]:
    """Return the server's access lines with these fields, once there are at
    least ``count`` of them.

    The server writes a request's line once its response is over, which may
    be just after the browser has it: the lines are waited for.
    """

    def matching(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [
            line
            for line in lines
            if line.get("event") == "http.request"
            and all(line.get(name) == value for name, value in fields.items())
        ]

    return matching(demo.wait_for(lambda lines: len(matching(lines)) >= count))
