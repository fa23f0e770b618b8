"""Call each app directly, the way a server would, on one asyncio loop.

No sockets and no HTTP parsing: what is left is the cost of the app and its
middleware, plus a small cost of the driver that the ``raw`` variant shows.
Every round runs in processes of its own (see ``run``).

Two times are kept per request: until the app returns, which is what the
tables show, and until the last message of the response was sent, which
leaves out the work an app does after answering (reporting an error to
Sentry, writing log lines).
"""

from __future__ import annotations

import asyncio
import gc
import multiprocessing
import statistics
import sys
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

from starlette.types import ASGIApp, Message, Receive, Scope

from .apps import ISOLATED, ROUTES, VARIANTS

__all__ = [
    "SLICES",
    "InProcessRow",
    "Reply",
    "copy_scope",
    "receiver",
    "request",
    "run",
]

#: Each sample is served in this many slices, the variants taking turns slice
#: by slice, so that a burst of load from elsewhere on a shared machine falls
#: on all of them rather than on one.
SLICES = 10

# What uvicorn puts in the scope of a plain GET.
_SCOPE: Scope = {
    "type": "http",
    "asgi": {"version": "3.0", "spec_version": "2.3"},
    "http_version": "1.1",
    "server": ("127.0.0.1", 8000),
    "client": ("127.0.0.1", 50000),
    "scheme": "http",
    "root_path": "",
    "method": "GET",
    "query_string": b"",
    "headers": [
        (b"host", b"127.0.0.1:8000"),
        (b"user-agent", b"hiccup-bench"),
        (b"accept", b"*/*"),
    ],
}


@dataclass(slots=True)
class Reply:
    """What an app answered to one request."""

    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    raised: bool = False
    #: ``time.perf_counter()`` when the last message of the response was sent.
    completed: float = 0.0


@dataclass(slots=True)
class _Tally:
    """What the slices of one sample served, and how long they took."""

    seconds: float = 0.0
    #: The time until each response was complete, summed.
    complete_seconds: float = 0.0
    count: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    raised: int = 0


@dataclass(slots=True)
class InProcessRow:
    """Every sample of one variant on one route."""

    variant: str
    route: str
    expected: int
    probe: Reply = field(default_factory=Reply)
    samples_us: list[float] = field(default_factory=list)
    complete_samples_us: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    raised: int = 0

    def add(self, sample: _Tally) -> None:
        """Take in the result of one sample."""
        self.samples_us.append(sample.seconds / sample.count * 1e6)
        self.complete_samples_us.append(sample.complete_seconds / sample.count * 1e6)
        self.statuses.update(sample.statuses)
        self.raised += sample.raised

    @property
    def median_us(self) -> float:
        """The median time of one request, in microseconds."""
        return statistics.median(self.samples_us)

    @property
    def median_complete_us(self) -> float:
        """The median time until a response was complete, in microseconds."""
        return statistics.median(self.complete_samples_us)

    @property
    def mismatches(self) -> int:
        """How many responses did not have the expected status."""
        wrong = sum(n for status, n in self.statuses.items() if status != self.expected)

        return wrong + (self.probe.status != self.expected)


def _scope_for(path: str) -> Scope:
    return {**_SCOPE, "path": path, "raw_path": path.encode()}


def copy_scope(template: Scope) -> Scope:
    """Return a scope of one's own for a request, from a template."""
    return {**template, "headers": list(template["headers"]), "state": {}}


def receiver(complete: asyncio.Event) -> Receive:
    """Return the ``receive`` of one request: an empty body, then, once
    ``complete`` is set, a disconnect, as uvicorn has it."""
    unread = True

    async def receive() -> Message:
        nonlocal unread
        if unread:
            unread = False
            return {"type": "http.request", "body": b"", "more_body": False}
        await complete.wait()
        return {"type": "http.disconnect"}

    return receive


async def request(
    app: ASGIApp, template: Scope, *, keep_headers: bool = False
) -> Reply:
    """Serve one request from a copy of a scope and return what the app sent.

    An exception
    that escapes the app is caught and counted, as a server would.
    """
    scope = copy_scope(template)
    reply = Reply()
    complete = asyncio.Event()
    receive = receiver(complete)

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            reply.status = message["status"]
            if keep_headers:
                reply.headers = {
                    bytes(k).decode("latin-1"): bytes(v).decode("latin-1")
                    for k, v in message.get("headers", ())
                }
        elif message["type"] == "http.response.body" and not message.get("more_body"):
            reply.completed = time.perf_counter()
            complete.set()

    try:
        await app(scope, receive, send)
    except Exception:
        reply.raised = True
    complete.set()

    return reply


