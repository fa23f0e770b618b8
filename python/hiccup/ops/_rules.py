"""The Prometheus recording and alert rules, and the promtool tests of each.

Every alert says how long its condition must hold (``for``), how bad it is
(``severity``: critical pages, warning opens a ticket, info is for the
record), what happened (``summary``, ``description``) and where the runbook
is. Its test gives series that make the condition true (a rate from the
first minute, which needs two samples; a gauge at once), and checks that the
alert is silent a minute before its ``for`` has passed and firing, with its
exact labels and annotations, once it has.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from .._metrics import HTTP_DURATION_BUCKETS, MODEL_DURATION_BUCKETS, Metrics
from ._thresholds import Thresholds, seconds_of

__all__ = [
    "Alert",
    "Scenario",
    "alerts",
    "metric_names",
    "recording_rules",
    "rule_tests",
]

#: How an annotation names the job the alert is about.
JOB = "{{ $labels.job }}"

#: Minutes of samples in each test series: past the slowest alert's firing.
_MINUTES = 400


@functools.cache
def metric_names() -> Mapping[str, str]:
    """Return the name of every metric the package emits, by attribute.

    Read once: it makes a set of metrics on a registry of its own.
    """
    metrics = Metrics()
    names = {}
    for attribute, value in vars(metrics).items():
        describe = getattr(value, "describe", None)
        if callable(describe):
            names[attribute] = describe()[0].name
    return MappingProxyType(names)


@dataclass(frozen=True, slots=True)
class Scenario:
    """Series that make an alert's condition hold.

    Attributes:
        series: promtool input series, as ``(series, values)``.
        labels: the labels the alert fires with, besides ``severity`` and
            ``service``.
        true_from: the minute from which the condition holds: 1 for a rate,
            which needs two samples, 0 for a gauge.
    """

    series: tuple[tuple[str, str], ...]
    labels: Mapping[str, str] = field(default_factory=dict)
    true_from: int = 1


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert rule and the scenario that fires it."""

    name: str
    expr: str
    for_: str
    severity: str
    summary: str
    description: str
    runbook: str
    scenario: Scenario

    def rule(self, thresholds: Thresholds) -> dict[str, Any]:
        return {
            "alert": self.name,
            "expr": self.expr,
            "for": self.for_,
            "labels": {"severity": self.severity, "service": thresholds.service},
            "annotations": {
                "summary": self.summary,
                "description": self.description,
                "runbook_url": f"{thresholds.runbooks_url}#{self.name.lower()}",
            },
        }


def _ratio(numerator: str, denominator: str) -> str:
    return f"{numerator}\n/\n{denominator}"


def recording_rules(thresholds: Thresholds) -> list[dict[str, str]]:
    """Return the ratios the burn-rate alerts read, over every window."""
    names = metric_names()
    duration = names["http_duration"]
    job = f'job="{thresholds.job}"'
    bound = _bound(thresholds.latency_seconds, HTTP_DURATION_BUCKETS)
    rules = []
    for window in thresholds.windows:
        requests = f"sum by (job) (rate({duration}_count{{{job}}}[{window}]))"
        errors = (
            f"sum by (job) (rate({duration}_count{{{job},"
            f'http_response_status_code=~"5.."}}[{window}]))'
        )
        fast = f'sum by (job) (rate({duration}_bucket{{{job},le="{bound}"}}[{window}]))'
        rules += [
            {"record": f"hiccup:requests:rate{window}", "expr": requests},
            {
                "record": f"hiccup:errors:ratio_rate{window}",
                "expr": _ratio(errors, requests),
            },
            {
                "record": f"hiccup:slow:ratio_rate{window}",
                "expr": f"1 - (\n{_ratio(fast, requests)}\n)",
            },
        ]
    return rules


def _bound(seconds: float, buckets: tuple[float, ...]) -> str:
    if seconds not in buckets:
        raise ValueError(
            f"latency_seconds must be a bucket bound of the duration histogram"
            f" ({', '.join(map(str, buckets))}), not {seconds!r}"
        )
    return str(seconds)


def _selector(name: str, labels: Mapping[str, str]) -> str:
    inside = ",".join(f'{key}="{value}"' for key, value in labels.items())
    return f"{name}{{{inside}}}"


def _counter(
    name: str, labels: Mapping[str, str], per_minute: float
) -> tuple[str, str]:
    return (_selector(name, labels), f"0+{per_minute:g}x{_MINUTES}")


