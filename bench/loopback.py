"""Serve each app with uvicorn on loopback and load it with wrk.

Every variant gets its own uvicorn process, one worker, on a free port of
127.0.0.1. wrk runs one thread with 16 connections for a few seconds per
sample; the servers are stopped by PID when the run ends, whatever happens.
"""

from __future__ import annotations

import contextlib
import http.client
import importlib.util
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from .apps import ROUTES, VARIANTS

__all__ = [
    "CONNECTIONS",
    "LoopbackRow",
    "WrkResult",
    "parse_wrk",
    "run",
    "server_options",
    "wrk_path",
]

ROOT = Path(__file__).resolve().parent.parent
CONNECTIONS = 16
_START_TIMEOUT_S = 30.0
_STOP_TIMEOUT_S = 10.0
_WARMUP_S = 1
_UNITS_MS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}
_LATENCY = re.compile(r"^\s*(50|99)(?:\.0+)?%\s+([\d.]+)(us|ms|s|m|h)\s*$", re.M)
_RATE = re.compile(r"^Requests/sec:\s+([\d.]+)", re.M)
_TOTAL = re.compile(r"^\s*(\d+) requests in ", re.M)
_NON_2XX = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
_SOCKET_ERRORS = re.compile(
    r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)"
)


class ServerError(RuntimeError):
    """Raised when a uvicorn server does not start or wrk cannot load it."""


@dataclass(frozen=True, slots=True)
class WrkResult:
    """What one wrk run reports."""

    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    non_2xx: int
    socket_errors: int


@dataclass(slots=True)
class LoopbackRow:
    """Every sample of one variant on one route, and a probe of its answer."""

    variant: str
    route: str
    expected: int
    probe_status: int = 0
    probe_request_id: bool = False
    samples: list[WrkResult] = field(default_factory=list)

    @property
    def requests_per_second(self) -> float:
        """The median rate over the samples."""
        return statistics.median(s.requests_per_second for s in self.samples)

    @property
    def p50_ms(self) -> float:
        """The median of the samples' median latencies, in milliseconds."""
        return statistics.median(s.p50_ms for s in self.samples)

    @property
    def p99_ms(self) -> float:
        """The median of the samples' 99th percentile latencies, in milliseconds."""
        return statistics.median(s.p99_ms for s in self.samples)

    @property
    def socket_errors(self) -> int:
        """Socket errors over all samples: connections the server dropped."""
        return sum(s.socket_errors for s in self.samples)

    @property
    def mismatches(self) -> int:
        """How many responses did not have the expected class of status."""
        if self.expected < 300:
            wrong = sum(s.non_2xx for s in self.samples)
        else:
            wrong = sum(s.requests - s.non_2xx for s in self.samples)

        return wrong + (self.probe_status != self.expected)


def wrk_path() -> str | None:
    """Return where wrk is, or None when it is not installed."""
    return shutil.which("wrk")


def server_options() -> list[str]:
    """Return uvicorn's ``--http`` and ``--loop``: the fast ones where installed."""
    http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"

    return ["--http", http, "--loop", loop]


def parse_wrk(output: str) -> WrkResult:
    """Read the rate, latencies and failures from wrk's ``--latency`` report.

    Raises:
        ServerError: the report lacks the rate or a latency percentile.
    """
    rate = _RATE.search(output)
    total = _TOTAL.search(output)
    latencies = {m[1]: float(m[2]) * _UNITS_MS[m[3]] for m in _LATENCY.finditer(output)}
    if rate is None or total is None or set(latencies) != {"50", "99"}:
        raise ServerError(f"wrk printed no rate or latencies:\n{output}")
    non_2xx = _NON_2XX.search(output)
    errors = _SOCKET_ERRORS.search(output)

    return WrkResult(
        requests_per_second=float(rate[1]),
        p50_ms=latencies["50"],
        p99_ms=latencies["99"],
        requests=int(total[1]),
        non_2xx=int(non_2xx[1]) if non_2xx else 0,
        socket_errors=sum(map(int, errors.groups())) if errors else 0,
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]

    return port


def _get(port: int, path: str) -> tuple[int, bool]:
    """Send one GET; return the status and whether an X-Request-ID came back."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
    finally:
        connection.close()

    return response.status, response.getheader("x-request-id") is not None


def _tail(log: IO[bytes]) -> str:
    log.flush()
    log.seek(0)

    return log.read().decode(errors="replace")[-4000:]


def _wait_until_ready(
    process: subprocess.Popen[bytes], port: int, log: IO[bytes]
) -> None:
    deadline = time.monotonic() + _START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerError(
                f"uvicorn exited with {process.returncode}:\n{_tail(log)}"
            )
        with contextlib.suppress(OSError):
            if _get(port, "/json")[0] == 200:
                return
        time.sleep(0.1)
    raise ServerError(
        f"uvicorn did not answer in {_START_TIMEOUT_S:.0f} s:\n{_tail(log)}"
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=_STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextlib.contextmanager
def _server(variant: str) -> Iterator[int]:
    """Serve one variant with uvicorn while the block runs; yield its port.

    The server's own output, tracebacks included, goes to a temporary file
    that is shown only if it fails to start.
    """
    factory = VARIANTS[variant].__name__
    port = _free_port()
    command = [
        sys.executable,
        *("-m", "uvicorn", f"bench.apps:{factory}", "--factory"),
        *("--host", "127.0.0.1", "--port", str(port)),
        *("--no-access-log", "--log-level", "warning", *server_options()),
    ]
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    # A server that drains on SIGTERM would make each variant's stop wait.
    env = {**os.environ, "PYTHONPATH": path, "HICCUP_DRAIN_SECONDS": "0"}
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log
        )
        try:
            _wait_until_ready(process, port, log)
            yield port
        finally:
            _stop(process)


def _wrk(wrk: str, port: int, path: str, seconds: int) -> WrkResult:
    url = f"http://127.0.0.1:{port}{path}"
    command = [wrk, "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency", url]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=seconds + 30, check=False
    )
    if done.returncode != 0:
        raise ServerError(f"wrk exited with {done.returncode}:\n{done.stderr}")

    return parse_wrk(done.stdout)


def _probe(rows: dict[tuple[str, str], LoopbackRow], variant: str, port: int) -> None:
    for route in ROUTES:
        row = rows[variant, route]
        row.probe_status, row.probe_request_id = _get(port, route)


def run(
    wrk: str, rounds: int, seconds: int, variants: Sequence[str] = tuple(VARIANTS)
) -> list[LoopbackRow]:
    """Load each of ``variants`` on every route, interleaved over ``rounds``
    rounds.

    All servers run for the whole measurement and take turns; an idle one
    only waits on its socket.

    Returns:
        One row per route and variant, in the order of the tables.
    """
    rows = {
        (variant, route): LoopbackRow(variant, route, expected)
        for route, expected in ROUTES.items()
        for variant in variants
    }
    names = list(variants)
    with contextlib.ExitStack() as stack:
        ports = {name: stack.enter_context(_server(name)) for name in names}
        for name, port in ports.items():
            _probe(rows, name, port)
            _wrk(wrk, port, "/json", _WARMUP_S)
        for index in range(rounds):
            print(f"loopback: round {index + 1} of {rounds}", file=sys.stderr)
            shift = index % len(names)
            for route in ROUTES:
                for name in names[shift:] + names[:shift]:
                    rows[name, route].samples.append(
                        _wrk(wrk, ports[name], route, seconds)
                    )

    return list(rows.values())