async def _serve(app: ASGIApp, template: Scope, count: int, tally: _Tally) -> None:
    """Serve ``count`` requests one after another, and add them to a tally."""
    statuses = tally.statuses
    raised = 0
    until_complete = 0.0
    clock = time.perf_counter
    started = clock()
    for _ in range(count):
        sent = clock()
        reply = await request(app, template)
        until_complete += reply.completed - sent
        statuses[reply.status] += 1
        raised += reply.raised
    tally.seconds += clock() - started
    tally.complete_seconds += until_complete
    tally.count += count
    tally.raised += raised


def _slices(requests: int) -> list[int]:
    """Split a sample's requests into at most ``SLICES`` nearly equal slices."""
    parts = min(SLICES, requests)

    return [requests // parts + (i < requests % parts) for i in range(parts)]


async def _round(
    apps: dict[str, ASGIApp], requests: int, order: list[str]
) -> dict[tuple[str, str], _Tally]:
    """Take one sample of every variant on every route, slice by slice."""
    tallies: dict[tuple[str, str], _Tally] = {}
    for route in ROUTES:
        template = _scope_for(route)
        for variant in order:
            tallies[variant, route] = _Tally()
        gc.collect()
        for count in _slices(requests):
            for variant in order:
                await _serve(apps[variant], template, count, tallies[variant, route])

    return tallies


async def _one_round(
    names: list[str], shift: int, requests: int, warmup: int
) -> tuple[dict[tuple[str, str], Reply], dict[tuple[str, str], _Tally]]:
    """Build the apps, warm them up, and take one round of samples."""
    apps = {name: VARIANTS[name]() for name in names}
    probes: dict[tuple[str, str], Reply] = {}
    for route in ROUTES:
        template = _scope_for(route)
        for variant, app in apps.items():
            probes[variant, route] = await request(app, template, keep_headers=True)
            await _serve(app, template, warmup, _Tally())
    # Each round starts with a different variant, so none is always first.
    shift %= len(names)
    order = names[shift:] + names[:shift]

    return probes, await _round(apps, requests, order)


def _round_in_this_process(
    names: list[str], shift: int, requests: int, warmup: int
) -> tuple[dict[tuple[str, str], Reply], dict[tuple[str, str], _Tally]]:
    return asyncio.run(_one_round(names, shift, requests, warmup))


def _groups(variants: Sequence[str]) -> list[list[str]]:
    """Return the variants that share a process, and each isolated one alone."""
    shared = [name for name in variants if name not in ISOLATED]
    alone = [[name] for name in variants if name in ISOLATED]

    return [shared, *alone] if shared else alone


def run(
    rounds: int, requests: int, warmup: int, variants: Sequence[str] = tuple(VARIANTS)
) -> list[InProcessRow]:
    """Measure every variant on every route, interleaved, over ``rounds`` rounds.

    Each round runs in fresh processes: where a process's code and objects
    land in memory moves its timings by several percent, the same way for
    the whole of its life, so the median over processes is what steadies
    the tables, not more requests in one. The variants of ``ISOLATED`` get a
    process each, one after the other, and the rest share one, taking turns
    slice by slice.

    Args:
        rounds: how many samples each variant and route gets.
        requests: how many requests one sample serves.
        warmup: how many requests each app serves, untimed, before the first.
        variants: which of ``VARIANTS`` to measure.

    Returns:
        One row per route and variant, in the order of the tables.
    """
    rows = {
        (variant, route): InProcessRow(variant, route, expected)
        for route, expected in ROUTES.items()
        for variant in variants
    }
    spawn = multiprocessing.get_context("spawn")
    groups = _groups(variants)
    for index in range(rounds):
        print(f"in-process: round {index + 1} of {rounds}", file=sys.stderr)
        first = index % len(groups)
        for names in groups[first:] + groups[:first]:
            with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
                probes, tallies = pool.submit(
                    _round_in_this_process, names, index, requests, warmup
                ).result()
            for key, tally in tallies.items():
                rows[key].add(tally)
                if index == 0:
                    rows[key].probe = probes[key]

    return list(rows.values())
