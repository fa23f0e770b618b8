"""Calls to the operations APIs that ``hiccup ops`` applies to (Sentry's,
Grafana's), and what applying changed."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .._exceptions import HiccupError

__all__ = ["ApiError", "Change", "Send", "call_json"]

#: Makes one API call, ``(method, path, body)``, and returns the parsed answer.
Send = Callable[[str, str, object | None], Any]


@dataclass(frozen=True, slots=True)
class Change:
    """What applying did, or would do, to one thing: ``action`` is
    ``create``, ``update``, ``keep`` or ``disable``."""

    action: str
    what: str


class ApiError(HiccupError, RuntimeError):
    """Raised when an API answers a call with an error status."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def call_json(
    method: str,
    url: str,
    body: object | None,
    token: str,
    error: type[ApiError] = ApiError,
) -> Any:
    """Send ``body`` as JSON with a bearer token; return the parsed answer.

    Raises:
        ApiError: (or ``error``) the API answered with an error status; the
            message names the call, the status and the start of the answer.
    """
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url,
        data=data,
        method=method,
        headers={
            "Authorization": f"Bearer {token}",
            "Accept": "application/json",
            "Content-Type": "application/json",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        detail = exc.read()[:300].decode(errors="replace")
        raise error(f"{method} {url}: {exc.code} {detail}", exc.code) from exc
