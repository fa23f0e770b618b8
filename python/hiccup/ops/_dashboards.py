"""The dashboards: what the people on call look at, one question per panel.

Every query reads the metrics the package emits, by the names it gives
them, and every ratio is one of two rates over the same window, never of
lifetime counters. Panels that follow the time picker rate over
``$__rate_interval``; the objectives' panels over ``$__range`` or the SLO
period. A series that may not exist yet (no request has failed) is read as
0 rather than as no data, so that a healthy service shows its flat line.
"""

from __future__ import annotations

from ._grafana import Dashboard, Panel, Query, Row, Variable, error_ratio, share
from ._rules import metric_names
from ._thresholds import Thresholds

__all__ = ["dashboards"]

#: The period the objectives and their budgets are set over.
SLO_PERIOD = "30d"
RATE = "$__rate_interval"
RANGE = "$__range"
JOB = 'job=~"$job"'
QUANTILES = (0.5, 0.95, 0.99)


def _sum(by: str, inner: str) -> str:
    return f"sum by ({by}) ({inner})" if by else f"sum ({inner})"


def _rate(metric: str, selector: str, window: str = RATE) -> str:
    return f"rate({metric}{{{selector}}}[{window}])"


def _quantiles(
    metric: str, by: str, selector: str, legend: str, *, exemplar: bool = False
) -> tuple[Query, ...]:
    return tuple(
        Query(
            f"histogram_quantile({q:g},\n  "
            + _sum(f"{by}, le" if by else "le", _rate(f"{metric}_bucket", selector))
            + "\n)",
            f"p{q * 100:g} {legend}".strip(),
            exemplar=exemplar,
        )
        for q in QUANTILES
    )


def _increase(metric: str, selector: str) -> str:
    return f"increase({metric}{{{selector}}}[{RANGE}])"


def _stat(
    title: str,
    description: str,
    expr: str,
    unit: str,
    steps: tuple[tuple[float | None, str], ...] = (),
) -> Panel:
    return Panel(
        title,
        description,
        (Query(expr, instant=True),),
        unit,
        kind="stat",
        width=6,
        height=5,
        steps=steps,
    )


