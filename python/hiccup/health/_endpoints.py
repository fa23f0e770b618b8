"""The probe endpoints: ``/livez``, ``/readyz``, ``/startupz`` and a path per check.

Machines read the status code: 200 while the probe passes or warns, 503
when it fails. People add ``?verbose`` for one line per check, and anyone
may leave checks out with ``?exclude=name``, repeated. JSON bodies follow
the health check draft (draft-inadarei-api-health-check), served as
``application/health+json`` to a caller that asks for it. Only a caller
with the settings' bearer token, or one on loopback, sees outputs and
observed values; anyone else gets the status alone.

Every answer reads the checks' cached results: a probe never waits for a
dependency, however many arrive at once.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Iterable, Mapping
from typing import Final

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from .._probes import LIVE_PATH, READY_PATH, STARTUP_PATH
from .._settings import Settings
from ._checks import Check, Group, Health, Report, Result, Status

__all__ = ["PROBE_PATH_BY_GROUP", "HealthEndpoints"]

#: The path of each probe.
PROBE_PATH_BY_GROUP: Final[Mapping[Group, str]] = {
    Group.LIVE: LIVE_PATH,
    Group.READY: READY_PATH,
    Group.STARTUP: STARTUP_PATH,
}

_HEALTH_JSON: Final = "application/health+json"
_JSON: Final = "application/json"
_TEXT: Final = "text/plain; charset=utf-8"
_HEADERS: Final = {"Cache-Control": "no-store"}
_FORWARDED: Final = ("forwarded", "x-forwarded-for")
# Values of ?verbose that mean no, as in ?verbose=false.
_NO: Final = frozenset({"0", "false", "no", "off"})
_WORDS: Final[Mapping[Status, str]] = {
    Status.PASS: "ok",
    Status.WARN: "warn",
    Status.FAIL: "failed",
}


class _Route:
    """What the probe's ``scope["route"]`` says: its template, for metrics."""

    __slots__ = ("path",)

    def __init__(self, path: str) -> None:
        self.path = path


_PATHS: Final = {path: group for group, path in PROBE_PATH_BY_GROUP.items()}
_ROUTES: Final = {
    group: (_Route(path), _Route(f"{path}/{{name}}"))
    for group, path in PROBE_PATH_BY_GROUP.items()
}


class HealthEndpoints:
    """The ASGI app of the probes of one ``Health`` registry.

    ``HiccupMiddleware`` hands it the requests whose path is a probe's
    before the app sees them, so that an app's own middleware (such as
    authentication) never stands between the orchestrator and its probes.
    A path under a probe names one of its checks: ``/readyz/db``.
    """

    def __init__(self, health: Health, settings: Settings) -> None:
        self.health = health
        self.settings = settings
        token = settings.health_token
        self._token = None if token is None else token.get_secret_value().encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        probe, slash, name = scope["path"].partition("/")[2].partition("/")
        group = _PATHS.get(f"/{probe}")
        if group is None or "/" in name or (slash and not name):
            raise HTTPException(404)
        checked = name or None
        if checked is not None and not _in_group(self.health, checked, group):
            raise HTTPException(404)
        scope["route"] = _ROUTES[group][checked is not None]
        if scope["method"] not in ("GET", "HEAD"):
            raise HTTPException(405, headers={"Allow": "GET, HEAD"})
        response = self.answer(Request(scope), group, checked)
        if scope["method"] == "HEAD":
            # The headers of the GET, its Content-Length included.
            start = {"status": response.status_code, "headers": response.raw_headers}
            await send({"type": "http.response.start", **start})
            await send({"type": "http.response.body", "body": b""})
            return
        await response(scope, receive, send)

    def authorized(self, request: Request) -> bool:
        """Whether the caller may see the checks' outputs and values."""
        if self._token is not None:
            scheme, _, credentials = request.headers.get("authorization", "").partition(
                " "
            )
            if scheme.lower() == "bearer" and hmac.compare_digest(
                credentials.strip().encode(), self._token
            ):
                return True
        if not self.settings.health_details_on_loopback:
            return False
        if any(name in request.headers for name in _FORWARDED):
            return False

        return _is_loopback(request.client.host if request.client else None)

    def answer(
        self, request: Request, group: Group, name: str | None = None
    ) -> Response:
        """Return the response to a probe, or to one of its checks."""
        exclude = request.query_params.getlist("exclude")
        report = self.health.report(group, exclude, only=name)
        status_code = 503 if report.status is Status.FAIL else 200
        detailed = self.authorized(request)
        path = request.url.path
        verbose = request.query_params.get("verbose")
        if verbose is not None and verbose.lower() not in _NO:
            left_out = [
                n for n in dict.fromkeys(exclude) if _in_group(self.health, n, group)
            ]
            text = verbose_text(report, path, left_out, detailed=detailed)
            return Response(text, status_code, headers=_HEADERS, media_type=_TEXT)
        accept = request.headers.get("accept", "")
        wanted = _HEALTH_JSON if _HEALTH_JSON in accept else _JSON
        body = health_json(report, self.settings, detailed=detailed)

        return Response(body, status_code, headers=_HEADERS, media_type=wanted)


def _in_group(health: Health, name: str, group: Group) -> bool:
    return any(check.name == name for check in health.checks(group))


def _is_loopback(host: str | None) -> bool:
    if host is None:
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _timestamp(result: Result) -> str:
    return result.time.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _entry(check: Check, result: Result) -> dict[str, object]:
    entry: dict[str, object] = {"status": result.status.value}
    if (check.component or check.name) != check.name:
        entry["componentId"] = check.name
    if result.observed_value is not None:
        entry["observedValue"] = result.observed_value
    if result.observed_unit is not None:
        entry["observedUnit"] = result.observed_unit
    entry["time"] = _timestamp(result)
    if result.output is not None and result.status is not Status.PASS:
        entry["output"] = result.output

    return entry


def health_json(report: Report, settings: Settings, *, detailed: bool) -> bytes:
    """Return a report as a health+json body; the status alone unless
    ``detailed``."""
    if not detailed:
        return orjson.dumps({"status": report.status.value})
    body: dict[str, object] = {
        "status": report.status.value,
        "serviceId": settings.service_name,
        "releaseId": settings.version,
    }
    if report.output is not None:
        body["output"] = report.output
    checks: dict[str, list[dict[str, object]]] = {}
    for check, result in report.checks:
        checks.setdefault(check.key, []).append(_entry(check, result))
    body["checks"] = checks

    return orjson.dumps(body)


def verbose_text(
    report: Report, path: str, exclude: Iterable[str], *, detailed: bool
) -> str:
    """Return a report as lines for people: one per check and one per check
    left out when ``detailed``, then the verdict."""
    lines = []
    if detailed:
        for check, result in report.checks:
            sign = "-" if result.status is Status.FAIL else "+"
            line = f"[{sign}]{check.name} {_WORDS[result.status]}"
            if result.output is not None and result.status is not Status.PASS:
                line = f"{line}: {result.output}"
            lines.append(line)
        lines.extend(f"[+]{name} excluded" for name in exclude)
    verdict = "failed" if report.status is Status.FAIL else "passed"
    reason = f": {report.output}" if detailed and report.output == "draining" else ""
    lines.append(f"{path.lstrip('/')} check {verdict}{reason}")

    return "\n".join(lines) + "\n"
