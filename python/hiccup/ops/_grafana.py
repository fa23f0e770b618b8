"""Grafana's side of ops/: the JSON model of a dashboard, and provisioning.

A dashboard is written as rows of panels, each a title, a unit and its
PromQL; ``dashboard_json`` lays the panels out on Grafana's 24-column grid
(left to right, a new line when a panel would not fit), numbers them, and
points every query at the dashboard's data source variable, so that one
file works with whichever Prometheus a Grafana has.

The provisioning files are Grafana's own formats: data sources (Prometheus,
with exemplars linking to Tempo; Tempo, linking traces to logs in Loki and
to request metrics in Prometheus; Loki, linking log lines back to traces),
a provider that loads the dashboards into one folder, and the alerts of
``rules.yml`` as Grafana-managed alert rules with contact points and a
notification policy that route them as Alertmanager's configuration does.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from ._alertmanager import CHANNELS, GROUP_BY
from ._rules import Alert, alerts, metric_names
from ._thresholds import Thresholds

__all__ = [
    "FOLDER_TITLE",
    "FOLDER_UID",
    "Dashboard",
    "Panel",
    "Query",
    "Row",
    "Variable",
    "alerting_provisioning",
    "dashboard_json",
    "dashboards_provisioning",
    "datasources_provisioning",
    "error_ratio",
    "share",
]

#: The folder the dashboards and the Grafana-managed alert rules live in.
FOLDER_UID = "hiccup"
FOLDER_TITLE = "Hiccup"
#: The data sources' UIDs, which every link between them names.
PROMETHEUS_UID = "prometheus"
TEMPO_UID = "tempo"
LOKI_UID = "loki"
#: Where the provisioned dashboards' files are mounted in Grafana's container.
DASHBOARDS_PATH = "/var/lib/grafana/dashboards/hiccup"
#: Grafana 11's dashboard schema.
SCHEMA_VERSION = 39
#: The columns of Grafana's grid.
GRID_WIDTH = 24

_DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}


@dataclass(frozen=True, slots=True)
class Query:
    """One PromQL query of a panel.

    Attributes:
        expr: the query, with Grafana's variables (``$job``,
            ``$__rate_interval``, ``$__range``).
        legend: the series' name, such as ``{{http_route}}``.
        instant: one value now rather than a range over the time picked.
        exemplar: show the exemplars of the histogram it reads, each a
            link to its trace.
        format: ``time_series``, ``table`` or ``heatmap``.
    """

    expr: str
    legend: str = ""
    instant: bool = False
    exemplar: bool = False
    format: str = "time_series"


@dataclass(frozen=True, slots=True)
class Panel:
    """One panel: what it shows, in which unit, and how.

    Attributes:
        kind: Grafana's panel type: ``timeseries``, ``stat``, ``bargauge``,
            ``state-timeline``, ``table`` or ``heatmap``.
        steps: threshold colours, as ``(from, colour)`` with ``None`` for
            the first step.
        mappings: values shown as text, as ``(value, text, colour)``.
        stacked: stack the series (for parts of a whole).
        hidden: columns a table does not show, besides the time.
    """

    title: str
    description: str
    queries: tuple[Query, ...]
    unit: str
    kind: str = "timeseries"
    width: int = 12
    height: int = 8
    steps: tuple[tuple[float | None, str], ...] = ()
    mappings: tuple[tuple[str, str, str], ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    stacked: bool = False
    hidden: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Row:
    """A titled row of panels."""

    title: str
    panels: tuple[Panel, ...]


@dataclass(frozen=True, slots=True)
class Variable:
    """A dashboard variable whose values are a label's, as Prometheus has them.

    Attributes:
        name: the variable, as queries name it (``$route``).
        label: the label whose values it offers.
        metric: the series, with its selector, whose label values count.
        every: offer "All" and allow several values; queries match them
            with ``=~``.
    """

    name: str
    title: str
    label: str
    metric: str
    every: bool = True


@dataclass(frozen=True, slots=True)
class Dashboard:
    """A dashboard: its identity, variables beyond ``$datasource`` and
    ``$job``, and rows."""

    uid: str
    title: str
    description: str
    rows: tuple[Row, ...]
    variables: tuple[Variable, ...] = ()
    annotations: tuple[tuple[str, str], ...] = ()

    def panels(self) -> Iterator[Panel]:
        for row in self.rows:
            yield from row.panels


def _target(query: Query, ref: str) -> dict[str, Any]:
    return {
        "refId": ref,
        "datasource": _DATASOURCE,
        "editorMode": "code",
        "expr": query.expr,
        "legendFormat": query.legend or "__auto",
        "range": not query.instant,
        "instant": query.instant,
        "exemplar": query.exemplar,
        "format": query.format,
    }


def _field_config(panel: Panel) -> dict[str, Any]:
    steps = panel.steps or ((None, "green"),)
    defaults: dict[str, Any] = {
        "unit": panel.unit,
        # One colour per series in a chart, whose thresholds are lines;
        # a single value takes the colour of the step it is in.
        "color": {
            "mode": "thresholds"
            if panel.steps and panel.kind in {"stat", "bargauge"}
            else "palette-classic"
        },
        "thresholds": {
            "mode": "absolute",
            "steps": [{"color": colour, "value": value} for value, colour in steps],
        },
        "mappings": [
            {
                "type": "value",
                "options": {
                    value: {"text": text, "color": colour, "index": index}
                    for index, (value, text, colour) in enumerate(panel.mappings)
                },
            }
        ]
        if panel.mappings
        else [],
    }
    if panel.minimum is not None:
        defaults["min"] = panel.minimum
    if panel.maximum is not None:
        defaults["max"] = panel.maximum
    if panel.kind == "timeseries":
        defaults["custom"] = {
            "drawStyle": "line",
            "lineWidth": 1,
            "fillOpacity": 20 if panel.stacked else 10,
            "showPoints": "never",
            "spanNulls": False,
            "stacking": {"mode": "normal" if panel.stacked else "none"},
            "thresholdsStyle": {"mode": "dashed" if panel.steps else "off"},
        }

    return {"defaults": defaults, "overrides": []}


def _options(panel: Panel) -> dict[str, Any]:
    last = {"calcs": ["lastNotNull"], "fields": "", "values": False}
    legend = {"showLegend": True, "displayMode": "list", "placement": "bottom"}
    by_kind: dict[str, dict[str, Any]] = {
        "timeseries": {
            "legend": {**legend, "displayMode": "table", "calcs": ["mean", "max"]},
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
        "stat": {
            "reduceOptions": last,
            "colorMode": "value",
            "graphMode": "none",
            "justifyMode": "auto",
            "textMode": "auto",
            "orientation": "auto",
        },
        "bargauge": {
            "reduceOptions": last,
            "displayMode": "gradient",
            "orientation": "horizontal",
            "showUnfilled": True,
        },
        "state-timeline": {
            "legend": legend,
            "mergeValues": True,
            "showValue": "never",
            "alignValue": "left",
            "rowHeight": 0.9,
            "tooltip": {"mode": "single", "sort": "none"},
        },
        "table": {"showHeader": True, "footer": {"show": False}},
        "heatmap": {
            "calculate": False,
            "cellGap": 1,
            "color": {"mode": "scheme", "scheme": "Oranges", "steps": 64},
            "yAxis": {"unit": panel.unit},
            "tooltip": {"mode": "single", "yHistogram": True},
            "legend": {"show": True},
        },
    }
    if panel.kind not in by_kind:
        raise ValueError(f"panel {panel.title!r} has an unknown kind {panel.kind!r}")

    return by_kind[panel.kind]


def _panel_json(panel: Panel, number: int, x: int, y: int) -> dict[str, Any]:
    refs = "ABCDEFGHIJ"
    extra: dict[str, Any] = {}
    if panel.kind == "table":
        # An instant query's rows all have the same time.
        hide = dict.fromkeys(("Time", *panel.hidden), True)
        extra["transformations"] = [
            {"id": "organize", "options": {"excludeByName": hide}}
        ]
    return {
        "id": number,
        "type": panel.kind,
        "title": panel.title,
        "description": panel.description,
        "datasource": _DATASOURCE,
        "gridPos": {"x": x, "y": y, "w": panel.width, "h": panel.height},
        "fieldConfig": _field_config(panel),
        "options": _options(panel),
        "targets": [_target(q, refs[i]) for i, q in enumerate(panel.queries)],
        **extra,
    }


def _layout(rows: Sequence[Row]) -> list[dict[str, Any]]:
    """Place each row's panels left to right, wrapping at the grid's width."""
    placed: list[dict[str, Any]] = []
    number, y = 0, 0
    for row in rows:
        number += 1
        placed.append(
            {
                "id": number,
                "type": "row",
                "title": row.title,
                "collapsed": False,
                "gridPos": {"x": 0, "y": y, "w": GRID_WIDTH, "h": 1},
                "panels": [],
            }
        )
        y += 1
        x, tallest = 0, 0
        for panel in row.panels:
            if not 0 < panel.width <= GRID_WIDTH:
                raise ValueError(f"panel {panel.title!r} is {panel.width} wide")
            if x + panel.width > GRID_WIDTH:
                x, y, tallest = 0, y + tallest, 0
            number += 1
            placed.append(_panel_json(panel, number, x, y))
            x += panel.width
            tallest = max(tallest, panel.height)
        y += tallest

    return placed


def _variables(board: Dashboard, thresholds: Thresholds) -> list[dict[str, Any]]:
    source = {
        "name": "datasource",
        "label": "Data source",
        "type": "datasource",
        "query": "prometheus",
        "current": {},
        "hide": 0,
        "refresh": 1,
        "regex": "",
        "options": [],
    }
    job = Variable("job", "Job", "job", "hiccup_build_info", every=False)
    return [
        source,
        _variable(job, thresholds.job),
        *(_variable(v, None) for v in board.variables),
    ]


def _variable(variable: Variable, default: str | None) -> dict[str, Any]:
    definition = f"label_values({variable.metric}, {variable.label})"
    chosen = default if default is not None else "$__all"
    shown = default if default is not None else "All"
    answer: dict[str, Any] = {
        "name": variable.name,
        "label": variable.title,
        "type": "query",
        "datasource": _DATASOURCE,
        "definition": definition,
        "query": definition,
        "refresh": 2,
        "sort": 1,
        "hide": 0,
        "multi": variable.every,
        "includeAll": variable.every,
        "current": {"text": shown, "value": chosen},
        "options": [],
        "regex": "",
    }
    if variable.every:
        # "All" as a regular expression, not a list of every value, which
        # can outgrow a URL when a label has many.
        answer["allValue"] = ".*"

    return answer


def _annotations(board: Dashboard) -> dict[str, Any]:
    builtin = {
        "builtIn": 1,
        "datasource": {"type": "grafana", "uid": "-- Grafana --"},
        "enable": True,
        "hide": True,
        "iconColor": "rgba(0, 211, 255, 1)",
        "name": "Annotations & Alerts",
        "type": "dashboard",
    }
    own = [
        {
            "name": name,
            "datasource": _DATASOURCE,
            "enable": True,
            "iconColor": "purple",
            "expr": expr,
            "step": "60s",
            "titleFormat": name,
            "textFormat": "{{version}}",
        }
        for name, expr in board.annotations
    ]

    return {"list": [builtin, *own]}


def dashboard_json(board: Dashboard, thresholds: Thresholds) -> dict[str, Any]:
    """Return the dashboard as Grafana's JSON model, ready to provision."""
    return {
        "uid": board.uid,
        "title": board.title,
        "description": board.description,
        "tags": ["hiccup"],
        "editable": False,
        "graphTooltip": 1,
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "time": {"from": "now-6h", "to": "now"},
        "refresh": "30s",
        "timezone": "",
        "links": [
            {
                "title": "hiccup",
                "type": "dashboards",
                "tags": ["hiccup"],
                "asDropdown": True,
                "includeVars": True,
                "keepTime": True,
                "icon": "external link",
                "targetBlank": False,
                "tooltip": "",
                "url": "",
            }
        ],
        "annotations": _annotations(board),
        "templating": {"list": _variables(board, thresholds)},
        "panels": _layout(board.rows),
    }