def _overview(t: Thresholds) -> Dashboard:
    n = metric_names()
    d = n["http_duration"]
    bound = f'le="{t.latency_seconds:g}"'
    failed = f'{JOB},http_response_status_code=~"5.."'
    error_budget = 1 - t.availability
    latency_budget = 1 - t.latency

    def failing(window: str) -> str:
        errors = _sum("", _rate(f"{d}_count", failed, window))
        every = _sum("", _rate(f"{d}_count", JOB, window))
        return f"(\n  ({errors} or vector(0))\n/\n  {every}\n)"

    def fast(window: str) -> str:
        within = _sum("", _rate(f"{d}_bucket", f"{JOB},{bound}", window))
        every = _sum("", _rate(f"{d}_count", JOB, window))
        return f"(\n  {within}\n/\n  {every}\n)"

    def burn(slo: str, budget: float) -> tuple[Query, ...]:
        return tuple(
            Query(f"hiccup:{slo}:ratio_rate{w}{{{JOB}}} / {budget:g}", w)
            for w in t.windows
        )

    factors = sorted({p.factor for p in t.burn_windows if p.factor > 1})
    # The slower burn that pages in orange, the fastest in red.
    colours = ["orange"] * (len(factors) - 1) + ["red"]
    burn_steps = ((None, "green"), *zip(factors, colours, strict=True))
    objectives = Row(
        "Objectives",
        (
            _stat(
                "Availability",
                f"Requests over the time picked that did not fail with a 5xx;"
                f" the objective is {t.availability * 100:g}%.",
                f"1 - {failing(RANGE)}",
                "percentunit",
                steps=((None, "red"), (t.availability, "green")),
            ),
            _stat(
                f"Faster than {t.latency_seconds:g} s",
                f"Requests over the time picked that took at most"
                f" {t.latency_seconds:g} s; the objective is {t.latency * 100:g}%.",
                fast(RANGE),
                "percentunit",
                steps=((None, "red"), (t.latency, "green")),
            ),
            _stat(
                "Error budget left",
                f"Share of the {SLO_PERIOD} error budget (5xx answers) not yet"
                " spent; below 0 the objective is missed.",
                f"1 - {failing(SLO_PERIOD)} / {error_budget:g}",
                "percentunit",
                steps=((None, "red"), (0.0, "orange"), (0.5, "green")),
            ),
            _stat(
                "Latency budget left",
                f"Share of the {SLO_PERIOD} latency budget (requests slower than"
                f" {t.latency_seconds:g} s) not yet spent.",
                f"1 - (1 - {fast(SLO_PERIOD)}) / {latency_budget:g}",
                "percentunit",
                steps=((None, "red"), (0.0, "orange"), (0.5, "green")),
            ),
            Panel(
                "Error budget burn rate",
                "How many times faster than the objective allows the error budget"
                " burns, over each window the alerts read; the dashed lines are"
                " where they page.",
                burn("errors", error_budget),
                "suffix:×",
                steps=burn_steps,
            ),
            Panel(
                "Latency budget burn rate",
                "The same, for requests slower than the latency objective.",
                burn("slow", latency_budget),
                "suffix:×",
                steps=burn_steps,
            ),
        ),
    )
    traffic = Row(
        "Traffic",
        (
            Panel(
                "Requests by route",
                "Requests answered per second.",
                (
                    Query(
                        _sum("http_route", _rate(f"{d}_count", JOB)), "{{http_route}}"
                    ),
                ),
                "reqps",
                width=8,
            ),
            Panel(
                "5xx ratio by route",
                "Share of each route's requests that failed on the server's side.",
                (Query(error_ratio("http_route", JOB, RATE), "{{http_route}}"),),
                "percentunit",
                width=8,
                minimum=0,
            ),
            Panel(
                "Requests in flight",
                "Requests started and not yet answered.",
                (
                    Query(
                        f"sum by (http_request_method) ({n['http_active']}{{{JOB}}})",
                        "{{http_request_method}}",
                    ),
                ),
                "short",
                width=8,
            ),
            Panel(
                "Latency by route",
                "Percentiles of each route's duration. The dots are exemplars:"
                " each opens the trace of a request that took that long.",
                _quantiles(d, "http_route", JOB, "{{http_route}}", exemplar=True),
                "s",
                width=24,
                height=10,
            ),
            Panel(
                "Failures by code",
                "Failed requests per second, by the contract's error code.",
                (Query(_sum("code", _rate(f"{n['errors']}_total", JOB)), "{{code}}"),),
                "reqps",
                stacked=True,
            ),
            Panel(
                "Running versions",
                "What each target runs, from hiccup_build_info.",
                (
                    Query(
                        "sum by (instance, version, environment)"
                        f" ({n['build_info']}{{{JOB}}})",
                        instant=True,
                        format="table",
                    ),
                ),
                "short",
                kind="table",
                hidden=("Value",),
            ),
        ),
    )
    releases = (
        f"count by (version) ({n['build_info']}{{{JOB}}})\nunless\n"
        f"count by (version) ({n['build_info']}{{{JOB}}} offset 10m)"
    )
    return Dashboard(
        "hiccup-overview",
        "hiccup / Overview",
        "Is the service meeting its objectives, and where is it not?",
        (objectives, traffic),
        annotations=(("Releases", releases),),
    )


