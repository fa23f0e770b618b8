"""The Grafana files of ops/: dashboards that Grafana can lay out and that
read rates the right way, provisioning that links the data sources, and
the alerts as Grafana-managed rules, the same as Prometheus'."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from hiccup.ops import Thresholds
from hiccup.ops._dashboards import dashboards
from hiccup.ops._grafana import (
    FOLDER_UID,
    Dashboard,
    Panel,
    Query,
    Row,
    alerting_provisioning,
    dashboard_json,
    dashboards_provisioning,
    datasources_provisioning,
)
from hiccup.ops._rules import alerts, metric_names

ROOT = Path(__file__).resolve().parents[3]
GRAFANA = ROOT / "ops" / "grafana"
THRESHOLDS = Thresholds()
#: Counters and histogram series: only ever read through rate() or increase().
COUNTERS = (
    *(
        f"{name}{suffix}"
        for name in metric_names().values()
        for suffix in ("_total", "_count", "_bucket", "_sum")
    ),
    "process_cpu_seconds_total",
    "python_gc_collections_total",
)
UNITS = {
    "percentunit",
    "reqps",
    "ops",
    "s",
    "bytes",
    "short",
    "none",
    "suffix:×",
    "suffix: tokens/s",
}


def _models() -> list[dict[str, Any]]:
    return [dashboard_json(board, THRESHOLDS) for board in dashboards(THRESHOLDS)]


def _panels(model: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in model["panels"] if p["type"] != "row"]


def _grafana_expand(text: str, environment: dict[str, str]) -> str:
    """Expand ``$NAME``, ``${NAME}`` and ``$$`` as Grafana's provisioning does."""

    def one(found: re.Match[str]) -> str:
        if found.group(0) == "$$":
            return "$"
        return environment.get(found.group(1) or found.group(2), "")

    return re.sub(r"\$\$|\$\{([^}]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)", one, text)


def test_there_is_one_dashboard_of_each_kind_with_a_unique_uid() -> None:
    models = _models()

    assert [m["title"] for m in models] == [
        "hiccup / Overview",
        "hiccup / Routes",
        "hiccup / AI models",
        "hiccup / Queues",
        "hiccup / Resources",
        "hiccup / Business",
        "hiccup / Health",
        "hiccup / Frontend",
    ]
    uids = [m["uid"] for m in models]
    assert len(set(uids)) == len(uids)
    assert all(len(uid) <= 40 for uid in uids)


@pytest.mark.parametrize("model", _models(), ids=lambda m: m["uid"])
def test_panel_ids_are_unique_and_no_two_panels_overlap(model: dict[str, Any]) -> None:
    ids = [p["id"] for p in model["panels"]]
    cells: dict[tuple[int, int], int] = {}

    for panel in model["panels"]:
        box = panel["gridPos"]
        assert box["x"] >= 0
        assert box["x"] + box["w"] <= 24, panel["title"]
        for x, y in itertools.product(
            range(box["x"], box["x"] + box["w"]), range(box["y"], box["y"] + box["h"])
        ):
            assert (x, y) not in cells, (panel["title"], cells[(x, y)])
            cells[(x, y)] = panel["id"]

    assert len(set(ids)) == len(ids)


@pytest.mark.parametrize("model", _models(), ids=lambda m: m["uid"])
def test_every_query_reads_the_datasource_variable(model: dict[str, Any]) -> None:
    [source, job, *_] = model["templating"]["list"]

    assert (source["name"], source["type"], source["query"]) == (
        "datasource",
        "datasource",
        "prometheus",
    )
    assert (job["name"], job["current"]["value"]) == ("job", THRESHOLDS.job)
    for panel in _panels(model):
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == panel["datasource"]
            assert 'job=~"$job"' in target["expr"], target["expr"]


@pytest.mark.parametrize("model", _models(), ids=lambda m: m["uid"])
def test_every_panel_has_a_unit_a_title_and_a_description(
    model: dict[str, Any],
) -> None:
    for panel in _panels(model):
        assert panel["fieldConfig"]["defaults"]["unit"] in UNITS, panel["title"]
        assert panel["title"]
        assert panel["description"].endswith((".", "?", ")")), panel["title"]


def _windows(expr: str) -> list[str]:
    return re.findall(r"\[([^\]]+)\]", expr)


@pytest.mark.parametrize("model", _models(), ids=lambda m: m["uid"])
def test_rates_follow_the_time_picker_and_counters_are_only_rated(
    model: dict[str, Any],
) -> None:
    for panel in _panels(model):
        for target in panel["targets"]:
            expr = target["expr"]
            allowed = {"$__range", "30d"} if target["instant"] else {"$__rate_interval"}
            assert set(_windows(expr)) <= allowed, (panel["title"], expr)
            for name in COUNTERS:
                for found in re.finditer(rf"\b{name}\b", expr):
                    before = expr[: found.start()]
                    after = expr[found.end() :]
                    assert before.endswith(("rate(", "increase(")), (name, expr)
                    assert re.match(r"\{[^}]*\}\[", after), (name, expr)