def _gauge(
    name: str,
    labels: Mapping[str, str],
    values: str,
    fires_with: Mapping[str, str],
    *,
    true_from: int = 0,
) -> Scenario:
    """Return the scenario of one gauge series holding ``values`` (promtool's
    notation, repeated for the whole test) and the labels it fires with."""
    return Scenario(
        ((_selector(name, labels), f"{values}x{_MINUTES}"),),
        fires_with,
        true_from=true_from,
    )


def _burn_alerts(thresholds: Thresholds) -> Iterator[Alert]:
    # Requests a minute in the tests: enough that one minute's worth passes
    # the low-traffic guard over the longest window, so that every burn
    # alert's condition holds from the first minute with two samples.
    longest = max(seconds_of(pair.long) for pair in thresholds.burn_windows)
    traffic = math.ceil(2 * thresholds.min_request_rate * longest)
    names = metric_names()
    duration = names["http_duration"]
    job = {"job": thresholds.job}
    speeds = {"1h": "Fast", "6h": "Steady", "3d": "Slow"}
    for pair in thresholds.burn_windows:
        speed = speeds.get(pair.long, pair.long)
        for slo, kind, target in (
            ("errors", "Error", thresholds.availability),
            ("slow", "Latency", thresholds.latency),
        ):
            budget = 1 - target
            guard = thresholds.min_request_rate
            limit = round(pair.factor * budget, 10)
            expr = (
                f"(\n  hiccup:{slo}:ratio_rate{pair.long} > {limit:g}\n"
                f"  and\n  hiccup:{slo}:ratio_rate{pair.short} > {limit:g}\n)\n"
                f"and\nhiccup:requests:rate{pair.long} > {guard:g}"
            )
            if slo == "errors":
                # 2% of requests fail: 20 times the 0.1% budget.
                failing = {**job, "http_response_status_code": "500"}
                passing = {**job, "http_response_status_code": "200"}
                series = (
                    _counter(f"{duration}_count", passing, traffic * 0.98),
                    _counter(f"{duration}_count", failing, traffic * 0.02),
                )
                what = "fail with a 5xx"
            else:
                # 20% of requests are slow: 20 times the 1% budget.
                bound = _bound(thresholds.latency_seconds, HTTP_DURATION_BUCKETS)
                series = (
                    _counter(f"{duration}_bucket", {**job, "le": bound}, traffic * 0.8),
                    _counter(f"{duration}_count", job, traffic),
                )
                what = f"take longer than {thresholds.latency_seconds:g} s"
            yield Alert(
                name=f"Hiccup{kind}BudgetBurn{speed}",
                expr=expr,
                for_=pair.for_,
                severity=pair.severity,
                summary=f"{kind} budget burning {pair.factor:g}x too fast on {JOB}",
                description=(
                    f"Over the last {pair.long} and {pair.short}, more than"
                    f" {limit * 100:g}% of requests to {{{{ $labels.job }}}} {what}:"
                    f" at this pace the {target * 100:g}% objective's budget"
                    " for 30 days"
                    f" is spent in {30 / pair.factor:.3g} days."
                ),
                runbook=f"{kind} budget burning",
                scenario=Scenario(series, job),
            )


