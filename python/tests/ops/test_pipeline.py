"""From a failing app to a page: a real Prometheus scrapes the demo while it
fails, evaluates the generated rules, and a real Alertmanager routes what
fires to PagerDuty's and Slack's stand-ins on loopback.

The rules are the generated ones with short windows, so that a minute of
load is enough; everything else about them is what ops/ ships.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import httpx
import pytest
from fast_rules import FAST, write_rules
from prometheus import prometheus_server
from servers import Server, free_port, loopback_http
from writer_support import demo_server

from hiccup.ops._alertmanager import alertmanager_config
from hiccup.ops._generate import _yaml
from hiccup.ops._rules import alerts

ROUTING_KEY = "r0ut1ngk3y0000000000000000000000"
#: The page the load must cause.
BURN = next(a.name for a in alerts(FAST) if a.name.startswith("HiccupErrorBudgetBurn"))


@dataclass
class Receiver:
    """PagerDuty's Events API v2 and a Slack webhook, as one loopback server."""

    url: str = ""
    pages: list[dict[str, Any]] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if self.path == "/v2/enqueue":
                state.pages.append(body)
                status, answer = (
                    202,
                    b'{"status":"success","message":"Event processed"}',
                )
            else:
                state.messages.append(body)
                status, answer = 200, b"ok"
            self.send_response(status)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: object) -> None:
            """Quiet."""

    with loopback_http(Handler) as url:
        state.url = url
        yield state


def _alertmanager_config(directory: Path, receiver: Receiver) -> Path:
    """The generated configuration, with its secrets and endpoints local and
    its waits short."""
    config = alertmanager_config(FAST)
    key_file = directory / "pagerduty-routing-key"
    key_file.write_text(ROUTING_KEY)
    url_file = directory / "slack-webhook-url"
    url_file.write_text(f"{receiver.url}/slack")
    config["global"]["slack_api_url_file"] = str(url_file)
    config["route"].update(group_wait="1s", group_interval="1s", repeat_interval="1h")
    for each in config["receivers"]:
        for page in each.get("pagerduty_configs", []):
            page.update(
                routing_key_file=str(key_file), url=f"{receiver.url}/v2/enqueue"
            )
    path = directory / "alertmanager.yml"
    path.write_text(_yaml(config))
    return path


@pytest.fixture
def alertmanager(tmp_path: Path, receiver: Receiver) -> Iterator[str]:
    binary = shutil.which("prometheus-alertmanager")
    if binary is None:
        pytest.fail("prometheus-alertmanager not found: install Debian's package")
    port = free_port()
    config = _alertmanager_config(tmp_path, receiver)
    with (tmp_path / "alertmanager.log").open("wb") as log:
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.path={tmp_path / 'am-data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--cluster.listen-address=",
                "--log.level=warn",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"{url}/-/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((tmp_path / "alertmanager.log").read_text())
            time.sleep(0.1)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=15)


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Server]:
    with demo_server(tmp_path) as server:
        yield server


def _load(
    demo: Server, until: float, done: threading.Event, breaking: threading.Event
) -> None:
    """Fail about one request in ten with a 500, and once ``breaking`` is
    set, fail model calls too, until ``done`` is set or at most until
    ``until``: bounded in time and in count."""
    httpx.put(
        f"{demo.url}/qa/faults", json={"outage": True, "fallbacks": False}
    ).raise_for_status()
    with httpx.Client(base_url=demo.url, timeout=10) as client:
        for sent in range(2000):
            if done.is_set() or time.monotonic() > until:
                return
            if sent % 10 == 0:
                client.get("/api/codes/INTERNAL")
            elif sent % 10 == 5 and breaking.is_set():
                client.post("/api/drafts/stream", json={"prompt": "a note"})
            else:
                client.get("/api/drafts")
            time.sleep(0.05)


def _inhibited_breaker(alertmanager: str) -> list[dict[str, Any]]:
    held = httpx.get(f"{alertmanager}/api/v2/alerts").json()
    return [
        alert
        for alert in held
        if alert["labels"]["alertname"] == "HiccupBreakerOpen"
        and alert["status"]["inhibitedBy"]
    ]


def test_a_failing_app_pages_pagerduty_and_tells_slack_and_nothing_more(
    tmp_path: Path, demo: Server, alertmanager: str, receiver: Receiver
) -> None:
    rules = write_rules(tmp_path)
    (tmp_path / "prometheus").mkdir()
    with prometheus_server(
        [demo.url],
        tmp_path / "prometheus",
        rule_files=[rules],
        alertmanagers=[alertmanager],
    ) as prometheus:
        deadline = time.monotonic() + 90
        done, breaking = threading.Event(), threading.Event()
        loader = threading.Thread(target=_load, args=(demo, deadline, done, breaking))
        loader.start()
        while time.monotonic() < deadline and not receiver.pages:
            time.sleep(0.5)
        # With the page out, a warning of the same service starts firing.
        breaking.set()
        inhibited: list[dict[str, Any]] = []
        while time.monotonic() < deadline and not inhibited:
            time.sleep(0.5)
            inhibited = _inhibited_breaker(alertmanager)
        firing = prometheus.query('ALERTS{alertstate="firing"}')
        done.set()
        # Past the route's group interval: whatever would be sent, has been.
        time.sleep(3)
        delivered = json.dumps(receiver.messages)
        loader.join()

    assert receiver.pages, (tmp_path / "alertmanager.log").read_text()
    page = receiver.pages[0]
    assert page["routing_key"] == ROUTING_KEY
    assert page["event_action"] == "trigger"
    assert page["dedup_key"]
    assert page["payload"]["severity"] == "critical"
    assert page["payload"]["summary"].startswith(f"{BURN} on hiccup-demo")
    names = {sample["metric"]["alertname"] for sample in firing}
    assert BURN in names
    incidents = [m for m in receiver.messages if m.get("channel") == "#incidents"]
    assert any(BURN in json.dumps(m) for m in incidents)
    # The breaker's warning fired too, and the page held it back.
    assert inhibited, "the breaker's warning never fired"
    assert inhibited[0]["labels"]["severity"] == "warning"
    assert "HiccupBreakerOpen" not in delivered