def test_latency_panels_show_exemplars_and_nothing_else_does() -> None:
    with_exemplars = {
        (m["uid"], p["title"])
        for m in _models()
        for p in _panels(m)
        if any(t["exemplar"] for t in p["targets"])
    }

    assert with_exemplars == {
        ("hiccup-overview", "Latency by route"),
        ("hiccup-routes", "Latency"),
    }


def test_the_overview_answers_what_on_call_asks_first() -> None:
    [overview] = [m for m in _models() if m["uid"] == "hiccup-overview"]
    titles = [p["title"] for p in _panels(overview)]
    burn = next(p for p in _panels(overview) if p["title"] == "Error budget burn rate")

    assert titles[:4] == [
        "Availability",
        "Faster than 0.5 s",
        "Error budget left",
        "Latency budget left",
    ]
    assert {"Requests by route", "5xx ratio by route", "Latency by route"} <= set(
        titles
    )
    assert "Requests in flight" in titles
    # One line per window the burn alerts read, and a threshold where they page.
    assert [t["legendFormat"] for t in burn["targets"]] == list(THRESHOLDS.windows)
    steps = burn["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert [(s["value"], s["color"]) for s in steps] == [
        (None, "green"),
        (6.0, "orange"),
        (14.4, "red"),
    ]
    # Each window its own colour; the thresholds are dashed lines.
    assert burn["fieldConfig"]["defaults"]["color"] == {"mode": "palette-classic"}
    versions = next(p for p in _panels(overview) if p["title"] == "Running versions")
    assert versions["transformations"] == [
        {"id": "organize", "options": {"excludeByName": {"Time": True, "Value": True}}}
    ]
    latency = next(p for p in _panels(overview) if p["title"] == "Latency by route")
    assert [t["legendFormat"] for t in latency["targets"]] == [
        "p50 {{http_route}}",
        "p95 {{http_route}}",
        "p99 {{http_route}}",
    ]


def test_a_row_too_wide_for_the_grid_is_refused() -> None:
    wide = Panel("Too wide", "Wider than the grid.", (Query("up"),), "none", width=25)
    board = Dashboard("x", "x", "x", (Row("Row", (wide,)),))

    with pytest.raises(ValueError, match="'Too wide' is 25 wide"):
        dashboard_json(board, THRESHOLDS)


def test_panels_wrap_to_a_new_line_when_the_row_is_full() -> None:
    panels = tuple(
        Panel(f"P{n}", "A panel.", (Query("up"),), "none", width=10, height=3 + n)
        for n in range(3)
    )
    board = Dashboard("x", "x", "x", (Row("Row", panels),))

    placed = dashboard_json(board, THRESHOLDS)["panels"]

    assert [(p["gridPos"]["x"], p["gridPos"]["y"]) for p in placed] == [
        (0, 0),
        (0, 1),
        (10, 1),
        (0, 5),
    ]


def test_variables_offer_every_value_as_a_regular_expression() -> None:
    [routes] = [m for m in _models() if m["uid"] == "hiccup-routes"]
    route = routes["templating"]["list"][2]

    assert route["definition"] == (
        'label_values(http_server_request_duration_seconds_count{job=~"$job"},'
        " http_route)"
    )
    assert (route["multi"], route["includeAll"], route["allValue"]) == (
        True,
        True,
        ".*",
    )


def test_the_dashboard_files_are_the_generated_models() -> None:
    on_disk = {
        json.loads(path.read_text())["uid"]: json.loads(path.read_text())
        for path in (GRAFANA / "dashboards").glob("*.json")
    }

    assert on_disk == {m["uid"]: m for m in _models()}


def test_the_datasources_link_exemplars_traces_logs_and_metrics() -> None:
    sources = {s["uid"]: s for s in datasources_provisioning(THRESHOLDS)["datasources"]}

    assert set(sources) == {"prometheus", "tempo", "loki"}
    prometheus, tempo, loki = sources["prometheus"], sources["tempo"], sources["loki"]
    assert prometheus["jsonData"]["exemplarTraceIdDestinations"] == [
        {"name": "trace_id", "datasourceUid": "tempo"}
    ]
    assert tempo["jsonData"]["tracesToLogsV2"]["datasourceUid"] == "loki"
    assert tempo["jsonData"]["tracesToMetrics"]["datasourceUid"] == "prometheus"
    assert loki["jsonData"]["derivedFields"][0]["datasourceUid"] == "tempo"
    assert prometheus["isDefault"] is True


