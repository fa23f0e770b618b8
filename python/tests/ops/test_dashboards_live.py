"""Every dashboard query against a real Prometheus that scraped the demo.

The demo serves its pages' API under uvicorn while a bounded drive writes
drafts (healthy, then with a flaky and a dead large model), saves them,
runs a summary job, fails on purpose, and sends the records the page's
beacon reporter sends. Prometheus scrapes it every second and evaluates the
generated recording rules. Then each panel's queries run as Grafana runs
them, with its variables filled in: range queries over the drive, instant
ones over ``$__range``. Each must return data, and the per-route and
per-model panels must show every route and model the drive exercised.

The dashboards and rules are rendered with the short windows of the
alerting test, since a minute of data cannot fill a 3-day window.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from fast_rules import FAST, write_rules
from prometheus import Prometheus, prometheus_server
from servers import Server
from writer_support import demo_server

from hiccup.ops._dashboards import dashboards
from hiccup.ops._grafana import Dashboard, Panel, Query, dashboard_json

#: What Grafana makes of ``$__rate_interval`` for a 1 s scrape and step:
#: four scrape intervals.
RATE_INTERVAL = "4s"
#: The templated routes the drive calls.
ROUTES = {
    "/api/drafts/stream",
    "/api/drafts",
    "/api/dashboard",
    "/api/jobs/summarise",
    "/api/jobs/{job_id}",
    "/api/codes/{code}",
    "/api/reports",
}
MODELS = {"writer-large", "writer-small"}
#: The version the demo runs as.
RELEASE = "2026.12.4"
#: Panels that show each exercised route, or each model, whatever failed.
EVERY_ROUTE = {
    ("hiccup-overview", "Requests by route"),
    ("hiccup-overview", "5xx ratio by route"),
    ("hiccup-overview", "Latency by route"),
    ("hiccup-routes", "Requests by status"),
    ("hiccup-routes", "5xx ratio"),
    ("hiccup-routes", "4xx ratio"),
    ("hiccup-routes", "Latency"),
}
#: Panels whose series the drive cannot cause: they show their 0 line.
NEVER_HAPPENS = {("hiccup-resources", "Telemetry dropped")}
EVERY_MODEL = {
    ("hiccup-models", "Calls by model"),
    ("hiccup-models", "Error ratio"),
    ("hiccup-models", "Call duration"),
    ("hiccup-models", "Time to first chunk"),
    ("hiccup-models", "Tokens"),
}


@dataclass
class Drive:
    """What the drive did, and when."""

    start: float
    end: float
    exemplars_from: float


def _sampled() -> dict[str, str]:
    trace, span = secrets.token_hex(16), secrets.token_hex(8)
    return {"traceparent": f"00-{trace}-{span}-01"}


def _write(client: httpx.Client) -> int:
    """Stream one draft to its end, as the page reads it; return the status."""
    body = {"prompt": "a short note on the tides"}
    with client.stream(
        "POST", "/api/drafts/stream", json=body, headers=_sampled()
    ) as response:
        for _ in response.iter_bytes():
            pass
    return response.status_code


def _records() -> list[dict[str, Any]]:
    """One record of each kind the page's beacon reporter sends."""
    events = (
        ("http.client.failure", "MODEL_OVERLOADED"),
        ("http.client.retry", "MODEL_OVERLOADED"),
        ("ui.failure_modal.shown", "MODEL_OVERLOADED"),
        ("ui.failure_modal.recovered", "MODEL_OVERLOADED"),
    )
    return [
        {
            "timestamp": "2026-12-04T09:27:29.120Z",
            "level": "warning",
            "logger": "hiccup.sdk",
            "event": event,
            "service": "hiccup-demo-web",
            "http.request.method": "POST",
            "http.response.status_code": 503,
            "error.code": code,
        }
        for event, code in events
    ]


