"""Sentry's issue alert rules as code, and the command that applies them.

Four rules, by Sentry's project rules API: a new or regressed issue, and
an error spike over the week before; each once for the contract codes that
page (PagerDuty and Slack #incidents) and once for the others (Slack
#alerts). The integrations' IDs differ per organisation, so the rules name
them as ``${PAGERDUTY_ACCOUNT}``, ``${PAGERDUTY_SERVICE}`` and
``${SLACK_WORKSPACE}``, which ``apply_rules`` fills in.
"""

from __future__ import annotations

import json
import string
from collections.abc import Mapping
from typing import Any

from .._codes import CONTRACT
from ._http import Change, Send, call_json
from ._thresholds import Thresholds

__all__ = ["Change", "apply_rules", "paging_codes", "sentry_rules"]

_NEW = {"id": "sentry.rules.conditions.first_seen_event.FirstSeenEventCondition"}
_REGRESSED = {"id": "sentry.rules.conditions.regression_event.RegressionEventCondition"}
_TAG = "sentry.rules.filters.tagged_event.TaggedEventFilter"
_PAGERDUTY = "sentry.integrations.pagerduty.notify_action.PagerDutyNotifyServiceAction"
_SLACK = "sentry.integrations.slack.notify_action.SlackNotifyServiceAction"


def paging_codes() -> list[str]:
    """Return the codes whose issues page: the contract's errors a server
    raises (severity ``error``, status 500 or more)."""
    return sorted(
        name
        for name, spec in CONTRACT.codes.items()
        if spec.severity == "error" and spec.status >= 500 and not spec.client
    )


def _slack(channel: str) -> dict[str, str]:
    return {"id": _SLACK, "workspace": "${SLACK_WORKSPACE}", "channel": channel}


def _spike(thresholds: Thresholds) -> dict[str, object]:
    return {
        "id": "sentry.rules.conditions.event_frequency.EventFrequencyCondition",
        "comparisonType": "percent",
        "comparisonInterval": "1w",
        "interval": "1h",
        "value": thresholds.sentry_spike_percent,
    }


def sentry_rules(thresholds: Thresholds) -> list[dict[str, Any]]:
    """Return the rules, as the project rules API takes them."""
    codes = paging_codes()
    paging = [
        {"id": _TAG, "key": "error.code", "match": "eq", "value": code}
        for code in codes
    ]
    others = [{**each, "match": "ne"} for each in paging]
    page = [
        {
            "id": _PAGERDUTY,
            "account": "${PAGERDUTY_ACCOUNT}",
            "service": "${PAGERDUTY_SERVICE}",
            "severity": "critical",
        },
        _slack("#incidents"),
    ]
    tell = [_slack("#alerts")]
    common = {"actionMatch": "any", "frequency": 30, "environment": "production"}
    return [
        {
            "name": "hiccup: new or regressed issue that pages",
            **common,
            "conditions": [_NEW, _REGRESSED],
            "filterMatch": "any",
            "filters": paging,
            "actions": page,
        },
        {
            "name": "hiccup: new or regressed issue",
            **common,
            "conditions": [_NEW, _REGRESSED],
            "filterMatch": "all",
            "filters": others,
            "actions": tell,
        },
        {
            "name": "hiccup: error spike that pages",
            **common,
            "conditions": [_spike(thresholds)],
            "filterMatch": "any",
            "filters": paging,
            "actions": page,
        },
        {
            "name": "hiccup: error spike",
            **common,
            "conditions": [_spike(thresholds)],
            "filterMatch": "all",
            "filters": others,
            "actions": tell,
        },
    ]


def _fill(rule: Mapping[str, Any], ids: Mapping[str, str]) -> dict[str, Any]:
    text = json.dumps(rule)
    try:
        filled = string.Template(text).substitute(ids)
    except KeyError as exc:
        raise ValueError(f"no ID given for ${{{exc.args[0]}}}") from exc
    return dict(json.loads(filled))


def _comparable(rule: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("actionMatch", "filterMatch", "frequency", "environment")
    listed = ("conditions", "filters", "actions")
    return {
        **{key: rule.get(key) for key in keys},
        **{
            key: [dict(sorted(item.items())) for item in rule.get(key, [])]
            for key in listed
        },
    }


def apply_rules(
    rules: list[dict[str, Any]],
    ids: Mapping[str, str],
    send: Send,
    *,
    dry_run: bool = False,
) -> list[Change]:
    """Create or update each rule by its name; leave the project's others.

    Args:
        rules: the rules, with ``${...}`` placeholders for integration IDs.
        ids: the IDs for the placeholders.
        send: makes one API call, ``(method, path, body)``, and returns the
            parsed answer; paths are under the project's ``rules/``.
        dry_run: read only; return what would change.
    """
    existing = {rule["name"]: rule for rule in send("GET", "", None)}
    changes = []
    for rule in rules:
        wanted = _fill(rule, ids)
        current = existing.get(wanted["name"])
        if current is None:
            action = "create"
        elif _comparable(current) == _comparable(wanted):
            action = "keep"
        else:
            action = "update"
        changes.append(Change(action, wanted["name"]))
        if dry_run or action == "keep":
            continue
        if current is None:
            send("POST", "", wanted)
        else:
            send("PUT", f"{current['id']}/", wanted)
    return changes


def http_sender(base_url: str, organization: str, project: str, token: str) -> Send:
    """Return a ``send`` for Sentry's API at ``base_url``."""
    root = f"{base_url.rstrip('/')}/api/0/projects/{organization}/{project}/rules/"

    def send(method: str, path: str, body: object | None) -> Any:
        return call_json(method, root + path, body, token)

    return send