def datasources_provisioning(thresholds: Thresholds) -> dict[str, Any]:
    """Return Grafana's data source provisioning file.

    The addresses are the in-cluster services' usual ones; an edited copy,
    or environment variables (``$PROMETHEUS_URL`` in a copy), point
    elsewhere. Grafana expands ``$NAME`` in these files from its
    environment, so the ``$`` of its own link variables is written ``$$``.
    """
    duration = "http_server_request_duration_seconds"
    return {
        "apiVersion": 1,
        "datasources": [
            {
                "name": "Prometheus",
                "type": "prometheus",
                "uid": PROMETHEUS_UID,
                "access": "proxy",
                "url": "http://prometheus:9090",
                "isDefault": True,
                "editable": False,
                "jsonData": {
                    "httpMethod": "POST",
                    "prometheusType": "Prometheus",
                    "timeInterval": "15s",
                    # Each duration bucket's exemplar carries the trace ID.
                    "exemplarTraceIdDestinations": [
                        {"name": "trace_id", "datasourceUid": TEMPO_UID}
                    ],
                },
            },
            {
                "name": "Tempo",
                "type": "tempo",
                "uid": TEMPO_UID,
                "access": "proxy",
                "url": "http://tempo:3200",
                "editable": False,
                "jsonData": {
                    "tracesToLogsV2": {
                        "datasourceUid": LOKI_UID,
                        "spanStartTimeShift": "-5m",
                        "spanEndTimeShift": "5m",
                        "filterByTraceID": True,
                        "filterBySpanID": False,
                        "customQuery": True,
                        # Every log line of a request carries its trace ID.
                        "query": _escaped(
                            '{service_name="${__span.tags["service.name"]}"}'
                            ' | json | trace_id="${__trace.traceId}"'
                        ),
                    },
                    "tracesToMetrics": {
                        "datasourceUid": PROMETHEUS_UID,
                        "spanStartTimeShift": "-5m",
                        "spanEndTimeShift": "5m",
                        "tags": [{"key": "service.name", "value": "job"}],
                        "queries": [
                            {
                                "name": "Requests",
                                "query": _escaped(
                                    f"sum(rate({duration}_count{{$__tags}}[5m]))"
                                ),
                            },
                            {
                                "name": "5xx ratio",
                                "query": _escaped(error_ratio("", "$__tags", "5m")),
                            },
                        ],
                    },
                    "serviceMap": {"datasourceUid": PROMETHEUS_UID},
                    "nodeGraph": {"enabled": True},
                    "search": {"hide": False},
                },
            },
            {
                "name": "Loki",
                "type": "loki",
                "uid": LOKI_UID,
                "access": "proxy",
                "url": "http://loki:3100",
                "editable": False,
                "jsonData": {
                    "derivedFields": [
                        {
                            "name": "trace_id",
                            "matcherType": "label",
                            "matcherRegex": "trace_id",
                            "datasourceUid": TEMPO_UID,
                            "url": _escaped("${__value.raw}"),
                            "urlDisplayLabel": "Trace",
                        }
                    ]
                },
            },
        ],
    }


