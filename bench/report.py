"""Tables, summary lines and the JSON document of a benchmark run."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from .apps import BASELINE
from .inprocess import InProcessRow
from .instructions import InstructionRow
from .loopback import LoopbackRow

__all__ = [
    "SUMMARY_ROUTE",
    "inprocess_costs",
    "inprocess_json",
    "inprocess_table",
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
    header = ["variant", "route", "µs/req", "min-max", f"vs {BASELINE}", "status"]
    header.append("x-request-id")
    lines = [
        [
            row.variant,
            row.route,
            f"{row.median_us:.1f}",
            f"{min(row.samples_us):.1f}-{max(row.samples_us):.1f}",
            _ratio(row.median_us, baseline[row.route]),
            _status(row.probe.status, row.mismatches, row.raised),
            "yes" if "x-request-id" in row.probe.headers else "no",
        ]
        for row in rows
    ]

    return _format_table(header, lines, numbers=range(2, 5))


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
    header = ["variant", "route", "k instr/req", f"vs {BASELINE}", "status"]
    lines = [
        [
            row.variant,
            row.route,
            f"{row.per_request / 1000:.1f}",
            _ratio(row.per_request, baseline[row.route]),
            _status(row.expected, row.mismatches),
        ]
        for row in rows
    ]

    return _format_table(header, lines, numbers=range(2, 4))


def overheads(costs: Mapping[str, float]) -> dict[str, float | None]:
    """Return hiccup's overhead over bare FastAPI, relative and against stacked's.

    Args:
        costs: the cost of a request for each variant on one route: µs, or
            thousands of instructions.

    Returns:
        ``hiccup_vs_fastapi`` (a fraction of FastAPI's cost),
        ``hiccup_overhead`` and ``stacked_overhead`` (in the unit of
        ``costs``) and ``hiccup_per_stacked`` (None when stacked measured no
        overhead).
    """
    base = costs[BASELINE]
    hiccup = costs["hiccup"] - base
    stacked = costs["stacked"] - base

    return {
        "hiccup_vs_fastapi": hiccup / base,
        "hiccup_overhead": hiccup,
        "stacked_overhead": stacked,
        "hiccup_per_stacked": hiccup / stacked if stacked > 0 else None,
    }


def summary_lines(mode: str, costs: Mapping[str, float], unit: str = "µs") -> list[str]:
    """Return the two summary lines of one mode, from each variant's cost per
    request in ``unit``."""
    found = overheads(costs)
    ratio = found["hiccup_per_stacked"]
    prefix = f"{mode}, GET {SUMMARY_ROUTE}:"

    return [
        f"{prefix} hiccup overhead vs fastapi: {found['hiccup_vs_fastapi']:+.1%}"
        f" ({found['hiccup_overhead']:+.1f} {unit} per request)",
        f"{prefix} hiccup overhead / stacked overhead: "
        + (
            f"{ratio:.2f} (stacked: {found['stacked_overhead']:+.1f}"
            f" {unit} per request)"
            if ratio is not None
            else "n/a (stacked measured no overhead)"
        ),
    ]


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
