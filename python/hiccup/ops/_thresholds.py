"""Every threshold the alerts use, in one place."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BurnWindow", "Thresholds", "seconds_of"]


@dataclass(frozen=True, slots=True)
class BurnWindow:
    """A pair of windows over which the error budget burns at ``factor``
    times the rate that would spend it over the SLO period: both must
    exceed it, the long one so that the alert is significant, the short one
    so that it stops soon after the burning does."""

    factor: float
    long: str
    short: str
    severity: str
    for_: str


@dataclass(frozen=True, slots=True)
class Thresholds:
    """What counts as bad enough to page, to open a ticket, or to mention.

    Attributes:
        service: the ``service`` label of every alert, which Alertmanager
            groups by.
        job: the Prometheus job label of the app's targets.
        runbooks_url: where ops/runbooks.md is published; each alert links
            to its entry there.
        availability: the share of requests that must not fail with a 5xx.
        latency: the share of requests that must be faster than
            ``latency_seconds``, a bucket bound of the duration histogram.
        burn_windows: multi-window, multi-burn-rate pairs for both SLOs
            (the Site Reliability Workbook's, for a 30-day period).
        min_request_rate: requests per second below which a burn alert
            stays silent: a handful of failures in a quiet hour is no page.
        model_error_ratio: share of model calls failing.
        model_p95_seconds: 95th percentile of model call durations.
        fallback_ratio: fallbacks per model call.
        breaker_open_for: how long a breaker stays open before it warns.
        queue_oldest_seconds: age of a queue's oldest message.
        queue_depth: depth above which a growing queue warns.
        sentry_spike_percent: how much more often than the week before an
            error must happen within an hour for Sentry to call it a spike.
    """

    service: str = "hiccup-demo"
    job: str = "hiccup-demo"
    runbooks_url: str = "ops/runbooks.md"
    availability: float = 0.999
    latency: float = 0.99
    latency_seconds: float = 0.5
    burn_windows: tuple[BurnWindow, ...] = (
        BurnWindow(14.4, "1h", "5m", "critical", "2m"),
        BurnWindow(6.0, "6h", "30m", "critical", "15m"),
        BurnWindow(1.0, "3d", "6h", "warning", "1h"),
    )
    min_request_rate: float = 0.1
    model_error_ratio: float = 0.1
    model_p95_seconds: float = 20.0
    fallback_ratio: float = 0.2
    breaker_open_for: str = "5m"
    queue_oldest_seconds: float = 300.0
    queue_depth: float = 100.0
    sentry_spike_percent: int = 300

    @property
    def windows(self) -> tuple[str, ...]:
        """Every window a burn alert reads a ratio over, shortest first."""
        seen = {w for pair in self.burn_windows for w in (pair.long, pair.short)}
        return tuple(sorted(seen, key=seconds_of))


def seconds_of(duration: str) -> int:
    """Return the seconds of a Prometheus duration such as ``5m``."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    return int(duration[:-1]) * units[duration[-1]]
