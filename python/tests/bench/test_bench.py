"""The benchmark runs, and every variant answers what the tables claim.

These tests run the in-process mode with ``--quick`` and read what it printed
and wrote. They assert statuses and headers, never timings: the numbers of a
benchmark only mean something as ratios within one run.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import io
import itertools
import json
import logging
import os
import shutil
import sys
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import structlog

from hiccup import _logging as hiccup_logging

ROOT = Path(__file__).resolve().parents[3]
VARIANTS = ("raw", "fastapi", "hiccup", "stacked", "hiccup-full", "stacked-full")
CORE = "raw,fastapi,hiccup,stacked"
ROUTES = {"/json": 200, "/missing": 404, "/boom": 500}
CASES = [
    pytest.param(variant, route, id=f"{variant}-{route.strip('/')}")
    for variant in VARIANTS
    for route in ROUTES
]


@dataclass(frozen=True)
class Run:
    exit_status: int
    output: str
    results: dict[str, object]

    def row(self, variant: str, route: str) -> dict[str, object]:
        inprocess = self.results["inprocess"]
        assert isinstance(inprocess, dict)
        (found,) = (
            row
            for row in inprocess["rows"]
            if row["variant"] == variant and row["route"] == route
        )
        return found


@contextlib.contextmanager
def _logging_restored() -> Iterator[None]:
    """Put back the logging setup that building the hiccup variant replaces."""
    config = structlog.get_config()
    access_writer = hiccup_logging.access_writer
    loggers = [
        logging.getLogger(name)
        for name in ("", "uvicorn", "uvicorn.error", "uvicorn.access")
    ]
    saved = [
        (lg, lg.handlers[:], lg.filters[:], lg.level, lg.propagate) for lg in loggers
    ]
    try:
        yield
    finally:
        structlog.configure(**config)
        hiccup_logging.access_writer = access_writer
        for lg, handlers, filters, level, propagate in saved:
            lg.handlers[:] = handlers
            lg.filters[:] = filters
            lg.setLevel(level)
            lg.propagate = propagate


def _quick_run(
    tmp_path_factory: pytest.TempPathFactory, mode: str, *options: str
) -> Run:
    """Run ``python -m bench --quick`` in one mode, as a function call."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    bench = importlib.import_module("bench.cli")
    path = tmp_path_factory.mktemp("bench") / "results.json"
    # A text stream with a binary buffer, like the real standard output:
    # hiccup.install() sets logging up on the buffer.
    output = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    with _logging_restored(), contextlib.redirect_stdout(output):
        status = bench.main(["--quick", "--mode", mode, "--json", str(path), *options])
    output.seek(0)

    return Run(status, output.read(), json.loads(path.read_text()))


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    return _quick_run(tmp_path_factory, "inprocess")


def test_quick_run_exits_zero(run: Run) -> None:
    assert run.exit_status == 0, run.output


@pytest.mark.parametrize(("variant", "route"), CASES)
def test_table_has_a_row_per_variant_and_route(
    run: Run, variant: str, route: str
) -> None:
    rows = [line.split() for line in run.output.splitlines()]

    assert sum(1 for cells in rows if cells[:2] == [variant, route]) == 1


@pytest.mark.parametrize(("variant", "route"), CASES)
def test_every_response_has_the_route_status(
    run: Run, variant: str, route: str
) -> None:
    row = run.row(variant, route)

    assert row["mismatches"] == 0
    assert row["probe"]["status"] == ROUTES[route]
    assert list(row["statuses"]) == [str(ROUTES[route])]


@pytest.mark.parametrize("variant", ["hiccup", "hiccup-full"])
def test_hiccup_json_response_carries_a_request_id(run: Run, variant: str) -> None:
    headers = run.row(variant, "/json")["probe"]["headers"]

    assert headers["x-request-id"]


@pytest.mark.parametrize(
    ("ours", "theirs"), [("hiccup", "stacked"), ("hiccup-full", "stacked-full")]
)
def test_summary_compares_each_hiccup_with_fastapi_and_its_stack(
    run: Run, ours: str, theirs: str
) -> None:
    lines = run.output.splitlines()

    assert sum(f" {ours} overhead vs fastapi: " in line for line in lines) == 1
    assert sum(f" {ours} overhead / {theirs} overhead: " in line for line in lines) == 1
    assert (
        sum(f"GET /boom: {ours} response complete after " in line for line in lines)
        == 1
    )


def test_times_to_complete_are_no_longer_than_the_whole_request(run: Run) -> None:
    inprocess = run.results["inprocess"]
    assert isinstance(inprocess, dict)

    for row in inprocess["rows"]:
        assert 0 < row["median_complete_us"] <= row["median_us"], row["variant"]


def test_loopback_is_not_run_in_inprocess_mode(run: Run) -> None:
    assert "loopback" not in run.results


@pytest.fixture(scope="module")
def counted(tmp_path_factory: pytest.TempPathFactory) -> Run:
    if shutil.which("valgrind") is None:
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail("valgrind is missing; .ci/run installs it")
        pytest.skip("valgrind is not installed (on Debian: apt-get install valgrind)")

    # Under valgrind each process takes a minute to import the full stacks:
    # those are measured in process only, in the run above.
    return _quick_run(tmp_path_factory, "instructions", "--variants", CORE)


