"""Business events and funnels, counted over names declared up front.

    hiccup.declare_events({"draft.created": ("editor", "import"), "signup": ()})
    hiccup.declare_funnel("onboarding", ("signed_up", "first_draft", "exported"))

    hiccup.track("draft.created", feature="editor")
    hiccup.funnel_step("onboarding", "first_draft")

Every name is a label, so only declared ones are counted as themselves.
Anything else raises ``UndeclaredEventError`` in development, where the
mistake is cheap to fix, and is counted as ``_other`` in production, where
telemetry must not break a request. ``Metrics.describe`` decides which.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ._exceptions import HiccupError
from ._metrics import OTHER, Metrics, default_metrics

__all__ = [
    "UndeclaredEventError",
    "declare_events",
    "declare_funnel",
    "funnel_step",
    "track",
]


class UndeclaredEventError(HiccupError, ValueError):
    """Raised in development when an event, feature or funnel step is undeclared."""


def declare_events(
    events: Mapping[str, Iterable[str]], *, metrics: Metrics | None = None
) -> None:
    """Declare business events and the features each may come from.

    Declarations add up, so each part of an app may declare its own. Every
    declared pair starts at 0, so that its rate exists before it happens.

    Args:
        events: Each event's name and the features that may emit it; an
            event with no features is tracked without one.
        metrics: Where to record; the default metrics when not given.
    """
    metrics = metrics or default_metrics()
    for event, features in events.items():
        _check_name(event)
        declared = frozenset(features)
        for feature in declared:
            _check_name(feature)
        metrics.events[event] = metrics.events.get(event, frozenset()) | declared
        for feature in declared or ("",):
            metrics.business_events.labels(event, feature)


def declare_funnel(
    funnel: str, steps: Iterable[str], *, metrics: Metrics | None = None
) -> None:
    """Declare a funnel and its steps; each step starts at 0."""
    metrics = metrics or default_metrics()
    _check_name(funnel)
    declared = frozenset(steps)
    for step in declared:
        _check_name(step)
        metrics.funnel_steps.labels(funnel, step)
    metrics.funnels[funnel] = metrics.funnels.get(funnel, frozenset()) | declared


def track(
    event: str, *, feature: str | None = None, metrics: Metrics | None = None
) -> None:
    """Count one business event, from a feature if it has some.

    Raises:
        UndeclaredEventError: in development, for an event or feature that
            ``declare_events`` did not declare.
    """
    metrics = metrics or default_metrics()
    features = metrics.events.get(event)
    if features is None:
        _undeclared(metrics, f"business event {event!r} was not declared")
        event = feature = OTHER
    elif feature is None:
        feature = ""
    elif feature not in features:
        _undeclared(metrics, f"event {event!r} has no declared feature {feature!r}")
        feature = OTHER
    metrics.business_events.labels(event, feature).inc()


def funnel_step(funnel: str, step: str, *, metrics: Metrics | None = None) -> None:
    """Count one step reached in a funnel.

    Raises:
        UndeclaredEventError: in development, for a funnel or step that
            ``declare_funnel`` did not declare.
    """
    metrics = metrics or default_metrics()
    steps = metrics.funnels.get(funnel)
    if steps is None:
        _undeclared(metrics, f"funnel {funnel!r} was not declared")
        funnel = step = OTHER
    elif step not in steps:
        _undeclared(metrics, f"funnel {funnel!r} has no declared step {step!r}")
        step = OTHER
    metrics.funnel_steps.labels(funnel, step).inc()


def _undeclared(metrics: Metrics, message: str) -> None:
    if metrics.strict:
        raise UndeclaredEventError(f"{message}; declare it first, or fix the name")


def _check_name(name: str) -> None:
    if not name or name == OTHER:
        raise ValueError(f"{name!r} cannot be declared: it must be a non-empty name")