def _escaped(text: str) -> str:
    """Keep ``$`` from Grafana's expansion of environment variables."""
    return text.replace("$", "$$")


def share(numerator: str, denominator: str) -> str:
    """Return one rate over another: 0, not nothing, where the numerator has
    no series yet (no request has failed)."""
    return f"(\n  {numerator}\n/\n  {denominator}\n)\nor\n{denominator} * 0"


def error_ratio(by: str, selector: str, window: str, status: str = "5..") -> str:
    """Return the share of requests answered with ``status`` (a regular
    expression), by the ``by`` labels."""
    duration = f"{metric_names()['http_duration']}_count"
    grouping = f"sum by ({by})" if by else "sum"
    failed = f'{selector},http_response_status_code=~"{status}"'.lstrip(",")
    return share(
        f"{grouping} (rate({duration}{{{failed}}}[{window}]))",
        f"{grouping} (rate({duration}{{{selector}}}[{window}]))",
    )


def dashboards_provisioning() -> dict[str, Any]:
    """Return the provider that loads the dashboards into hiccup's folder."""
    return {
        "apiVersion": 1,
        "providers": [
            {
                "name": "hiccup",
                "orgId": 1,
                "type": "file",
                "folder": FOLDER_TITLE,
                "folderUid": FOLDER_UID,
                "disableDeletion": True,
                # Changes come from `hiccup ops gen`; one saved in the UI
                # would be lost at the next provisioning anyway.
                "allowUiUpdates": False,
                "updateIntervalSeconds": 60,
                "options": {
                    "path": DASHBOARDS_PATH,
                    "foldersFromFilesStructure": False,
                },
            }
        ],
    }