#: The drive's rounds: the faults switched on in each.
PHASES: tuple[dict[str, object], ...] = (
    *({},) * 3,
    *({"error_rate": 0.5},) * 2,
    *({"outage": True},) * 3,
    *({"outage": True, "fallbacks": False},) * 2,
    *({},) * 2,
)
#: A round lasts at least this long, so that every scrape sees some of each
#: kind of request: a series' increments before its first scrape do not
#: count in a rate.
ROUND_SECONDS = 1.2


def _drive(demo: Server) -> None:
    """Use every part of the demo, healthy and failing, in rounds: bounded
    in count and time."""
    with (
        httpx.Client(base_url=demo.url, timeout=30) as client,
        ThreadPoolExecutor(4) as pool,
    ):
        jobs = []
        for faults in PHASES:
            started = time.monotonic()
            client.post("/qa/faults/reset").raise_for_status()
            client.put("/qa/faults", json=faults).raise_for_status()
            written = list(pool.map(lambda _: _write(client), range(4)))
            if not faults:
                assert set(written) == {200}
            client.post("/api/drafts", json={"title": "Tides", "prompt": "tides"})
            client.get("/api/drafts", headers=_sampled())
            client.get("/api/dashboard")
            client.get("/api/codes/INTERNAL")
            client.get("/api/codes/NOT_FOUND")
            jobs.append(client.post("/api/jobs/summarise").json()["job_id"])
            reports = client.post("/api/reports", json=_records())
            assert reports.status_code < 300, reports.text
            time.sleep(max(0.0, ROUND_SECONDS - (time.monotonic() - started)))
        for job in jobs:
            client.get(f"/api/jobs/{job}").raise_for_status()
        client.post("/qa/faults/reset").raise_for_status()


@pytest.fixture(scope="module")
def scraped(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Prometheus, Drive]]:
    folder = tmp_path_factory.mktemp("dashboards")
    (folder / "prometheus").mkdir()
    with (
        demo_server(folder, HICCUP_VERSION=RELEASE) as demo,
        prometheus_server(
            [demo.url],
            folder / "prometheus",
            rule_files=[write_rules(folder)],
            extra_args=["--enable-feature=exemplar-storage"],
        ) as prometheus,
    ):
        prometheus.wait_for(
            "up", lambda result: bool(result) and result[0]["value"][1] == "1"
        )
        start = time.time()
        _drive(demo)
        # Two more scrapes and evaluations, so that the last requests count.
        time.sleep(2.5)
        yield prometheus, Drive(start - 5, time.time(), start)


def _filled(expr: str, drive: Drive) -> str:
    """Fill in Grafana's variables as it would for the drive's time range,
    with ``$job`` the test's job and every other variable on "All"."""
    seconds = int(drive.end - drive.start) + 1
    text = expr.replace("$__rate_interval", RATE_INTERVAL)
    text = text.replace("$__range", f"{seconds}s").replace("$job", FAST.job)
    return re.sub(r"\$[a-z_]+", ".*", text)


def _run(prometheus: Prometheus, query: Query, drive: Drive) -> list[dict[str, Any]]:
    expr = _filled(query.expr, drive)
    if query.instant:
        return prometheus.query(expr)
    return prometheus.query_range(expr, drive.start, drive.end)


def _cases() -> Iterator[Any]:
    for board in dashboards(FAST):
        for panel in board.panels():
            for index, query in enumerate(panel.queries):
                yield pytest.param(
                    board, panel, query, id=f"{board.uid}:{panel.title}:{index}"
                )


