"""Four gunicorn workers share their metrics through the multiprocess directory."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest
from prometheus_client.parser import text_string_to_metric_families
from servers import SERVED_APPS, free_port

WORKERS = 4
WAVES = 4
REQUESTS = 100 * WAVES
#: Gunicorn calls this as each worker exits, as the docs of hiccup's metrics say.
CONFIG = """\
from hiccup._metrics import mark_process_dead

# Gunicorn 27 opens a control socket in the home directory; older ones
# ignore the setting.
control_socket_disable = True


def child_exit(server, worker):
    mark_process_dead(worker.pid)
"""


@dataclass
class Gunicorn:
    process: subprocess.Popen[bytes]
    port: int
    directory: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def multiproc_dir(self) -> Path:
        return self.directory / "multiproc"

    def workers(self) -> set[int]:
        """The PIDs of the workers whose app is built."""
        return {int(path.name) for path in (self.directory / "ready").iterdir()}

    def output(self) -> str:
        return (self.directory / "gunicorn.log").read_text(errors="replace")


def _wait(
    condition: Callable[[], bool], what: str, gunicorn: Gunicorn, timeout: float = 60
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if gunicorn.process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"gunicorn: {what} did not happen:\n{gunicorn.output()}")
        time.sleep(0.1)


@contextmanager
def gunicorn_server(directory: Path) -> Iterator[Gunicorn]:
    """Run the metrics app under gunicorn with uvicorn workers on loopback."""
    (directory / "multiproc").mkdir()
    (directory / "ready").mkdir()
    config = directory / "gunicorn.conf.py"
    config.write_text(CONFIG)
    port = free_port()
    environment = {
        **os.environ,
        "PROMETHEUS_MULTIPROC_DIR": str(directory / "multiproc"),
        "HICCUP_TEST_READY_DIR": str(directory / "ready"),
        "HICCUP_DRAIN_SECONDS": "0",
        "PYTHONUNBUFFERED": "1",
    }
    with (directory / "gunicorn.log").open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "metrics_app:create()",
                f"--config={config}",
                f"--pythonpath={SERVED_APPS}",
                f"--workers={WORKERS}",
                "--worker-class=uvicorn_worker.UvicornWorker",
                f"--bind=127.0.0.1:{port}",
                "--graceful-timeout=5",
                "--keep-alive=60",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=environment,
        )
    gunicorn = Gunicorn(process, port, directory)
    try:
        _wait(lambda: len(gunicorn.workers()) >= WORKERS, "4 workers", gunicorn)
        yield gunicorn
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@pytest.fixture(scope="module")
def gunicorn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gunicorn]:
    with gunicorn_server(tmp_path_factory.mktemp("gunicorn")) as running:
        yield running


def fire(
    base_url: str, path: str, per_wave: int, waves: int = 1
) -> list[httpx2.Response]:
    """Send ``waves`` of ``per_wave`` requests, each over 64 new connections.

    Every wave opens its connections anew, for the workers to accept afresh:
    one worker's event loop can accept a whole burst of them in one go.
    """

    async def wave(size: int) -> list[httpx2.Response]:
        limits = httpx2.Limits(max_connections=64, max_keepalive_connections=64)
        async with httpx2.AsyncClient(
            base_url=base_url, limits=limits, timeout=60
        ) as client:
            return await asyncio.gather(*(client.get(path) for _ in range(size)))

    async def send() -> list[httpx2.Response]:
        return [response for _ in range(waves) for response in await wave(per_wave)]

    return asyncio.run(send())


def scraped(gunicorn: Gunicorn, name: str, **labels: str) -> float:
    """Scrape one worker's endpoint; return the sum of a metric's matching samples."""
    text = httpx2.get(f"{gunicorn.url}/metrics", timeout=30).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and labels.items() <= sample.labels.items()
    )


def scraped_until(
    gunicorn: Gunicorn, expected: float, name: str, **labels: str
) -> float:
    """Scrape until the sum is ``expected`` or 10 s pass; return the last sum.

    A worker records a request just after its response has left, so the
    scrape may come a moment before the last ones.
    """
    deadline = time.monotonic() + 10
    while (value := scraped(gunicorn, name, **labels)) != expected:
        if time.monotonic() > deadline:
            return value
        time.sleep(0.1)

    return value


def test_every_workers_requests_are_in_one_scrape(gunicorn: Gunicorn) -> None:
    responses = fire(gunicorn.url, "/pid", REQUESTS // WAVES, WAVES)

    assert [response.status_code for response in responses] == [200] * REQUESTS
    served_by = {response.json()["pid"] for response in responses}
    assert len(served_by) > 1
    assert served_by <= gunicorn.workers()
    count = "http_server_request_duration_seconds_count"
    assert scraped_until(gunicorn, REQUESTS, count, http_route="/pid") == REQUESTS


def test_active_requests_add_up_across_workers(gunicorn: Gunicorn) -> None:
    # The scrape itself is the one request in flight.
    assert scraped_until(gunicorn, 1, "http_server_active_requests") == 1


def test_build_info_is_one_whatever_the_number_of_workers(gunicorn: Gunicorn) -> None:
    labels = {"service": "writer-api", "version": "1.4.2", "environment": "test"}

    assert scraped(gunicorn, "hiccup_build_info", **labels) == 1


def test_a_dead_workers_live_gauges_are_dropped(gunicorn: Gunicorn) -> None:
    [victim] = {response.json()["pid"] for response in fire(gunicorn.url, "/pid", 1)}
    live = gunicorn.multiproc_dir / f"gauge_livesum_{victim}.db"
    assert live.exists()

    os.kill(victim, signal.SIGTERM)

    _wait(lambda: not live.exists(), f"removing {live.name}", gunicorn, timeout=30)
    assert (gunicorn.multiproc_dir / f"histogram_{victim}.db").exists()
