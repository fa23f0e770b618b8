"""Sentry's alert rules as code, and the command that applies them, against a
local stand-in for Sentry's project rules API."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from servers import JsonHandler, loopback_http

from hiccup.cli import main
from hiccup.ops import Thresholds
from hiccup.ops._sentry import paging_codes, sentry_rules

TOKEN = "sntryu_test"
IDS = ["--id", "PAGERDUTY_ACCOUNT=11", "--id", "PAGERDUTY_SERVICE=22"]
IDS += ["--id", "SLACK_WORKSPACE=33"]


@dataclass
class RulesApi:
    """A project's rules, served as Sentry's API serves them."""

    url: str = ""
    rules: list[dict[str, Any]] = field(default_factory=list)
    calls: list[tuple[str, str]] = field(default_factory=list)


@pytest.fixture
def api() -> Iterator[RulesApi]:
    state = RulesApi()
    prefix = "/api/0/projects/acme/writer/rules/"

    class Handler(JsonHandler):
        def _body(self) -> Any:
            return json.loads(self.rfile.read(int(self.headers["Content-Length"])))

        def _route(self) -> str | None:
            state.calls.append((self.command, self.path))
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                self.answer(401, {"detail": "Invalid token"})
                return None
            if not self.path.startswith(prefix):
                self.answer(404, {"detail": "Not found"})
                return None
            return self.path.removeprefix(prefix).strip("/")

        def do_GET(self) -> None:
            if self._route() is not None:
                self.answer(200, state.rules)

        def do_POST(self) -> None:
            if self._route() is not None:
                rule = {**self._body(), "id": str(len(state.rules) + 1)}
                state.rules.append(rule)
                self.answer(201, rule)

        def do_PUT(self) -> None:
            rule_id = self._route()
            if rule_id is None:
                return
            for index, rule in enumerate(state.rules):
                if rule["id"] == rule_id:
                    state.rules[index] = {**self._body(), "id": rule_id}
                    self.answer(200, state.rules[index])
                    return
            self.answer(404, {"detail": "Not found"})

    with loopback_http(Handler) as url:
        state.url = url
        yield state


@pytest.fixture
def rules_file(tmp_path: Path) -> Path:
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(sentry_rules(Thresholds())))
    return path


def apply(api: RulesApi, rules: Path, *extra: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    args = ["ops", "sentry-apply", "--url", api.url, "--org", "acme"]
    args += ["--project", "writer", "--rules", str(rules), *IDS, *extra]
    status = main(args, out, err)
    return status, out.getvalue(), err.getvalue()


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTRY_AUTH_TOKEN", TOKEN)


def test_the_rules_cover_new_regressed_and_spiking_issues() -> None:
    rules = sentry_rules(Thresholds())

    assert len(rules) == 4
    conditions = {c["id"].rsplit(".", 1)[1] for r in rules for c in r["conditions"]}
    assert conditions == {
        "FirstSeenEventCondition",
        "RegressionEventCondition",
        "EventFrequencyCondition",
    }
    spike = rules[2]["conditions"][0]
    assert (spike["comparisonType"], spike["comparisonInterval"], spike["value"]) == (
        "percent",
        "1w",
        300,
    )


def test_paging_codes_go_to_pagerduty_and_the_rest_to_slack() -> None:
    pages, tells, *_ = sentry_rules(Thresholds())
    codes = paging_codes()

    assert "INTERNAL" in codes
    assert "VALIDATION_FAILED" not in codes
    assert [f["value"] for f in pages["filters"]] == codes
    assert {f["match"] for f in pages["filters"]} == {"eq"}
    assert pages["filterMatch"] == "any"
    assert {f["match"] for f in tells["filters"]} == {"ne"}
    assert tells["filterMatch"] == "all"
    assert [a["id"].rsplit(".", 1)[1] for a in pages["actions"]] == [
        "PagerDutyNotifyServiceAction",
        "SlackNotifyServiceAction",
    ]
    assert [a.get("channel") for a in tells["actions"]] == ["#alerts"]


def test_a_dry_run_reads_and_changes_nothing(api: RulesApi, rules_file: Path) -> None:
    status, out, _ = apply(api, rules_file, "--dry-run")

    assert status == 0
    assert (
        out.splitlines()[0] == "would create: hiccup: new or regressed issue that pages"
    )
    assert len(out.splitlines()) == 4
    assert [method for method, _ in api.calls] == ["GET"]
    assert api.rules == []


def test_applying_creates_then_keeps_then_updates(
    api: RulesApi, rules_file: Path
) -> None:
    created = apply(api, rules_file)
    kept = apply(api, rules_file)
    api.rules[0]["frequency"] = 5  # changed by hand in Sentry
    updated = apply(api, rules_file)

    assert created[0] == kept[0] == updated[0] == 0
    assert {line.split(":")[0] for line in created[1].splitlines()} == {"did create"}
    assert {line.split(":")[0] for line in kept[1].splitlines()} == {"did keep"}
    assert updated[1].splitlines()[0] == (
        "did update: hiccup: new or regressed issue that pages"
    )
    assert len(api.rules) == 4
    page = api.rules[0]["actions"][0]
    assert (page["account"], page["service"]) == ("11", "22")
    assert api.rules[0]["frequency"] == 30


def test_a_missing_integration_id_is_named(api: RulesApi, rules_file: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    args = ["ops", "sentry-apply", "--url", api.url, "--org", "acme"]
    args += ["--project", "writer", "--rules", str(rules_file)]

    status = main(args, out, err)

    assert status == 1
    assert err.getvalue().strip().startswith("no ID given for $")


def test_a_refused_token_is_reported(
    api: RulesApi, rules_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SENTRY_AUTH_TOKEN", "wrong")

    status, _, err = apply(api, rules_file)

    assert status == 1
    assert "401" in err
    assert "Invalid token" in err


def test_without_a_token_nothing_is_sent(
    api: RulesApi, rules_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SENTRY_AUTH_TOKEN")

    status, _, err = apply(api, rules_file)

    assert status == 2
    assert "SENTRY_AUTH_TOKEN" in err
    assert api.calls == []