def alerts(thresholds: Thresholds) -> list[Alert]:
    """Return every alert, in the order of the runbook."""
    names = metric_names()
    job = f'job="{thresholds.job}"'
    labels = {"job": thresholds.job}
    model = names["model_duration"]
    model_labels = {**labels, "gen_ai_request_model": "writer-large"}
    by_model = "sum by (job, gen_ai_request_model)"
    by_model_le = "sum by (job, gen_ai_request_model, le)"
    failed = 'error_type!=""'
    breaker = names["breaker_state"]
    depth = names["queue_depth"]
    health = names["health_status"]
    # Every call in the bucket above twice the threshold: the p95 is well over.
    slow = next(
        b for b in MODEL_DURATION_BUCKETS if b > 2 * thresholds.model_p95_seconds
    )
    model_bounds = [str(slow)]
    return [
        *_burn_alerts(thresholds),
        Alert(
            name="HiccupModelErrors",
            expr=_ratio(
                f"{by_model} (rate({model}_count{{{job},{failed}}}[5m]))",
                f"{by_model} (rate({model}_count{{{job}}}[5m]))",
            )
            + f"\n> {thresholds.model_error_ratio:g}",
            for_="10m",
            severity="warning",
            summary="Calls to {{ $labels.gen_ai_request_model }} are failing",
            description=(
                f"More than {thresholds.model_error_ratio * 100:g}% of the calls"
                " {{ $labels.job }} makes to {{ $labels.gen_ai_request_model }}"
                " failed over the last 5 minutes."
            ),
            runbook="A model failing",
            scenario=Scenario(
                (
                    _counter(f"{model}_count", {**model_labels, "error_type": ""}, 8),
                    _counter(
                        f"{model}_count",
                        {**model_labels, "error_type": "MODEL_UNAVAILABLE"},
                        2,
                    ),
                ),
                model_labels,
            ),
        ),
        Alert(
            name="HiccupModelSlow",
            expr=(
                "histogram_quantile(0.95,\n"
                f"  {by_model_le} (rate({model}_bucket{{{job}}}[5m]))\n"
                f") > {thresholds.model_p95_seconds:g}"
            ),
            for_="10m",
            severity="warning",
            summary="{{ $labels.gen_ai_request_model }} is slow",
            description=(
                "The 95th percentile of {{ $labels.gen_ai_request_model }}'s calls"
                f" from {JOB} has been above {thresholds.model_p95_seconds:g} s"
                " for 10 minutes."
            ),
            runbook="A model slow",
            scenario=Scenario(
                (
                    _counter(f"{model}_bucket", {**model_labels, "le": "+Inf"}, 10),
                    *(
                        _counter(f"{model}_bucket", {**model_labels, "le": bound}, 10)
                        for bound in model_bounds
                    ),
                ),
                model_labels,
            ),
        ),
        Alert(
            name="HiccupFallbacksFrequent",
            expr=_ratio(
                f"sum by (job) (rate({names['fallbacks']}_total{{{job}}}[5m]))",
                f"sum by (job) (rate({model}_count{{{job}}}[5m]))",
            )
            + f"\n> {thresholds.fallback_ratio:g}",
            for_="10m",
            severity="warning",
            summary="{{ $labels.job }} answers with fallbacks often",
            description=(
                f"More than {thresholds.fallback_ratio * 100:g}% of model calls"
                " from {{ $labels.job }} fell back to an alternative over the last"
                " 5 minutes: users get degraded answers."
            ),
            runbook="Fallbacks frequent",
            scenario=Scenario(
                (
                    _counter(f"{names['fallbacks']}_total", labels, 5),
                    _counter(f"{model}_count", {**model_labels, "error_type": ""}, 10),
                ),
                labels,
            ),
        ),
        Alert(
            name="HiccupBreakerOpen",
            expr=f'max by (job, breaker) ({breaker}{{{job},state="open"}}) == 1',
            for_=thresholds.breaker_open_for,
            severity="warning",
            summary="Breaker {{ $labels.breaker }} is open",
            description=(
                "The circuit breaker {{ $labels.breaker }} of {{ $labels.job }} has"
                f" refused calls for {thresholds.breaker_open_for}: its dependency"
                " keeps failing."
            ),
            runbook="A breaker open",
            scenario=_gauge(
                breaker,
                {**labels, "breaker": "writer-large", "state": "open"},
                "1",
                {**labels, "breaker": "writer-large"},
            ),
        ),
        Alert(
            name="HiccupQueueStale",
            expr=(
                f"max by (job, queue) ({names['queue_oldest_age']}{{{job}}})"
                f" > {thresholds.queue_oldest_seconds:g}"
            ),
            for_="5m",
            severity="warning",
            summary="Queue {{ $labels.queue }} is not keeping up",
            description=(
                "The oldest message of {{ $labels.queue }} in {{ $labels.job }} has"
                f" waited more than {thresholds.queue_oldest_seconds:g} s"
                " for 5 minutes."
            ),
            runbook="A queue stale",
            scenario=_gauge(
                names["queue_oldest_age"],
                {**labels, "queue": "summaries"},
                "600",
                {**labels, "queue": "summaries"},
            ),
        ),
        Alert(
            name="HiccupQueueGrowing",
            expr=(
                f"max by (job, queue) ({depth}{{{job}}}) > {thresholds.queue_depth:g}\n"
                f"and\nmax by (job, queue) (deriv({depth}{{{job}}}[15m])) > 0"
            ),
            for_="15m",
            severity="warning",
            summary="Queue {{ $labels.queue }} keeps growing",
            description=(
                "{{ $labels.queue }} in {{ $labels.job }} holds more than"
                f" {thresholds.queue_depth:g} messages and has grown for 15 minutes."
            ),
            runbook="A queue growing",
            # deriv() needs two samples: the condition holds from minute 1.
            scenario=_gauge(
                depth,
                {**labels, "queue": "summaries"},
                "200+10",
                {**labels, "queue": "summaries"},
                true_from=1,
            ),
        ),
        Alert(
            name="HiccupHealthCheckFailing",
            expr=f'min by (job, check) ({health}{{{job},group="ready"}}) == 0',
            for_="5m",
            severity="warning",
            summary="Readiness check {{ $labels.check }} fails",
            description=(
                "The readiness check {{ $labels.check }} of {{ $labels.job }} has"
                " failed for 5 minutes: its pods are out of the load balancer."
            ),
            runbook="A health check failing",
            scenario=_gauge(
                health,
                {**labels, "check": "db", "group": "ready"},
                "0",
                {**labels, "check": "db"},
            ),
        ),
        Alert(
            name="HiccupTargetDown",
            expr=f"up{{{job}}} == 0",
            for_="5m",
            severity="critical",
            summary="{{ $labels.instance }} of {{ $labels.job }} is down",
            description=(
                "Prometheus has failed to scrape {{ $labels.instance }} for 5 minutes."
            ),
            runbook="A target down",
            scenario=_gauge(
                "up",
                {**labels, "instance": "10.0.0.7:8000"},
                "0",
                {**labels, "instance": "10.0.0.7:8000"},
            ),
        ),
        Alert(
            name="HiccupTargetAbsent",
            expr=f"absent(up{{{job}}})",
            for_="10m",
            severity="critical",
            summary="No target of {{ $labels.job }} is known",
            description=(
                f"Prometheus has found no target of the job {thresholds.job} for"
                " 10 minutes: the app is gone or its discovery broke."
            ),
            runbook="A target absent",
            scenario=Scenario((), labels, true_from=0),
        ),
        Alert(
            name="HiccupWatchdog",
            expr="vector(1)",
            for_="0m",
            severity="info",
            summary="The alerting pipeline works",
            description=(
                "Always firing, so that its absence at the receiving end means"
                " alerts are not getting through."
            ),
            runbook="The watchdog",
            scenario=Scenario((), {}, true_from=0),
        ),
    ]


