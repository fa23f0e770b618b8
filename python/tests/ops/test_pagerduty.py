"""The PagerDuty escalation policy and on-call schedules, as Terraform."""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any

from hiccup.ops import render
from hiccup.ops._generate import PAGERDUTY


def config() -> dict[str, Any]:
    return dict(json.loads(render()[PAGERDUTY]))


def test_it_uses_the_official_provider() -> None:
    provider = config()["terraform"]["required_providers"]["pagerduty"]

    assert provider["source"] == "PagerDuty/pagerduty"


def test_the_page_goes_primary_then_secondary_then_manager() -> None:
    [policy] = config()["resource"]["pagerduty_escalation_policy"].values()

    targets = [rule["target"][0]["id"] for rule in policy["rule"]]
    assert targets == [
        "${pagerduty_schedule.primary.id}",
        "${pagerduty_schedule.secondary.id}",
        "${var.manager}",
    ]
    delays = [rule["escalation_delay_in_minutes"] for rule in policy["rule"]]
    assert list(accumulate(delays)) == [5, 15, 30]
    assert policy["num_loops"] >= 1


def test_both_rotations_are_weekly_layers_of_their_users() -> None:
    schedules = config()["resource"]["pagerduty_schedule"]

    assert sorted(schedules) == ["primary", "secondary"]
    for name, schedule in schedules.items():
        [layer] = schedule["layer"]
        assert layer["rotation_turn_length_seconds"] == 7 * 24 * 3600
        assert layer["users"] == f"${{var.{name}_users}}"


def test_every_reference_names_something_the_configuration_declares() -> None:
    text = render()[PAGERDUTY]
    parsed = config()
    declared = {
        f"{kind}.{name}" for kind, items in parsed["resource"].items() for name in items
    }
    variables = set(parsed["variable"])

    for reference in re.findall(r"\$\{([^}]+)\}", text):
        if reference.startswith("var."):
            assert reference.removeprefix("var.") in variables, reference
        else:
            assert reference.rsplit(".", 1)[0] in declared, reference


def test_the_service_takes_events_v2_and_hides_its_key() -> None:
    parsed = config()
    [integration] = parsed["resource"]["pagerduty_service_integration"].values()

    assert integration["type"] == "events_api_v2_inbound_integration"
    assert parsed["output"]["routing_key"]["sensitive"] is True