def _alert_rule(alert: Alert, thresholds: Thresholds) -> dict[str, Any]:
    rule = alert.rule(thresholds)
    return {
        "uid": f"hiccup-{_kebab(alert.name.removeprefix('Hiccup'))}"[:40],
        "title": alert.name,
        "condition": "B",
        "data": [
            {
                "refId": "A",
                "relativeTimeRange": {"from": 600, "to": 0},
                "datasourceUid": PROMETHEUS_UID,
                "model": {
                    "refId": "A",
                    "expr": alert.expr,
                    "instant": True,
                    "range": False,
                    "editorMode": "code",
                },
            },
            {
                # The query returns a series only while its condition holds,
                # whatever its value (``up == 0`` returns 0): each series is
                # an alert, as in Prometheus.
                "refId": "B",
                "datasourceUid": "__expr__",
                "model": {
                    "refId": "B",
                    "type": "math",
                    # A ratio over no calls is +Inf, and over its threshold.
                    "expression": "is_number($A) || is_inf($A)",
                },
            },
        ],
        "noDataState": "OK",
        "execErrState": "Error",
        "for": alert.for_,
        "labels": rule["labels"],
        # Grafana expands its templates as Prometheus does, and reads no
        # environment variable in annotations.
        "annotations": rule["annotations"],
        "isPaused": False,
    }


