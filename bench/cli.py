"""``python -m bench``: what hiccup costs per request, beside the alternatives.

    python -m bench [--rounds R] [--requests N] [--seconds S]
                    [--mode inprocess|loopback|both|storm|instructions]
                    [--variants NAME,...] [--quick] [--json PATH]

The variants take turns within each round (in process, slice by slice), and
the tables show medians over the rounds, so that a burst of load from a
neighbour on a shared machine spreads over all of them instead of landing on
one. Compare the ratios of one run: absolute numbers from different runs or
machines do not compare. ``--mode instructions`` counts instructions per
request under valgrind instead, which a neighbour's load does not change.

``--mode storm`` runs only a simulated retry storm (see ``bench.storm``): how
hiccup's retries, budget and breaker load a failing dependency, beside no
retries, naive ones and plain backoff. It runs in simulated time, seeded, in
a few seconds, so the default mode, ``both``, runs it too, after the
measurements; ``--quick`` leaves it as it is.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from . import inprocess, instructions, loopback, report, storm
from .apps import BASELINE, ROUTES, VARIANTS

__all__ = ["main"]

DEFAULT_ROUNDS = 3
DEFAULT_REQUESTS = 5000
DEFAULT_SECONDS = 3
DEFAULTS = {
    "rounds": DEFAULT_ROUNDS,
    "requests": DEFAULT_REQUESTS,
    "seconds": DEFAULT_SECONDS,
}
#: What ``--quick`` sets, where no option says otherwise: a run of seconds.
QUICK = {"rounds": 1, "requests": 50, "seconds": 1}
_MAX_WARMUP = 500
#: Requests are some fifty times slower under valgrind: this many suffice, as
#: the count hardly varies from one request to the next.
_MAX_COUNTED = 1000
_ON_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
_PACKAGES = (
    "fastapi",
    "starlette",
    "uvicorn",
    "structlog",
    "asgi-correlation-id",
    "opentelemetry-sdk",
    "opentelemetry-instrumentation-fastapi",
    "prometheus-client",
    "prometheus-fastapi-instrumentator",
    "sentry-sdk",
)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(
            f"expected a positive whole number, not {text!r}"
        )

    return value


def _variants(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in VARIANTS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"expected variants among {', '.join(VARIANTS)}, not {text!r}"
        )
    # The baseline is what every ratio is taken against.
    chosen = {BASELINE, *names}

    return [name for name in VARIANTS if name in chosen]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Measure hiccup against bare FastAPI and the usual stack.",
    )
    parser.add_argument(
        "--rounds",
        type=_positive,
        help=f"samples per variant and route (default {DEFAULT_ROUNDS})",
    )
    parser.add_argument(
        "--requests",
        type=_positive,
        help=f"requests per in-process sample (default {DEFAULT_REQUESTS})",
    )
    parser.add_argument(
        "--seconds",
        type=_positive,
        help=f"seconds per loopback sample (default {DEFAULT_SECONDS})",
    )
    parser.add_argument(
        "--mode",
        choices=("inprocess", "loopback", "both", "storm", "instructions"),
        default="both",
        help="calls in process, requests over loopback, or both and then the"
        " storm (default both); or only the simulated retry storm; or"
        " instructions counted by valgrind, in process",
    )
    parser.add_argument(
        "--variants",
        type=_variants,
        default=list(VARIANTS),
        metavar="NAME,...",
        help=f"measure only these, and {BASELINE} (default: all of"
        f" {', '.join(VARIANTS)})",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a tiny run that checks the benchmark works",
    )
    parser.add_argument(
        "--json", type=Path, metavar="PATH", help="also write the results as JSON here"
    )

    return parser


def _options(argv: Sequence[str] | None) -> argparse.Namespace:
    options = _parser().parse_args(argv)
    defaults = QUICK if options.quick else DEFAULTS
    for name, value in defaults.items():
        if getattr(options, name) is None:
            setattr(options, name, value)

    return options


def _environment() -> dict[str, object]:
    found: dict[str, object] = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "server": " ".join(loopback.server_options()),
    }
    for package in _PACKAGES:
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = "not installed"

    return found


def _banner(text: str) -> None:
    print("=" * 72)
    print(text)
    print("=" * 72)


def _report(
    results: dict[str, object],
    mode: str,
    *,
    heading: str,
    table: str,
    document: dict[str, object],
    summary: list[str],
) -> None:
    """Print one mode's heading and table, and keep its results and summary."""
    print(heading)
    print(table)
    print()
    results[mode] = document
    _summary(results).extend(summary)