def _routes(t: Thresholds) -> Dashboard:
    n = metric_names()
    d = n["http_duration"]
    chosen = f'{JOB},http_route=~"$route"'
    by_route = "http_route"
    traffic = Row(
        "Traffic",
        (
            Panel(
                "Requests by status",
                "Requests per second, by route and status code.",
                (
                    Query(
                        _sum(
                            "http_route, http_response_status_code",
                            _rate(f"{d}_count", chosen),
                        ),
                        "{{http_route}} {{http_response_status_code}}",
                    ),
                ),
                "reqps",
                stacked=True,
            ),
            Panel(
                "Failures by code",
                "Failed requests per second, by route and contract code.",
                (
                    Query(
                        _sum(
                            "http_route, error_type",
                            _rate(f"{d}_count", f'{chosen},error_type!=""'),
                        ),
                        "{{http_route}} {{error_type}}",
                    ),
                ),
                "reqps",
                stacked=True,
            ),
            Panel(
                "5xx ratio",
                "Share of requests that failed on the server's side.",
                (Query(error_ratio(by_route, chosen, RATE), "{{http_route}}"),),
                "percentunit",
                minimum=0,
            ),
            Panel(
                "4xx ratio",
                "Share of requests refused as the caller's mistake: a rise"
                " after a release often means a client and the API disagree.",
                (
                    Query(
                        error_ratio(by_route, chosen, RATE, status="4.."),
                        "{{http_route}}",
                    ),
                ),
                "percentunit",
                minimum=0,
            ),
        ),
    )
    bound = f'le="{t.latency_seconds:g}"'
    latency = Row(
        "Latency",
        (
            Panel(
                "Latency",
                "Percentiles of the routes' durations; each exemplar opens a trace.",
                _quantiles(d, by_route, chosen, "{{http_route}}", exemplar=True),
                "s",
            ),
            Panel(
                "Latency distribution",
                "How many requests took how long, bucket by bucket.",
                (
                    Query(
                        _sum("le", _rate(f"{d}_bucket", chosen)),
                        "{{le}}",
                        format="heatmap",
                    ),
                ),
                "s",
                kind="heatmap",
            ),
            Panel(
                f"Faster than {t.latency_seconds:g} s",
                "Share of each route's requests within the latency objective.",
                (
                    Query(
                        _sum(by_route, _rate(f"{d}_bucket", f"{chosen},{bound}"))
                        + "\n/\n"
                        + _sum(by_route, _rate(f"{d}_count", chosen)),
                        "{{http_route}}",
                    ),
                ),
                "percentunit",
                steps=((None, "red"), (t.latency, "green")),
            ),
            Panel(
                "Body sizes, p95",
                "Request bodies (from Content-Length) and response bodies.",
                (
                    *_quantiles(
                        n["http_request_size"],
                        by_route,
                        chosen,
                        "request {{http_route}}",
                    )[1:2],
                    *_quantiles(
                        n["http_response_size"],
                        by_route,
                        chosen,
                        "response {{http_route}}",
                    )[1:2],
                ),
                "bytes",
            ),
        ),
    )
    return Dashboard(
        "hiccup-routes",
        "hiccup / Routes",
        "One route, or a few, in detail: traffic, failures and latency.",
        (traffic, latency),
        variables=(Variable("route", "Route", "http_route", f"{d}_count{{{JOB}}}"),),
    )


def _models(t: Thresholds) -> Dashboard:
    n = metric_names()
    m = n["model_duration"]
    chosen = f'{JOB},gen_ai_request_model=~"$model"'
    by = "gen_ai_request_model"
    calls = Row(
        "Calls",
        (
            Panel(
                "Calls by model",
                "Calls per second to each model, failed or not.",
                (
                    Query(
                        _sum(by, _rate(f"{m}_count", chosen)),
                        "{{gen_ai_request_model}}",
                    ),
                ),
                "ops",
                width=8,
            ),
            Panel(
                "Errors by type",
                "Failed calls per second, by model and error type (a contract"
                " code such as MODEL_OVERLOADED, or the exception's class).",
                (
                    Query(
                        _sum(
                            f"{by}, error_type",
                            _rate(f"{m}_count", f'{chosen},error_type!=""'),
                        ),
                        "{{gen_ai_request_model}} {{error_type}}",
                    ),
                ),
                "ops",
                width=8,
                stacked=True,
            ),
            Panel(
                "Error ratio",
                "Share of each model's calls that failed.",
                (
                    Query(
                        share(
                            _sum(by, _rate(f"{m}_count", f'{chosen},error_type!=""')),
                            _sum(by, _rate(f"{m}_count", chosen)),
                        ),
                        "{{gen_ai_request_model}}",
                    ),
                ),
                "percentunit",
                width=8,
                minimum=0,
                steps=((None, "green"), (t.model_error_ratio, "red")),
            ),
        ),
    )
    speed = Row(
        "Speed and use",
        (
            Panel(
                "Call duration",
                "Percentiles of each model's call durations.",
                _quantiles(m, by, chosen, "{{gen_ai_request_model}}")[:2],
                "s",
                width=8,
                steps=((None, "green"), (t.model_p95_seconds, "red")),
            ),
            Panel(
                "Time to first chunk",
                "How long users wait before a streamed answer starts.",
                _quantiles(
                    n["model_first_chunk"], by, chosen, "{{gen_ai_request_model}}"
                )[:2],
                "s",
                width=8,
            ),
            Panel(
                "Tokens",
                "Tokens per second, by model and kind (input or output).",
                (
                    Query(
                        _sum(
                            f"{by}, gen_ai_token_type",
                            _rate(f"{n['model_tokens']}_sum", chosen),
                        ),
                        "{{gen_ai_request_model}} {{gen_ai_token_type}}",
                    ),
                ),
                "suffix: tokens/s",
                width=8,
                stacked=True,
            ),
        ),
    )
    return Dashboard(
        "hiccup-models",
        "hiccup / AI models",
        "Calls to generative models, and what protects users from their failures.",
        (calls, speed, _resilience()),
        variables=(Variable("model", "Model", by, f"{m}_count{{{JOB}}}"),),
    )