def _expand(template: str, labels: Mapping[str, str]) -> str:
    """Render the label references of an annotation, as Prometheus does."""
    return re.sub(
        r"\{\{ \$labels\.([a-z_]+) \}\}", lambda m: labels.get(m.group(1), ""), template
    )


def _minutes(duration: str) -> int:
    return seconds_of(duration) // 60


def rule_tests(thresholds: Thresholds) -> list[dict[str, Any]]:
    """Return promtool's unit tests: each alert on both sides of its ``for``,
    and the burn-rate alerts against a ratio they must let pass and a quiet
    service they must leave alone."""
    tests = []
    for alert in alerts(thresholds):
        rule = alert.rule(thresholds)
        labels = {**alert.scenario.labels, **rule["labels"]}
        expected = {
            "exp_labels": labels,
            "exp_annotations": {
                key: _expand(value, labels)
                for key, value in rule["annotations"].items()
            },
        }
        wait = _minutes(alert.for_)
        start = alert.scenario.true_from
        checks = [
            {
                "eval_time": f"{start + wait}m",
                "alertname": alert.name,
                "exp_alerts": [expected],
            }
        ]
        if wait:
            checks.insert(
                0,
                {
                    "eval_time": f"{start + wait - 1}m",
                    "alertname": alert.name,
                    "exp_alerts": [],
                },
            )
        tests.append(
            {
                "name": f"{alert.name} fires once its condition held for {alert.for_}",
                "interval": "1m",
                "input_series": [
                    {"series": series, "values": values}
                    for series, values in alert.scenario.series
                ],
                "alert_rule_test": checks,
            }
        )
    tests += _quiet_tests(thresholds)
    return tests


def _quiet_tests(thresholds: Thresholds) -> list[dict[str, Any]]:
    duration = metric_names()["http_duration"]
    job = {"job": thresholds.job}
    burns = [
        a.name
        for a in alerts(thresholds)
        if "BudgetBurn" in a.name and "Error" in a.name
    ]
    late = max(_minutes(a.for_) for a in alerts(thresholds) if a.name in burns) + 5

    def silent(name: str, ok: float, failed: float) -> dict[str, Any]:
        return {
            "name": name,
            "interval": "1m",
            "input_series": [
                {"series": s, "values": v}
                for s, v in (
                    _counter(
                        f"{duration}_count",
                        {**job, "http_response_status_code": "200"},
                        ok,
                    ),
                    _counter(
                        f"{duration}_count",
                        {**job, "http_response_status_code": "500"},
                        failed,
                    ),
                )
            ],
            "alert_rule_test": [
                {"eval_time": f"{late}m", "alertname": alert, "exp_alerts": []}
                for alert in burns
            ],
        }

    return [
        silent("an error ratio of 0.05% burns no budget fast enough to alert", 1999, 1),
        silent(
            "a quiet service with half its requests failing does not page", 0.5, 0.5
        ),
    ]
