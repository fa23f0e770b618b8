"""Count the instructions a request executes, under valgrind's callgrind.

Time on a shared machine moves with its neighbours; the number of
instructions a request executes barely does. This mode runs each variant
once under callgrind, in a process of its own and in parallel, and counts
only the requests it measures: they are served inside a call to
``functools.reduce``, which callgrind is told to collect in and to dump a
profile after, one per route. Nothing else in a request calls it.

Instructions leave out what time includes (cache misses, mispredicted
branches, the kernel), so the two modes answer different questions: this
one, how much work each variant does; the others, what it costs here.

    python -m bench.instructions VARIANT REQUESTS WARMUP

is what runs under valgrind; it prints the statuses it saw as JSON.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from .apps import ROUTES, VARIANTS
from .inprocess import _scope_for, request

__all__ = ["InstructionRow", "run", "valgrind_path"]

_ROOT = Path(__file__).resolve().parent.parent
#: The C function the measured requests run inside of.
_COLLECTED = "functools_reduce"
#: Fewer instructions than this per request means the wrong profile was read:
#: even the raw ASGI app's requests take over ten thousand.
_LEAST_PER_REQUEST = 1000


@dataclass(slots=True)
class InstructionRow:
    """What callgrind counted for one variant on one route."""

    variant: str
    route: str
    expected: int
    instructions: int = 0
    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)

    @property
    def per_request(self) -> float:
        """Instructions executed per request."""
        return self.instructions / self.requests if self.requests else 0.0

    @property
    def mismatches(self) -> int:
        """How many responses did not have the expected status."""
        return sum(n for status, n in self.statuses.items() if status != self.expected)


def valgrind_path() -> str | None:
    """Return the path of valgrind, or None when it is not installed."""
    return shutil.which("valgrind")


async def _serve(app: object, route: str, count: int) -> Counter[int]:
    template = _scope_for(route)
    statuses: Counter[int] = Counter()
    for _ in range(count):
        reply = await request(app, template)  # type: ignore[arg-type]
        statuses[reply.status] += 1

    return statuses


def _measure(variant: str, requests: int, warmup: int) -> dict[str, dict[int, int]]:
    """Serve every route, counted inside ``functools.reduce``; return statuses."""
    app = VARIANTS[variant]()
    loop = asyncio.new_event_loop()
    seen: dict[str, dict[int, int]] = {}
    for route in ROUTES:
        loop.run_until_complete(_serve(app, route, warmup))
        empty: Counter[int] = Counter()
        statuses = functools.reduce(
            lambda _, __: loop.run_until_complete(_serve(app, route, requests)),
            [None],
            empty,
        )
        seen[route] = dict(statuses)
    loop.close()

    return seen


def _count(
    valgrind: str, variant: str, requests: int, warmup: int, directory: Path
) -> list[InstructionRow]:
    """Run one variant under callgrind and read a profile per route."""
    out = directory / f"{variant}.out"
    env = {**os.environ, "PYTHONHASHSEED": "0", "PYTHONPATH": str(_ROOT)}
    done = subprocess.run(
        [
            valgrind,
            "--tool=callgrind",
            "--collect-atstart=no",
            f"--toggle-collect={_COLLECTED}",
            f"--dump-after={_COLLECTED}",
            f"--callgrind-out-file={out}",
            sys.executable,
            "-m",
            "bench.instructions",
            variant,
            str(requests),
            str(warmup),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=_ROOT,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"callgrind run of {variant} failed ({done.returncode}):\n{done.stderr}"
        )
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    # Imports and app set-up call functools.reduce too, each call a profile;
    # the measured calls are the last ones.
    profiles = sorted(
        directory.glob(f"{out.name}.*"), key=lambda p: int(p.suffix.lstrip("."))
    )[-len(ROUTES) :]
    rows = []
    for profile, (route, expected) in zip(profiles, ROUTES.items(), strict=True):
        row = InstructionRow(variant, route, expected, requests=requests)
        row.instructions = _totals(profile)
        if row.per_request < _LEAST_PER_REQUEST:
            raise RuntimeError(
                f"{variant} {route}: {row.per_request:.0f} instructions per request"
                " cannot be a request; did one call functools.reduce?"
            )
        row.statuses.update({int(k): v for k, v in seen[route].items()})
        rows.append(row)

    return rows


def _totals(profile: Path) -> int:
    for line in profile.read_text().splitlines():
        if line.startswith("totals:"):
            return int(line.split()[1])
    raise RuntimeError(f"{profile} has no totals line")


def run(
    valgrind: str,
    requests: int,
    warmup: int,
    variants: Sequence[str] = tuple(VARIANTS),
) -> list[InstructionRow]:
    """Count each of ``variants`` on every route, the variants in parallel.

    Returns:
        One row per route and variant, in the order of the other tables.
    """
    with (
        tempfile.TemporaryDirectory(prefix="hiccup-bench-") as directory,
        ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool,
    ):
        counted = pool.map(
            lambda v: _count(valgrind, v, requests, warmup, Path(directory)),
            variants,
        )
        by_variant = list(counted)

    return sorted(
        (row for rows in by_variant for row in rows),
        key=lambda row: (
            list(ROUTES).index(row.route),
            list(VARIANTS).index(row.variant),
        ),
    )


if __name__ == "__main__":
    name, count, warm = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    # The apps log to the null device; what is left on standard output is this.
    print(json.dumps(_measure(name, count, warm)))
