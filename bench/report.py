"""Tables, summary lines and the JSON document of a benchmark run."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from .apps import BASELINE, COMPARED
from .inprocess import InProcessRow
from .instructions import InstructionRow
from .loopback import LoopbackRow

__all__ = [
    "FAILURE_ROUTE",
    "SUMMARY_ROUTE",
    "completion_lines",
    "inprocess_complete",
    "inprocess_costs",
    "inprocess_json",
    "inprocess_table",
    "instructions_complete",
    "instructions_costs",
    "instructions_json",
    "instructions_table",
    "loopback_costs",
    "loopback_json",
    "loopback_table",
    "overheads",
    "summary_lines",
]

#: The route the summary lines are about: the one that succeeds.
SUMMARY_ROUTE = "/json"
#: The route whose time until the response is complete the summary gives.
FAILURE_ROUTE = "/boom"


def _format_table(
    header: Sequence[str], lines: Sequence[Sequence[str]], numbers: range
) -> str:
    """Align columns: those in ``numbers`` to the right, the others to the left."""
    widths = [max(len(row[i]) for row in [header, *lines]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        parts = [
            cell.rjust(width) if i in numbers else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    return "\n".join([line(header), *(line(cells) for cells in lines)])


def _status(status: int, mismatches: int, raised: int = 0) -> str:
    text = str(status)
    if raised:
        text += " raised"
    if mismatches:
        text += f" ({mismatches} WRONG)"

    return text


def _ratio(value: float, baseline: float) -> str:
    return f"{value / baseline:.2f}x" if baseline else "-"


def inprocess_table(rows: Sequence[InProcessRow]) -> str:
    """Return the in-process table: median µs per request and ratio to FastAPI.

    ``raised`` in the status column means the exception left the app after
    the 500 was sent, as bare FastAPI's does; a server then logs it and
    closes the connection.
    """
    baseline = {row.route: row.median_us for row in rows if row.variant == BASELINE}
    header = ["variant", "route", "µs/req", "min-max", f"vs {BASELINE}"]
    header += ["µs to complete", "status", "x-request-id"]
    lines = [
        [
            row.variant,
            row.route,
            f"{row.median_us:.1f}",
            f"{min(row.samples_us):.1f}-{max(row.samples_us):.1f}",
            _ratio(row.median_us, baseline[row.route]),
            f"{row.median_complete_us:.1f}",
            _status(row.probe.status, row.mismatches, row.raised),
            "yes" if "x-request-id" in row.probe.headers else "no",
        ]
        for row in rows
    ]

    return _format_table(header, lines, numbers=range(2, 6))


def loopback_table(rows: Sequence[LoopbackRow]) -> str:
    """Return the loopback table: median req/s and latencies, ratio of req/s."""
    baseline = {
        row.route: row.requests_per_second for row in rows if row.variant == BASELINE
    }
    header = ["variant", "route", "req/s", f"vs {BASELINE}", "p50 ms", "p99 ms"]
    header += ["socket errors", "status", "x-request-id"]
    lines = [
        [
            row.variant,
            row.route,
            f"{row.requests_per_second:.0f}",
            _ratio(row.requests_per_second, baseline[row.route]),
            f"{row.p50_ms:.2f}",
            f"{row.p99_ms:.2f}",
            str(row.socket_errors),
            _status(row.probe_status, row.mismatches),
            "yes" if row.probe_request_id else "no",
        ]
        for row in rows
    ]

    return _format_table(header, lines, numbers=range(2, 7))


def instructions_table(rows: Sequence[InstructionRow]) -> str:
    """Return the instructions table: thousands per request, ratio to FastAPI."""
    baseline = {row.route: row.per_request for row in rows if row.variant == BASELINE}
    header = ["variant", "route", "k instr/req", f"vs {BASELINE}"]
    header += ["k to complete", "status"]
    lines = [
        [
            row.variant,
            row.route,
            f"{row.per_request / 1000:.1f}",
            _ratio(row.per_request, baseline[row.route]),
            f"{row.per_request_complete / 1000:.1f}",
            _status(row.expected, row.mismatches),
        ]
        for row in rows
    ]

    return _format_table(header, lines, numbers=range(2, 5))


def overheads(costs: Mapping[str, float]) -> dict[str, dict[str, float | None]]:
    """Return each hiccup variant's overhead over bare FastAPI, relative and
    against that of the stack it is compared with (``COMPARED``), for the
    pairs measured.

    Args:
        costs: the cost of a request for each variant on one route: µs, or
            thousands of instructions.

    Returns:
        For each hiccup variant: ``vs_fastapi`` (a fraction of FastAPI's
        cost), ``overhead`` and ``stacked_overhead`` (in the unit of
        ``costs``) and ``per_stacked`` (None when the stack measured no
        overhead).
    """
    base = costs[BASELINE]
    found: dict[str, dict[str, float | None]] = {}
    for ours, theirs in COMPARED.items():
        if ours not in costs or theirs not in costs:
            continue
        overhead = costs[ours] - base
        stacked = costs[theirs] - base
        found[ours] = {
            "vs_fastapi": overhead / base,
            "overhead": overhead,
            "stacked_overhead": stacked,
            "per_stacked": overhead / stacked if stacked > 0 else None,
        }

    return found


def summary_lines(mode: str, costs: Mapping[str, float], unit: str = "µs") -> list[str]:
    """Return the summary lines of one mode, two per hiccup variant, from each
    variant's cost per request in ``unit``."""
    prefix = f"{mode}, GET {SUMMARY_ROUTE}:"
    lines = []
    for ours, found in overheads(costs).items():
        theirs = COMPARED[ours]
        ratio = found["per_stacked"]
        lines.append(
            f"{prefix} {ours} overhead vs {BASELINE}: {found['vs_fastapi']:+.1%}"
            f" ({found['overhead']:+.1f} {unit} per request)"
        )
        lines.append(
            f"{prefix} {ours} overhead / {theirs} overhead: "
            + (
                f"{ratio:.2f} ({theirs}: {found['stacked_overhead']:+.1f}"
                f" {unit} per request)"
                if ratio is not None
                else f"n/a ({theirs} measured no overhead)"
            )
        )

    return lines


