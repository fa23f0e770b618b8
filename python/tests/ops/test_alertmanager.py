"""Alertmanager's generated configuration, checked and routed by the real amtool."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from hiccup.cli import main
from hiccup.ops import render
from hiccup.ops._alertmanager import RECEIVERS
from hiccup.ops._generate import ALERTMANAGER


def amtool() -> str:
    found = shutil.which("amtool")
    if found is None:
        pytest.fail("amtool not found: install Debian's prometheus-alertmanager")
    return found


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ops")
    assert main(["ops", "gen", "--root", str(root)], io.StringIO()) == 0
    return root / ALERTMANAGER


def routed(config: Path, *labels: str) -> list[str]:
    done = subprocess.run(
        [amtool(), "config", "routes", "test", f"--config.file={config}", *labels],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.split()


def test_amtool_accepts_the_configuration(config: Path) -> None:
    done = subprocess.run(
        [amtool(), "check-config", str(config)],
        capture_output=True,
        text=True,
        check=False,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout
    assert "3 receivers" in done.stdout
    assert "1 inhibit rules" in done.stdout


@pytest.mark.parametrize(
    ("severity", "receiver"),
    [
        ("critical", "pagerduty-and-incidents"),
        ("warning", "slack-alerts"),
        ("info", "slack-alerts-info"),
    ],
)
def test_each_severity_goes_to_its_receiver(
    config: Path, severity: str, receiver: str
) -> None:
    labels = (
        f"severity={severity}",
        "service=hiccup-demo",
        "alertname=HiccupTargetDown",
    )

    assert routed(config, *labels) == [receiver]


def test_an_alert_without_a_severity_still_reaches_someone(config: Path) -> None:
    assert routed(config, "alertname=Custom", "service=hiccup-demo") == [
        RECEIVERS["warning"]
    ]


def test_pages_carry_their_severity_and_everything_sends_resolutions() -> None:
    parsed = yaml.safe_load(render()[ALERTMANAGER])
    receivers = {receiver["name"]: receiver for receiver in parsed["receivers"]}

    [page] = receivers["pagerduty-and-incidents"]["pagerduty_configs"]
    assert page["severity"] == "{{ .CommonLabels.severity }}"
    channels = {
        name: [slack["channel"] for slack in receiver["slack_configs"]]
        for name, receiver in receivers.items()
    }
    assert channels == {
        "pagerduty-and-incidents": ["#incidents"],
        "slack-alerts": ["#alerts"],
        "slack-alerts-info": ["#alerts-info"],
    }
    configs = [page, *(s for r in receivers.values() for s in r["slack_configs"])]
    assert all(each["send_resolved"] is True for each in configs)
    assert parsed["route"]["group_by"] == ["alertname", "service"]
    [inhibit] = parsed["inhibit_rules"]
    assert inhibit == {
        "source_matchers": ['severity="critical"'],
        "target_matchers": ['severity="warning"'],
        "equal": ["service"],
    }


def test_no_secret_is_in_the_configuration() -> None:
    text = render()[ALERTMANAGER]

    assert "routing_key_file: /etc/alertmanager/secrets/" in text
    assert "slack_api_url_file: /etc/alertmanager/secrets/" in text
    assert "hooks.slack.com" not in text
    assert "routing_key:" not in text