def _resilience() -> Row:
    n = metric_names()
    breaker = n["breaker_state"]
    state = (
        f'max by (breaker) ({breaker}{{{JOB},state="open"}}) * 2\n+\n'
        f'max by (breaker) ({breaker}{{{JOB},state="half_open"}})'
    )
    none_yet = f"sum ({n['build_info']}{{{JOB}}}) * 0"
    return Row(
        "Resilience",
        (
            Panel(
                "Fallbacks",
                "Answers given by an alternative in place of a failed call, by"
                " component, alternative and the reason it was needed.",
                (
                    Query(
                        _sum(
                            "component, alternative, reason",
                            _rate(f"{n['fallbacks']}_total", JOB),
                        )
                        + f"\nor\n{none_yet}",
                        "{{component}} → {{alternative}} ({{reason}})",
                    ),
                ),
                "ops",
                width=8,
            ),
            Panel(
                "Breaker state",
                "Each circuit breaker over time: closed, half-open or open.",
                (Query(state, "{{breaker}}"),),
                "none",
                kind="state-timeline",
                width=8,
                mappings=(
                    ("0", "closed", "green"),
                    ("1", "half-open", "orange"),
                    ("2", "open", "red"),
                ),
            ),
            Panel(
                "Retry attempts",
                "Attempts of retried calls per second, by dependency and outcome.",
                (
                    Query(
                        _sum(
                            "dependency, outcome",
                            _rate(f"{n['retry_attempts']}_total", JOB),
                        ),
                        "{{dependency}} {{outcome}}",
                    ),
                ),
                "ops",
                width=8,
                stacked=True,
            ),
            Panel(
                "Retries not made",
                "Retries that were due but held back (by the budget, a deadline"
                " or an open breaker), per second.",
                (
                    Query(
                        _sum(
                            "dependency, reason",
                            _rate(f"{n['retry_suppressed']}_total", JOB),
                        )
                        + f"\nor\n{none_yet}",
                        "{{dependency}} {{reason}}",
                    ),
                ),
                "ops",
                width=8,
            ),
            Panel(
                "Retry budget",
                "Retries each dependency's budget would allow right now.",
                (
                    Query(
                        f"min by (dependency) ({n['retry_budget_tokens']}{{{JOB}}})",
                        "{{dependency}}",
                    ),
                ),
                "short",
                width=8,
            ),
            Panel(
                "Attempts per call",
                "Percentiles of the attempts each logical call made: 1 is no retry.",
                _quantiles(
                    n["retry_amplification"], "dependency", JOB, "{{dependency}}"
                )[1:],
                "short",
                width=8,
            ),
        ),
    )


def _queues(t: Thresholds) -> Dashboard:
    n = metric_names()
    chosen = f'{JOB},queue=~"$queue"'
    jobs = f"{n['queue_jobs']}_total"
    row = Row(
        "Queues",
        (
            Panel(
                "Depth",
                "Messages waiting in each queue.",
                (
                    Query(
                        f"max by (queue) ({n['queue_depth']}{{{chosen}}})", "{{queue}}"
                    ),
                ),
                "short",
                steps=((None, "green"), (t.queue_depth, "red")),
            ),
            Panel(
                "Oldest message",
                "How long the oldest waiting message has waited.",
                (
                    Query(
                        f"max by (queue) ({n['queue_oldest_age']}{{{chosen}}})",
                        "{{queue}}",
                    ),
                ),
                "s",
                steps=((None, "green"), (t.queue_oldest_seconds, "red")),
            ),
            Panel(
                "Jobs by outcome",
                "Jobs taken from each queue per second, by how they ended.",
                (
                    Query(
                        _sum("queue, outcome", _rate(jobs, chosen)),
                        "{{queue}} {{outcome}}",
                    ),
                ),
                "ops",
                stacked=True,
            ),
            Panel(
                "Failed jobs",
                "Share of each queue's jobs that failed.",
                (
                    Query(
                        share(
                            _sum("queue", _rate(jobs, f'{chosen},outcome="failed"')),
                            _sum("queue", _rate(jobs, chosen)),
                        ),
                        "{{queue}}",
                    ),
                ),
                "percentunit",
                minimum=0,
            ),
            Panel(
                "Job duration",
                "Percentiles of the jobs' durations.",
                _quantiles(n["queue_job_duration"], "queue", chosen, "{{queue}}"),
                "s",
                width=24,
            ),
        ),
    )
    return Dashboard(
        "hiccup-queues",
        "hiccup / Queues",
        "Background work: is it keeping up, and does it succeed?",
        (row,),
        variables=(
            Variable("queue", "Queue", "queue", f"{n['queue_depth']}{{{JOB}}}"),
        ),
    )