@pytest.mark.parametrize(("board", "panel", "query"), list(_cases()))
def test_every_panel_query_returns_data_for_what_the_demo_did(
    scraped: tuple[Prometheus, Drive], board: Dashboard, panel: Panel, query: Query
) -> None:
    prometheus, drive = scraped

    result = _run(prometheus, query, drive)

    assert result, f"no data for {_filled(query.expr, drive)}"
    # A query that reads a missing series as 0 has data of its own too.
    measured, _, zero = query.expr.partition("\nor\n")
    if zero and (board.uid, panel.title) not in NEVER_HAPPENS:
        own = replace(query, expr=measured)
        assert _run(prometheus, own, drive), f"only zeros for {measured}"
    if (board.uid, panel.title) in EVERY_ROUTE:
        routes = {series["metric"].get("http_route") for series in result}
        assert routes >= ROUTES, f"missing routes: {ROUTES - routes}"
    if (board.uid, panel.title) in EVERY_MODEL:
        models = {series["metric"].get("gen_ai_request_model") for series in result}
        assert models >= MODELS, f"missing models: {MODELS - models}"


def test_the_release_annotation_marks_the_version_the_demo_started_with(
    scraped: tuple[Prometheus, Drive],
) -> None:
    prometheus, drive = scraped
    [(name, expr)] = [a for b in dashboards(FAST) for a in b.annotations]

    marks = prometheus.query_range(_filled(expr, drive), drive.start, drive.end)

    assert name == "Releases"
    assert [series["metric"]["version"] for series in marks] == [RELEASE]


def test_every_variable_offers_what_the_demo_exercised(
    scraped: tuple[Prometheus, Drive],
) -> None:
    prometheus, drive = scraped
    offered: dict[str, set[str]] = {}

    for board in dashboards(FAST):
        for variable in dashboard_json(board, FAST)["templating"]["list"][1:]:
            label, match = _label_values(variable["definition"])
            values = prometheus.label_values(label, _filled(match, drive))
            offered.setdefault(variable["name"], set()).update(values)

    assert offered["job"] == {FAST.job}
    assert offered["route"] >= ROUTES
    assert offered["model"] >= MODELS
    assert offered["queue"] == {"summaries"}
    assert len(offered["instance"]) == 1


def _label_values(definition: str) -> tuple[str, str]:
    found = re.fullmatch(r"label_values\((.+), ([a-z_]+)\)", definition)
    assert found, definition
    return found.group(2), found.group(1)


def test_latency_panels_link_sampled_requests_to_their_traces(
    scraped: tuple[Prometheus, Drive],
) -> None:
    prometheus, drive = scraped
    with_exemplars = [
        (board.uid, panel.title, query)
        for board in dashboards(FAST)
        for panel in board.panels()
        for query in panel.queries
        if query.exemplar
    ]

    assert {(uid, title) for uid, title, _ in with_exemplars} == {
        ("hiccup-overview", "Latency by route"),
        ("hiccup-routes", "Latency"),
    }
    for _, _, query in with_exemplars:
        found = prometheus.exemplars(_filled(query.expr, drive), drive.exemplars_from)
        assert found, query.expr
        assert all(re.fullmatch(r"[0-9a-f]{32}", e["trace_id"]) for e in found)


def test_the_burn_rate_panels_read_the_recorded_ratios(
    scraped: tuple[Prometheus, Drive],
) -> None:
    """The failures the drive caused show as budget burning, in every window."""
    prometheus, drive = scraped
    [overview] = [b for b in dashboards(FAST) if b.uid == "hiccup-overview"]
    [panel] = [p for p in overview.panels() if p.title == "Error budget burn rate"]

    peaks = {
        query.legend: max(
            float(value)
            for series in _run(prometheus, query, drive)
            for _, value in series["values"]
        )
        for query in panel.queries
    }

    assert set(peaks) == set(FAST.windows)
    # One request in ten failing burns a 0.1% budget 100 times too fast.
    assert all(peak > 14.4 for peak in peaks.values()), peaks


def test_the_generated_dashboards_are_those_tested() -> None:
    """The committed files differ from these only in their thresholds."""
    root = Path(__file__).resolve().parents[3]
    committed = {
        json.loads(path.read_text())["uid"]
        for path in (root / "ops" / "grafana" / "dashboards").glob("*.json")
    }

    assert committed == {board.uid for board in dashboards(FAST)}