def _run_inprocess(options: argparse.Namespace, results: dict[str, object]) -> int:
    """Print the in-process table and keep its results; return the mismatches."""
    warmup = min(options.requests, _MAX_WARMUP)
    rows = inprocess.run(options.rounds, options.requests, warmup, options.variants)
    _report(
        results,
        "inprocess",
        heading=f"in-process: {options.rounds} round(s) of {options.requests}"
        f" requests per variant and route, in {inprocess.SLICES} interleaved slices;"
        " median µs per request, and until the response was complete"
        " (lower is better)",
        table=report.inprocess_table(rows),
        document=report.inprocess_json(rows),
        summary=[
            *report.summary_lines("in-process", report.inprocess_costs(rows)),
            *report.completion_lines("in-process", report.inprocess_complete(rows)),
        ],
    )

    return sum(row.mismatches for row in rows)


def _run_instructions(
    options: argparse.Namespace, valgrind: str, results: dict[str, object]
) -> int:
    """Print the instructions table and keep its results; return the mismatches."""
    requests = min(options.requests, _MAX_COUNTED)
    rows = instructions.run(
        valgrind, requests, min(requests, _MAX_WARMUP), options.variants
    )
    _report(
        results,
        "instructions",
        heading=f"instructions: {requests} requests per variant and route under"
        " valgrind's callgrind, one process per variant; thousands of instructions per"
        " request (lower is better)",
        table=report.instructions_table(rows),
        document=report.instructions_json(rows),
        summary=[
            *report.summary_lines(
                "instructions", report.instructions_costs(rows), unit="k instructions"
            ),
            *report.completion_lines(
                "instructions", report.instructions_complete(rows), "k instructions"
            ),
        ],
    )

    return sum(row.mismatches for row in rows)


def _run_loopback(
    options: argparse.Namespace, wrk: str, results: dict[str, object]
) -> int:
    """Print the loopback table and keep its results; return the mismatches."""
    rows = loopback.run(wrk, options.rounds, options.seconds, options.variants)
    _report(
        results,
        "loopback",
        heading=f"loopback: uvicorn {' '.join(loopback.server_options())}, one worker;"
        f" wrk -t1 -c{loopback.CONNECTIONS} -d{options.seconds}s;"
        f" {options.rounds} round(s), medians (req/s: higher is better)",
        table=report.loopback_table(rows),
        document=report.loopback_json(rows),
        summary=report.summary_lines("loopback", report.loopback_costs(rows)),
    )

    return sum(row.mismatches for row in rows)


def _run_storm(results: dict[str, object]) -> None:
    """Print the retry storm's table and keep its results and targets."""
    rows = storm.run_all()
    checks = storm.targets(rows)
    _report(
        results,
        "storm",
        heading=storm.heading(),
        table=storm.storm_table(rows),
        document=storm.storm_json(rows, checks),
        summary=storm.summary_lines(checks),
    )


def _summary(results: dict[str, object]) -> list[str]:
    lines = results.setdefault("summary", [])
    assert isinstance(lines, list)

    return lines


def _start(options: argparse.Namespace) -> dict[str, object]:
    """Print what is measured, and on what; return the results' first keys."""
    environment = _environment()
    print(f"variants: {', '.join(options.variants)}; routes: {', '.join(ROUTES)}")
    print(", ".join(f"{name} {value}" for name, value in environment.items()))
    print()

    return {
        "environment": environment,
        "options": {
            "mode": options.mode,
            "rounds": options.rounds,
            "requests": options.requests,
            "seconds": options.seconds,
            "variants": options.variants,
        },
        "summary": [],
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print its tables; return the exit status.

    The status is 1 when a variant answered a route with another status than
    the one in ``ROUTES``, which would make its timings meaningless, and when
    wrk is missing under ``CI=true``.
    """
    options = _options(argv)
    wrk = loopback.wrk_path()
    if options.mode in {"loopback", "both"} and wrk is None and _ON_CI:
        _banner("FAILED bench: wrk not found; the loopback mode needs it (CI=true)")
        return 1

    results = _start(options)
    mismatches = 0
    if options.mode == "instructions":
        valgrind = instructions.valgrind_path()
        if valgrind is None:
            _banner(
                "FAILED bench: valgrind not found (on Debian: apt-get install valgrind)"
            )
            return 1
        mismatches += _run_instructions(options, valgrind, results)
    if options.mode in {"inprocess", "both"}:
        mismatches += _run_inprocess(options, results)
    if options.mode in {"loopback", "both"}:
        if wrk is None:
            _banner("SKIPPED loopback: wrk not found (on Debian: apt-get install wrk)")
            results["loopback"] = {"skipped": "wrk not found"}
        else:
            mismatches += _run_loopback(options, wrk, results)
    if options.mode in {"storm", "both"}:
        # Missed targets are in the summary: the status is for a broken run.
        _run_storm(results)

    for line in _summary(results):
        print(line)
    if options.json is not None:
        options.json.write_text(json.dumps(results, indent=2) + "\n")
    if mismatches:
        _banner(f"FAILED bench: {mismatches} response(s) had an unexpected status")
        return 1

    return 0