def _resources(t: Thresholds) -> Dashboard:
    n = metric_names()
    chosen = f'{JOB},instance=~"$instance"'
    row = Row(
        "Processes",
        (
            Panel(
                "CPU",
                "CPU time per second of each process: 100% is one core.",
                (Query(_rate("process_cpu_seconds_total", chosen), "{{instance}}"),),
                "percentunit",
            ),
            Panel(
                "Resident memory",
                "Memory each process holds.",
                (Query(f"process_resident_memory_bytes{{{chosen}}}", "{{instance}}"),),
                "bytes",
            ),
            Panel(
                "File descriptors",
                "Open file descriptors (sockets included) against the limit.",
                (
                    Query(
                        f"process_open_fds{{{chosen}}}\n/\nprocess_max_fds{{{chosen}}}",
                        "{{instance}}",
                    ),
                ),
                "percentunit",
                steps=((None, "green"), (0.8, "red")),
            ),
            Panel(
                "Garbage collections",
                "Collections per second, by generation: many of generation 2"
                " mean long pauses.",
                (
                    Query(
                        _sum(
                            "instance, generation",
                            _rate("python_gc_collections_total", chosen),
                        ),
                        "{{instance}} gen {{generation}}",
                    ),
                ),
                "ops",
            ),
            Panel(
                "Requests in flight",
                "Requests each process is serving.",
                (
                    Query(
                        f"sum by (instance) ({n['http_active']}{{{chosen}}})",
                        "{{instance}}",
                    ),
                ),
                "short",
            ),
            Panel(
                "Telemetry dropped",
                "Log lines, spans or events a sink could not deliver: hiccup"
                " dropped them rather than slow the app down.",
                (
                    Query(
                        _sum(
                            "instance, sink",
                            _rate(f"{n['telemetry_dropped']}_total", chosen),
                        )
                        + f"\nor\nsum by (instance) (up{{{chosen}}}) * 0",
                        "{{instance}} {{sink}}",
                    ),
                ),
                "ops",
            ),
            Panel(
                "Scrape duration",
                "How long Prometheus takes to read each target's metrics.",
                (Query(f"scrape_duration_seconds{{{chosen}}}", "{{instance}}"),),
                "s",
                width=24,
            ),
        ),
    )
    return Dashboard(
        "hiccup-resources",
        "hiccup / Resources",
        "What the app's processes use.",
        (row,),
        variables=(Variable("instance", "Instance", "instance", f"up{{{JOB}}}"),),
    )


def _business(t: Thresholds) -> Dashboard:
    n = metric_names()
    events = f"{n['business_events']}_total"
    steps = f"{n['funnel_steps']}_total"
    reached = _sum("funnel, step", _increase(steps, JOB))
    row = Row(
        "Business",
        (
            Panel(
                "Events by feature",
                "Declared business events per second, by event and feature.",
                (
                    Query(
                        _sum("event, feature", _rate(events, JOB)),
                        "{{event}} ({{feature}})",
                    ),
                ),
                "ops",
                stacked=True,
            ),
            Panel(
                "Events over the time picked",
                "How many of each event happened.",
                (
                    Query(
                        _sum("event", _increase(events, JOB)),
                        "{{event}}",
                        instant=True,
                    ),
                ),
                "short",
                kind="bargauge",
            ),
            Panel(
                "Funnel conversion",
                "Each step's count over the time picked, as a share of the"
                " funnel's most reached step (normally its first).",
                (
                    Query(
                        f"{reached}\n/ on (funnel) group_left ()\n"
                        f"max by (funnel) ({reached})",
                        "{{funnel}}: {{step}}",
                        instant=True,
                    ),
                ),
                "percentunit",
                kind="bargauge",
                minimum=0,
                maximum=1,
            ),
            Panel(
                "Funnel steps",
                "Steps reached per second.",
                (
                    Query(
                        _sum("funnel, step", _rate(steps, JOB)), "{{funnel}}: {{step}}"
                    ),
                ),
                "ops",
            ),
        ),
    )
    return Dashboard(
        "hiccup-business",
        "hiccup / Business",
        "What users do: the app's declared events and funnels.",
        (row,),
    )