def test_grafana_expands_no_link_variable_of_the_datasources_away() -> None:
    """Grafana reads ``$NAME`` in provisioning files from its environment."""
    text = (GRAFANA / "provisioning" / "datasources" / "hiccup.yml").read_text()

    expanded = yaml.safe_load(_grafana_expand(text, {}))

    sources = {s["uid"]: s for s in expanded["datasources"]}
    logs = sources["tempo"]["jsonData"]["tracesToLogsV2"]["query"]
    assert logs == (
        '{service_name="${__span.tags["service.name"]}"}'
        ' | json | trace_id="${__trace.traceId}"'
    )
    metrics = sources["tempo"]["jsonData"]["tracesToMetrics"]["queries"][0]["query"]
    assert metrics == (
        "sum(rate(http_server_request_duration_seconds_count{$__tags}[5m]))"
    )
    link = sources["loki"]["jsonData"]["derivedFields"][0]["url"]
    assert link == "${__value.raw}"


def test_the_dashboards_load_into_hiccups_folder_from_their_mount() -> None:
    [provider] = dashboards_provisioning()["providers"]

    assert (provider["folderUid"], provider["type"]) == (FOLDER_UID, "file")
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards/hiccup"
    assert provider["allowUiUpdates"] is False


def test_every_alert_is_also_a_grafana_rule_with_the_same_meaning() -> None:
    provisioning = alerting_provisioning(THRESHOLDS)
    [group] = provisioning["groups"]
    rules = {rule["title"]: rule for rule in group["rules"]}

    assert group["folder"] == "Hiccup"
    assert list(rules) == [a.name for a in alerts(THRESHOLDS)]
    uids = [rule["uid"] for rule in group["rules"]]
    assert len(set(uids)) == len(uids)
    assert all(re.fullmatch(r"[a-z0-9-]{1,40}", uid) for uid in uids)
    for alert in alerts(THRESHOLDS):
        rule, prometheus = rules[alert.name], alert.rule(THRESHOLDS)
        query, condition = rule["data"]
        assert query["model"]["expr"] == alert.expr
        assert query["datasourceUid"] == "prometheus"
        assert (condition["refId"], rule["condition"]) == ("B", "B")
        assert condition["model"]["expression"] == "is_number($A) || is_inf($A)"
        assert rule["for"] == prometheus["for"]
        assert rule["labels"] == prometheus["labels"]
        assert rule["annotations"] == prometheus["annotations"]
        assert rule["noDataState"] == "OK"


def test_grafana_routes_each_severity_as_alertmanager_does() -> None:
    provisioning = alerting_provisioning(THRESHOLDS)
    points = {p["name"]: p["receivers"] for p in provisioning["contactPoints"]}
    [policy] = provisioning["policies"]

    routes = {r["object_matchers"][0][2]: r["receiver"] for r in policy["routes"]}
    assert routes == {
        "critical": "hiccup-critical",
        "warning": "hiccup-warning",
        "info": "hiccup-info",
    }
    assert policy["group_by"] == ["alertname", "service"]
    assert [r["type"] for r in points["hiccup-critical"]] == ["pagerduty", "slack"]
    pagerduty = points["hiccup-critical"][0]["settings"]
    assert pagerduty["integrationKey"] == "${PAGERDUTY_ROUTING_KEY}"
    assert pagerduty["severity"] == "{{ .CommonLabels.severity }}"
    slack = {
        name: [r["settings"]["recipient"] for r in receivers if r["type"] == "slack"]
        for name, receivers in points.items()
    }
    assert slack == {
        "hiccup-critical": ["#incidents"],
        "hiccup-warning": ["#alerts"],
        "hiccup-info": ["#alerts-info"],
    }
    assert all(
        r["disableResolveMessage"] is False
        for receivers in points.values()
        for r in receivers
        if r["type"] == "slack"
    )


def test_the_alerting_file_keeps_its_secrets_in_the_environment() -> None:
    """Grafana expands ``$NAME`` in contact points' settings and in labels,
    not in annotations or queries (whose ``$A`` and ``$labels`` are its own)."""
    provisioning = alerting_provisioning(THRESHOLDS)
    environment = {
        "PAGERDUTY_ROUTING_KEY": "k3y",
        "SLACK_WEBHOOK_URL": "https://hooks.example/x",
    }

    secrets = {
        receiver["uid"]: {
            key: _grafana_expand(value, environment)
            for key, value in receiver["settings"].items()
            if key in {"integrationKey", "url"}
        }
        for point in provisioning["contactPoints"]
        for receiver in point["receivers"]
    }

    assert secrets == {
        "hiccup-pagerduty": {"integrationKey": "k3y"},
        "hiccup-incidents": {"url": "https://hooks.example/x"},
        "hiccup-alerts": {"url": "https://hooks.example/x"},
        "hiccup-alerts-info": {"url": "https://hooks.example/x"},
    }
    [group] = provisioning["groups"]
    assert not any("$" in str(rule["labels"]) for rule in group["rules"])


def test_a_panel_of_an_unknown_kind_is_refused() -> None:
    odd = Panel("Pie", "A pie.", (Query("up"),), "none", kind="piechart")
    board = Dashboard("x", "x", "x", (Row("Row", (odd,)),))

    with pytest.raises(ValueError, match="'Pie' has an unknown kind 'piechart'"):
        dashboard_json(board, THRESHOLDS)
