"""A real Prometheus for the tests: on a free loopback port, stopped by PID.

    with prometheus_server([server.url], tmp_path) as prometheus:
        prometheus.wait_for("sum(up)", lambda result: result == [...])

It runs Debian's ``prometheus`` with a generated configuration that scrapes
the given targets at a short interval and keeps its TSDB in a temporary
directory; queries go through its HTTP API as instant queries.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx2
from servers import free_port

BINARY = "/usr/bin/prometheus"
#: Short enough that a test waits about a second for a sample.
SCRAPE_INTERVAL = "1s"

Vector = list[dict[str, Any]]


class PrometheusError(RuntimeError):
    """Raised when Prometheus does not start or answers a query with an error."""


@dataclass
class Prometheus:
    """A running Prometheus and what it needs to be asked things."""

    process: subprocess.Popen[bytes]
    port: int
    directory: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        """What Prometheus logged so far."""
        return (self.directory / "prometheus.log").read_text(errors="replace")

    def query(self, promql: str) -> Vector:
        """Run an instant query; return its result, a vector of samples.

        Raises:
            PrometheusError: the query failed or did not return a vector.
        """
        response = httpx2.get(
            f"{self.url}/api/v1/query", params={"query": promql}, timeout=10
        )
        answer = response.json()
        if answer.get("status") != "success":
            raise PrometheusError(f"query {promql!r} failed: {answer!r}")
        data = answer["data"]
        if data["resultType"] != "vector":
            raise PrometheusError(f"query {promql!r} returned {data['resultType']}")
        result: Vector = data["result"]

        return result

    def query_range(
        self, promql: str, start: float, end: float, step: float = 1.0
    ) -> list[dict[str, Any]]:
        """Run a range query, as Grafana's panels do; return its series.

        Raises:
            PrometheusError: the query failed or did not return a matrix.
        """
        response = httpx2.post(
            f"{self.url}/api/v1/query_range",
            data={"query": promql, "start": start, "end": end, "step": step},
            timeout=30,
        )
        answer = response.json()
        if answer.get("status") != "success":
            raise PrometheusError(f"query {promql!r} failed: {answer!r}")
        data = answer["data"]
        if data["resultType"] != "matrix":
            raise PrometheusError(f"query {promql!r} returned {data['resultType']}")
        series: list[dict[str, Any]] = data["result"]

        return series

    def label_values(self, label: str, match: str) -> list[str]:
        """Return the values ``label`` has on the series ``match`` selects,
        as Grafana's ``label_values`` variables ask for them."""
        response = httpx2.get(
            f"{self.url}/api/v1/label/{label}/values",
            params={"match[]": match},
            timeout=10,
        )
        answer = response.json()
        if answer.get("status") != "success":
            raise PrometheusError(f"values of {label!r} failed: {answer!r}")
        values: list[str] = answer["data"]

        return values

    def samples(self, promql: str, *by: str) -> dict[tuple[str, ...], float]:
        """Run an instant query; return its values keyed by the ``by`` labels."""
        return keyed(self.query(promql), *by)

    def wait_for(
        self,
        promql: str,
        predicate: Callable[[Vector], bool],
        timeout: float = 30,
    ) -> Vector:
        """Run a query until its result satisfies ``predicate``; return it.

        It returns the last result when the deadline passes, so that the
        test's assertion shows what Prometheus had.
        """
        deadline = time.monotonic() + timeout
        while True:
            result = self.query(promql)
            if predicate(result) or time.monotonic() > deadline:
                return result
            time.sleep(0.25)

    def exemplars(self, promql: str, since: float) -> list[dict[str, str]]:
        """Return the labels of every exemplar of ``promql``'s series since then.

        Prometheus keeps exemplars only with ``--enable-feature=exemplar-storage``.
        """
        response = httpx2.get(
            f"{self.url}/api/v1/query_exemplars",
            params={"query": promql, "start": since, "end": time.time() + 60},
            timeout=10,
        )
        answer = response.json()
        if answer.get("status") != "success":
            raise PrometheusError(f"exemplars of {promql!r} failed: {answer!r}")

        return [
            exemplar["labels"]
            for series in answer["data"]
            for exemplar in series["exemplars"]
        ]

    def targets(self) -> list[dict[str, Any]]:
        """The active scrape targets, with their health and last error."""
        response = httpx2.get(f"{self.url}/api/v1/targets", timeout=10)
        active: list[dict[str, Any]] = response.json()["data"]["activeTargets"]

        return active