def test_instruction_counts_cover_every_variant_and_route(counted: Run) -> None:
    rows = counted.results["instructions"]
    assert isinstance(rows, dict)

    assert counted.exit_status == 0, counted.output
    assert sorted((r["variant"], r["route"]) for r in rows["rows"]) == sorted(
        (variant, route) for variant in CORE.split(",") for route in ROUTES
    )
    assert all(r["mismatches"] == 0 for r in rows["rows"])
    assert all(list(r["statuses"]) == [str(ROUTES[r["route"]])] for r in rows["rows"])
    assert "instructions, GET /json: hiccup overhead vs fastapi: " in counted.output
    assert "hiccup-full" not in counted.output


def test_each_layer_adds_instructions_to_the_json_route(counted: Run) -> None:
    rows = counted.results["instructions"]
    assert isinstance(rows, dict)
    per_request = {
        r["variant"]: r["per_request"] for r in rows["rows"] if r["route"] == "/json"
    }

    # Each variant wraps the one before it (stacked and hiccup both wrap
    # fastapi), so the counts are ordered whatever the machine.
    assert (
        per_request["raw"]
        < per_request["fastapi"]
        < per_request["hiccup"]
        < per_request["stacked"]
    )


def test_instructions_until_complete_leave_the_work_after_the_response_out(
    counted: Run,
) -> None:
    rows = counted.results["instructions"]
    assert isinstance(rows, dict)

    assert all(r["per_request_complete"] > 0 for r in rows["rows"])
    # hiccup writes its log lines after a response, so there is always
    # something to leave out.
    hiccup_rows = [r for r in rows["rows"] if r["variant"] == "hiccup"]
    assert all(r["per_request_complete"] < r["per_request"] for r in hiccup_rows), [
        (r["route"], r["per_request"], r["per_request_complete"]) for r in hiccup_rows
    ]
    assert "instructions, GET /boom: hiccup response complete after " in counted.output


_SCOPE = {"type": "http", "method": "GET", "path": "/", "headers": []}


def _instructions_driver() -> Any:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))

    return importlib.import_module("bench.instructions")


def _spied_steps(monkeypatch: pytest.MonkeyPatch, driver: Any) -> list[bool]:
    """Make the driver's ``itertools.starmap`` say, while it runs, that it is
    running."""
    inside = [False]
    real = itertools.starmap

    def spy(function: Callable[..., object], arguments: Any) -> Iterator[object]:
        def step(*args: object) -> object:
            inside[0] = True
            try:
                return function(*args)
            finally:
                inside[0] = False

        return real(step, arguments)

    monkeypatch.setattr(driver.itertools, "starmap", spy)

    return inside


async def _answer(send: Callable[[dict[str, object]], Awaitable[None]]) -> None:
    await send({"type": "http.response.start", "status": 201, "headers": []})
    await send({"type": "http.response.body", "body": b"{}", "more_body": False})


def test_driver_runs_only_the_work_after_the_response_in_its_starmap(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    driver = _instructions_driver()
    inside = _spied_steps(monkeypatch, driver)
    seen: list[tuple[str, bool]] = []

    async def app(scope: object, receive: object, send: Any) -> None:
        seen.append(("before", inside[0]))
        await asyncio.sleep(0)
        await asyncio.sleep(0.001)  # a future the driver awaits for the app
        await _answer(send)
        seen.append(("after", inside[0]))
        await asyncio.sleep(0.001)
        seen.append(("later", inside[0]))

    status = asyncio.run(driver._until_complete(app, _SCOPE))

    assert status == 201
    assert seen == [("before", False), ("after", True), ("later", True)]


def test_driver_survives_an_app_that_raises_after_its_response() -> None:
    driver = _instructions_driver()

    async def app(scope: object, receive: object, send: Any) -> None:
        await _answer(send)
        raise RuntimeError("after the response, as FastAPI's 500 does")

    assert asyncio.run(driver._until_complete(app, _SCOPE)) == 201


def test_left_out_cost_is_read_whether_or_not_the_binary_names_files(
    tmp_path: Path,
) -> None:
    driver = _instructions_driver()
    annotated = (
        "  9,000 (100.0%)  ???:functools_reduce [libpython3.11.so]\n"
        "  2,210,498 (11.47%)  ./Modules/itertoolsmodule.c:starmap_next [libpython]\n"
        "        100 ( 0.00%)  ./Include/object.h:starmap_next [libpython]\n"
        "     41 ( 0.01%)  starmap_next_other [libpython]\n"
    )
    script = tmp_path / "annotate"
    script.write_text(f"#!/bin/sh\ncat <<'EOF'\n{annotated}EOF\n")
    script.chmod(0o755)
    bare = tmp_path / "bare"
    bare.write_text("#!/bin/sh\necho '  7,001 (2.00%)  starmap_next [python3.11]'\n")
    bare.chmod(0o755)

    assert driver._left_out(str(script), tmp_path / "profile") == 2_210_498
    assert driver._left_out(str(bare), tmp_path / "profile") == 7_001