def _kebab(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()


def alerting_provisioning(thresholds: Thresholds) -> dict[str, Any]:
    """Return the alerts as Grafana-managed rules, with their routing.

    The contact points read the PagerDuty routing key and the Slack webhook
    from Grafana's environment (``$PAGERDUTY_ROUTING_KEY``,
    ``$SLACK_WEBHOOK_URL``), never from this file. Grafana's notification
    policies have no inhibition: a critical alert does not hold back the
    warnings of its service there, as it does in Alertmanager.
    """
    return {
        "apiVersion": 1,
        "groups": [
            {
                "orgId": 1,
                "name": "hiccup",
                "folder": FOLDER_TITLE,
                "interval": "1m",
                "rules": [_alert_rule(a, thresholds) for a in alerts(thresholds)],
            }
        ],
        "contactPoints": [
            {
                "orgId": 1,
                "name": f"hiccup-{severity}",
                "receivers": [
                    *([_PAGERDUTY] if severity == "critical" else []),
                    _slack_receiver(channel),
                ],
            }
            for severity, channel in CHANNELS.items()
        ],
        "policies": [
            {
                "orgId": 1,
                "receiver": "hiccup-warning",
                "group_by": list(GROUP_BY),
                "routes": [
                    {
                        "receiver": f"hiccup-{severity}",
                        "object_matchers": [["severity", "=", severity]],
                        "group_by": list(GROUP_BY),
                    }
                    for severity in CHANNELS
                ],
            }
        ],
    }


_PAGERDUTY = {
    "uid": "hiccup-pagerduty",
    "type": "pagerduty",
    "settings": {
        "integrationKey": "${PAGERDUTY_ROUTING_KEY}",
        "severity": "{{ .CommonLabels.severity }}",
        "class": "{{ .CommonLabels.alertname }}",
        "component": "{{ .CommonLabels.service }}",
    },
}


def _slack_receiver(channel: str) -> dict[str, Any]:
    return {
        "uid": f"hiccup-{channel.removeprefix('#')}",
        "type": "slack",
        "settings": {"url": "${SLACK_WEBHOOK_URL}", "recipient": channel},
        "disableResolveMessage": False,
    }
