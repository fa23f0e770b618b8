from __future__ import annotations

import pytest

import hiccup
from hiccup._events import (
    UndeclaredEventError,
    declare_events,
    declare_funnel,
    funnel_step,
    track,
)
from hiccup._metrics import Metrics


def made(environment: str = "production", *, debug: bool = False) -> Metrics:
    metrics = Metrics()
    metrics.describe(hiccup.Settings(environment=environment, debug=debug))
    declare_events(
        {"draft.created": ("editor", "import"), "signup.completed": ()},
        metrics=metrics,
    )
    declare_funnel("onboarding", ("signed_up", "first_draft"), metrics=metrics)

    return metrics


@pytest.fixture
def production() -> Metrics:
    return made()


@pytest.fixture
def development() -> Metrics:
    return made("development")


def events(metrics: Metrics, event: str, feature: str) -> float | None:
    return metrics.registry.get_sample_value(
        "hiccup_business_events_total", {"event": event, "feature": feature}
    )


def steps(metrics: Metrics, funnel: str, step: str) -> float | None:
    return metrics.registry.get_sample_value(
        "hiccup_funnel_steps_total", {"funnel": funnel, "step": step}
    )


def test_declared_events_start_at_zero(production: Metrics) -> None:
    assert events(production, "draft.created", "editor") == 0
    assert events(production, "draft.created", "import") == 0
    assert events(production, "signup.completed", "") == 0
    assert steps(production, "onboarding", "first_draft") == 0


def test_a_declared_event_is_counted_by_feature(production: Metrics) -> None:
    track("draft.created", feature="editor", metrics=production)
    track("draft.created", feature="editor", metrics=production)
    track("signup.completed", metrics=production)

    assert events(production, "draft.created", "editor") == 2
    assert events(production, "draft.created", "import") == 0
    assert events(production, "signup.completed", "") == 1


@pytest.mark.parametrize(
    ("event", "feature", "counted"),
    [
        ("draft.deleted", "editor", ("_other", "_other")),
        ("draft.created", "voice", ("draft.created", "_other")),
        ("signup.completed", "ads", ("signup.completed", "_other")),
    ],
    ids=["event", "feature", "feature-of-featureless-event"],
)
def test_an_undeclared_name_counts_as_other_in_production(
    production: Metrics, event: str, feature: str, counted: tuple[str, str]
) -> None:
    track(event, feature=feature, metrics=production)

    assert events(production, *counted) == 1


@pytest.mark.parametrize(
    ("event", "feature", "message"),
    [
        ("draft.deleted", None, "business event 'draft.deleted' was not declared"),
        (
            "draft.created",
            "voice",
            "event 'draft.created' has no declared feature 'voice'",
        ),
    ],
    ids=["event", "feature"],
)
def test_an_undeclared_name_raises_in_development(
    development: Metrics, event: str, feature: str | None, message: str
) -> None:
    with pytest.raises(UndeclaredEventError, match=message):
        track(event, feature=feature, metrics=development)

    assert events(development, "_other", "_other") is None


def test_debug_is_as_strict_as_development() -> None:
    metrics = made(debug=True)

    with pytest.raises(UndeclaredEventError):
        track("draft.deleted", metrics=metrics)


def test_declarations_add_up(production: Metrics) -> None:
    declare_events({"draft.created": ("api",)}, metrics=production)

    track("draft.created", feature="api", metrics=production)
    track("draft.created", feature="editor", metrics=production)

    assert events(production, "draft.created", "api") == 1
    assert events(production, "draft.created", "editor") == 1


@pytest.mark.parametrize("name", ["", "_other"], ids=["empty", "reserved"])
def test_a_name_that_cannot_be_told_apart_is_refused(
    production: Metrics, name: str
) -> None:
    with pytest.raises(ValueError, match="cannot be declared"):
        declare_events({name: ()}, metrics=production)


def test_a_funnel_step_is_counted(production: Metrics) -> None:
    funnel_step("onboarding", "signed_up", metrics=production)

    assert steps(production, "onboarding", "signed_up") == 1


@pytest.mark.parametrize(
    ("funnel", "step", "counted"),
    [
        ("checkout", "paid", ("_other", "_other")),
        ("onboarding", "invited", ("onboarding", "_other")),
    ],
    ids=["funnel", "step"],
)
def test_an_undeclared_funnel_or_step_counts_as_other(
    production: Metrics, funnel: str, step: str, counted: tuple[str, str]
) -> None:
    funnel_step(funnel, step, metrics=production)

    assert steps(production, *counted) == 1


def test_an_undeclared_step_raises_in_development(development: Metrics) -> None:
    with pytest.raises(UndeclaredEventError, match="no declared step 'invited'"):
        funnel_step("onboarding", "invited", metrics=development)
