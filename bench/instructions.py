"""Count the instructions a request executes, under valgrind's callgrind.

Time on a shared machine moves with its neighbours; the number of
instructions a request executes barely does. This mode runs each variant
once under callgrind, in a process of its own and in parallel, and counts
only the requests it measures: they are served inside a call to
``functools.reduce``, which callgrind is told to collect in and to dump a
profile after. Nothing else in a request calls it.

Each route is counted twice: the whole of each request, and the request
until its response is complete. For the second count each request is driven
step by step, and what the app does after the last message of its response
(reporting an error to Sentry, ending a span, writing log lines) runs inside
``itertools.starmap``, whose inclusive cost ``callgrind_annotate`` reads
from the profile and takes off. Stepping costs a little more than awaiting:
one more suspension, through every frame the app's stack has at that point
(a few thousand instructions for FastAPI's).

Instructions leave out what time includes (cache misses, mispredicted
branches, the kernel), so the two modes answer different questions: this
one, how much work each variant does; the others, what it costs here.

    python -m bench.instructions VARIANT REQUESTS WARMUP

is what runs under valgrind; it prints the statuses it saw as JSON.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Coroutine, Generator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from starlette.types import ASGIApp, Message, Scope

from .apps import ROUTES, VARIANTS
from .inprocess import _scope_for, copy_scope, receiver, request

__all__ = ["InstructionRow", "run", "valgrind_path"]

_ROOT = Path(__file__).resolve().parent.parent
#: The C function the measured requests run inside of.
_COLLECTED = "functools_reduce"
#: The C function the work after a response runs inside of, when only the
#: work until the response is complete is counted: ``itertools.starmap``'s
#: step, which nothing else in a request calls.
_LEFT_OUT = "starmap_next"
#: A function's inclusive cost in ``callgrind_annotate --inclusive=yes``:
#: the count, its share, then the file (when the binary names it) and name.
_INCLUSIVE = re.compile(rf"^\s*([\d,]+) \([^)]*\)\s+(?:\S*:)?{_LEFT_OUT}\s", re.M)
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
    #: Those of the instructions executed until the response was complete.
    complete_instructions: int = 0
    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)

    @property
    def per_request(self) -> float:
        """Instructions executed per request."""
        return self.instructions / self.requests if self.requests else 0.0

    @property
    def per_request_complete(self) -> float:
        """Instructions executed per request until its response was complete."""
        return self.complete_instructions / self.requests if self.requests else 0.0

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


class _Completed:
    """What ``send`` hands the driver when the response is complete: awaiting
    it suspends the app until the driver resumes it."""

    def __await__(self) -> Generator[_Completed, None, None]:
        yield self


_COMPLETED = _Completed()
#: The arguments of resuming a coroutine, as ``itertools.starmap`` takes them.
_RESUME = ((None,),)


async def _until_complete(app: ASGIApp, template: Scope) -> int:
    """Serve one request, the app's work after its response inside
    ``itertools.starmap``; return the status.

    The app's coroutine is stepped here rather than awaited, so that the
    step in which the last message of the response is sent ends there; what
    the app waits on meanwhile is awaited on its behalf.
    """
    scope = copy_scope(template)
    status = 0
    complete = asyncio.Event()
    receive = receiver(complete)

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body" and not message.get("more_body"):
            complete.set()
            await _COMPLETED

    steps = cast("Coroutine[Any, None, None]", app(scope, receive, send))
    after = False
    while True:
        try:
            awaited = (
                next(itertools.starmap(steps.send, _RESUME))
                if after
                else steps.send(None)
            )
        except StopIteration:
            break
        except Exception:  # raised after the response, as FastAPI's 500 is
            break
        if awaited is _COMPLETED:
            after = True
            continue
        if awaited is None:  # a bare yield, as asyncio.sleep(0) makes
            await asyncio.sleep(0)
            continue
        # The future the app yielded is marked as awaited, as a task would
        # find it; awaiting it again wants that mark cleared. The app sees
        # what became of it when it is resumed.
        awaited._asyncio_future_blocking = False
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await awaited

    return status


async def _serve_until_complete(app: ASGIApp, route: str, count: int) -> Counter[int]:
    template = _scope_for(route)
    statuses: Counter[int] = Counter()
    for _ in range(count):
        statuses[await _until_complete(app, template)] += 1

    return statuses


def _measure(variant: str, requests: int, warmup: int) -> dict[str, dict[int, int]]:
    """Serve every route twice, each counted inside ``functools.reduce``:
    whole requests, then requests until they are complete; return the
    statuses of the whole requests."""
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
        loop.run_until_complete(_serve_until_complete(app, route, warmup))
        functools.reduce(
            lambda _, __: loop.run_until_complete(
                _serve_until_complete(app, route, requests)
            ),
            [None],
            empty,
        )
    loop.close()

    return seen


def _count(
    valgrind: str, variant: str, requests: int, warmup: int, directory: Path
) -> list[InstructionRow]:
    """Run one variant under callgrind and read a profile per route."""
    annotate = Path(valgrind).with_name("callgrind_annotate")
    if not annotate.exists():
        raise RuntimeError(f"{annotate} is missing: it comes with valgrind")
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
    # the measured calls are the last ones, two per route.
    profiles = sorted(
        directory.glob(f"{out.name}.*"), key=lambda p: int(p.suffix.lstrip("."))
    )[-2 * len(ROUTES) :]
    rows = []
    for at, (route, expected) in enumerate(ROUTES.items()):
        row = InstructionRow(variant, route, expected, requests=requests)
        row.instructions = _totals(profiles[2 * at])
        stepped = profiles[2 * at + 1]
        row.complete_instructions = _totals(stepped) - _left_out(str(annotate), stepped)
        least = min(row.per_request, row.per_request_complete)
        if least < _LEAST_PER_REQUEST:
            raise RuntimeError(
                f"{variant} {route}: {least:.0f} instructions per request"
                " cannot be a request; did one call functools.reduce?"
            )
        row.statuses.update({int(k): v for k, v in seen[route].items()})
        rows.append(row)

    return rows


def _left_out(annotate: str, profile: Path) -> int:
    """Return the instructions executed inside ``_LEFT_OUT`` in a profile."""
    done = subprocess.run(
        [annotate, "--inclusive=yes", "--threshold=100", str(profile)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"callgrind_annotate {profile} failed:\n{done.stderr}")
    found = [int(count.replace(",", "")) for count in _INCLUSIVE.findall(done.stdout)]

    # The function's own line comes first and is the largest; lines of the
    # headers inlined into it follow.
    return max(found, default=0)


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