def keyed(result: Vector, *by: str) -> dict[tuple[str, ...], float]:
    """Return the values of a vector keyed by the values of the ``by`` labels."""
    return {
        tuple(sample["metric"].get(label, "") for label in by): float(
            sample["value"][1]
        )
        for sample in result
    }


def write_config(
    path: Path,
    targets: Sequence[str],
    *,
    metrics_path: str = "/metrics",
    interval: str = SCRAPE_INTERVAL,
    rule_files: Sequence[Path] = (),
    alertmanagers: Sequence[str] = (),
) -> None:
    """Write a configuration scraping ``targets`` (base URLs) as job ``app``,
    sending alerts to ``alertmanagers`` (base URLs)."""
    hosts = [urlsplit(target).netloc for target in targets]
    config = {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "rule_files": [str(rule) for rule in rule_files],
        "scrape_configs": [
            {
                "job_name": "app",
                "metrics_path": metrics_path,
                "scrape_interval": interval,
                "scrape_timeout": interval,
                "static_configs": [{"targets": hosts}],
            }
        ],
    }
    if alertmanagers:
        managers = [urlsplit(url).netloc for url in alertmanagers]
        config["alerting"] = {
            "alertmanagers": [{"static_configs": [{"targets": managers}]}]
        }
    # JSON is YAML, and needs no YAML library.
    path.write_text(json.dumps(config, indent=2))


@contextmanager
def prometheus_server(
    targets: Sequence[str],
    directory: Path,
    *,
    metrics_path: str = "/metrics",
    interval: str = SCRAPE_INTERVAL,
    rule_files: Sequence[Path] = (),
    alertmanagers: Sequence[str] = (),
    extra_args: Sequence[str] = (),
) -> Iterator[Prometheus]:
    """Run Prometheus scraping ``targets`` until the block ends.

    Args:
        targets: Base URLs (``http://127.0.0.1:PORT``) to scrape.
        directory: An empty directory for the configuration, the TSDB and
            the log.
        rule_files: Recording or alerting rule files to load.
        alertmanagers: Base URLs of Alertmanagers to send alerts to.
        extra_args: More command-line flags, such as
            ``--enable-feature=exemplar-storage``.
    """
    binary = shutil.which(BINARY)
    if binary is None:
        raise PrometheusError(f"{BINARY} is missing: apt-get install prometheus")
    config = directory / "prometheus.yml"
    write_config(
        config,
        targets,
        metrics_path=metrics_path,
        interval=interval,
        rule_files=rule_files,
        alertmanagers=alertmanagers,
    )
    port = free_port()
    with (directory / "prometheus.log").open("wb") as log:
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={directory / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--log.level=warn",
                *extra_args,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    prometheus = Prometheus(process, port, directory)
    try:
        _wait_until_ready(prometheus)
        yield prometheus
    finally:
        _stop(process)


def _wait_until_ready(prometheus: Prometheus, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if prometheus.process.poll() is not None:
            raise PrometheusError(
                f"prometheus exited with {prometheus.process.returncode}:\n"
                f"{prometheus.output()}"
            )
        try:
            if httpx2.get(f"{prometheus.url}/-/ready", timeout=1).status_code == 200:
                return
        except httpx2.TransportError:
            pass
        time.sleep(0.1)
    raise PrometheusError(f"prometheus was not ready within {timeout} s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)