def _health(t: Thresholds) -> Dashboard:
    n = metric_names()
    status = n["health_status"]
    verdicts = (
        ("1", "pass", "green"),
        ("0.5", "warn", "orange"),
        ("0", "fail", "red"),
    )
    row = Row(
        "Checks",
        (
            Panel(
                "Check matrix",
                "Each check's latest result over time, by probe: pass, warn or fail.",
                (
                    Query(
                        f"min by (check, group) ({status}{{{JOB}}})",
                        "{{check}} ({{group}})",
                    ),
                ),
                "none",
                kind="state-timeline",
                width=24,
                mappings=verdicts,
            ),
            Panel(
                "Checks now, by instance",
                "The latest result of every check on every target.",
                (
                    Query(
                        f"min by (instance, check, group) ({status}{{{JOB}}})",
                        instant=True,
                        format="table",
                    ),
                ),
                "none",
                kind="table",
                mappings=verdicts,
            ),
            Panel(
                "Check duration",
                "The 95th percentile of each check's runs: a check that nears"
                " its timeout fails next.",
                _quantiles(n["health_duration"], "check", JOB, "{{check}}")[1:2],
                "s",
            ),
            Panel(
                "Targets up",
                "Whether Prometheus could scrape each target.",
                (Query(f"up{{{JOB}}}", "{{instance}}"),),
                "none",
                kind="state-timeline",
                width=24,
                mappings=(("1", "up", "green"), ("0", "down", "red")),
            ),
        ),
    )
    return Dashboard(
        "hiccup-health",
        "hiccup / Health",
        "What the probes see: every check of every target.",
        (row,),
    )


def _frontend(t: Thresholds) -> Dashboard:
    n = metric_names()
    reported = f"{n['client_events']}_total"

    def kind(name: str) -> str:
        return f'{JOB},kind="{name}"'

    recovered = _sum("", _increase(reported, kind("recovered")))
    shown = _sum("", _increase(reported, kind("modal_shown")))
    row = Row(
        "What users saw",
        (
            Panel(
                "Failures users saw, by code",
                "Failed calls the browser SDK reported, by contract code.",
                (Query(_sum("code", _rate(reported, kind("error"))), "{{code}}"),),
                "ops",
                stacked=True,
            ),
            Panel(
                "Retries, by code",
                "Retries the SDK made, by the code of the failure it retried.",
                (Query(_sum("code", _rate(reported, kind("retry"))), "{{code}}"),),
                "ops",
                stacked=True,
            ),
            Panel(
                "Failure modals",
                "Failure modals shown, and those closed by a successful Try again.",
                (
                    Query(
                        _sum(
                            "kind",
                            _rate(reported, f'{JOB},kind=~"modal_shown|recovered"'),
                        ),
                        "{{kind}}",
                    ),
                ),
                "ops",
            ),
            _stat(
                "Recovered by Try again",
                "Failure modals over the time picked that ended in a success.",
                f"{recovered}\n/\n{shown}",
                "percentunit",
                steps=((None, "red"), (0.5, "orange"), (0.8, "green")),
            ),
            _stat(
                "Reports received",
                "Records the SDK sent over the time picked.",
                _sum("", _increase(reported, JOB)),
                "short",
            ),
        ),
    )
    return Dashboard(
        "hiccup-frontend",
        "hiccup / Frontend",
        "Failures as the browser saw them, and whether users got past them.",
        (row,),
    )


def dashboards(thresholds: Thresholds) -> list[Dashboard]:
    """Return every dashboard, the overview first."""
    return [
        build(thresholds)
        for build in (
            _overview,
            _routes,
            _models,
            _queues,
            _resources,
            _business,
            _health,
            _frontend,
        )
    ]