def completion_lines(
    mode: str, complete: Mapping[str, float], unit: str = "µs"
) -> list[str]:
    """Return how much each hiccup variant's failing request cost until its
    response was complete, against bare FastAPI's 500, from each variant's
    cost in ``unit``."""
    base = complete[BASELINE]

    return [
        f"{mode}, GET {FAILURE_ROUTE}: {ours} response complete after"
        f" {complete[ours]:.1f} {unit}, {_ratio(complete[ours], base)} {BASELINE}'s"
        f" ({base:.1f} {unit})"
        for ours in COMPARED
        if ours in complete
    ]


def inprocess_complete(rows: Sequence[InProcessRow]) -> dict[str, float]:
    """Return each variant's median µs until the failing route's response was
    complete."""
    return {
        row.variant: row.median_complete_us
        for row in rows
        if row.route == FAILURE_ROUTE
    }


def instructions_complete(rows: Sequence[InstructionRow]) -> dict[str, float]:
    """Return each variant's thousands of instructions until the failing
    route's response was complete."""
    return {
        row.variant: row.per_request_complete / 1000
        for row in rows
        if row.route == FAILURE_ROUTE
    }


def inprocess_costs(rows: Sequence[InProcessRow]) -> dict[str, float]:
    """Return each variant's median µs per request on the summary route."""
    return {row.variant: row.median_us for row in rows if row.route == SUMMARY_ROUTE}


def instructions_costs(rows: Sequence[InstructionRow]) -> dict[str, float]:
    """Return each variant's thousands of instructions per request on the
    summary route."""
    return {
        row.variant: row.per_request / 1000
        for row in rows
        if row.route == SUMMARY_ROUTE
    }


def instructions_json(rows: Sequence[InstructionRow]) -> dict[str, object]:
    """Return the instruction counts as plain JSON values."""
    return {
        "rows": [
            {
                "variant": row.variant,
                "route": row.route,
                "expected_status": row.expected,
                "requests": row.requests,
                "instructions": row.instructions,
                "per_request": row.per_request,
                "complete_instructions": row.complete_instructions,
                "per_request_complete": row.per_request_complete,
                "statuses": {str(k): v for k, v in sorted(row.statuses.items())},
                "mismatches": row.mismatches,
            }
            for row in rows
        ],
        "summary": overheads(instructions_costs(rows)),
    }


def loopback_costs(rows: Sequence[LoopbackRow]) -> dict[str, float]:
    """Return each variant's µs per request on the summary route, from req/s."""
    return {
        row.variant: 1e6 / row.requests_per_second
        for row in rows
        if row.route == SUMMARY_ROUTE
    }


def inprocess_json(rows: Sequence[InProcessRow]) -> dict[str, object]:
    """Return the in-process results as plain JSON values."""
    return {
        "rows": [
            {
                "variant": row.variant,
                "route": row.route,
                "expected_status": row.expected,
                "median_us": row.median_us,
                "samples_us": row.samples_us,
                "median_complete_us": row.median_complete_us,
                "complete_samples_us": row.complete_samples_us,
                "statuses": {str(k): v for k, v in sorted(row.statuses.items())},
                "raised": row.raised,
                "mismatches": row.mismatches,
                "probe": {
                    "status": row.probe.status,
                    "raised": row.probe.raised,
                    "headers": row.probe.headers,
                },
            }
            for row in rows
        ],
        "summary": overheads(inprocess_costs(rows)),
    }


def loopback_json(rows: Sequence[LoopbackRow]) -> dict[str, object]:
    """Return the loopback results as plain JSON values."""
    return {
        "rows": [
            {
                "variant": row.variant,
                "route": row.route,
                "expected_status": row.expected,
                "requests_per_second": row.requests_per_second,
                "p50_ms": row.p50_ms,
                "p99_ms": row.p99_ms,
                "socket_errors": row.socket_errors,
                "mismatches": row.mismatches,
                "probe": {
                    "status": row.probe_status,
                    "x_request_id": row.probe_request_id,
                },
                "samples": [dataclasses.asdict(sample) for sample in row.samples],
            }
            for row in rows
        ],
        "summary": overheads(loopback_costs(rows)),
    }
