"""The simulated retry storm repeats for a seed, and each strategy behaves as
its table says.

The simulation runs in simulated time and is seeded, so what it measures is
the same on every machine: these tests assert its behaviour, never a time.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]
SCENARIOS = ("down", "down+hint", "brown-out", "flaky")
STRATEGIES = ("none", "naive", "backoff", "hiccup")
# The targets hiccup's default objects miss, by scenario, and why. Expected
# failures are strict here, so a change that meets a target fails its test
# until the entry goes.
_FLAKY_COST = (
    "a fifth of the calls fail, and winning back all but 1.2% of them takes"
    " at least 1.235 attempts a request; plain backoff needs as many"
)
AMPLIFICATION_MISSED = {"flaky": _FLAKY_COST}
PEAK_MISSED = {"flaky": f"{_FLAKY_COST}, at 0.8 of capacity"}
RECOVERY_MISSED = {
    "down": "a failed probe doubles the 5 s open time, and each of the four"
    " processes must probe once after the fault has ended",
    "down+hint": "the breakers keep to the 5 s Retry-After that the dependency"
    " sends until its last failed call",
}


def _storm() -> Any:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))

    return importlib.import_module("bench.storm")


def _scenario(name: str) -> Any:
    (found,) = (scenario for scenario in _storm().SCENARIOS if scenario.name == name)

    return found


def _by_scenario(
    missed: dict[str, str], scenarios: tuple[str, ...] = SCENARIOS
) -> list[Any]:
    return [
        pytest.param(
            name,
            id=name,
            marks=[pytest.mark.xfail(reason=missed[name])] if name in missed else [],
        )
        for name in scenarios
    ]


@pytest.fixture(scope="module")
def rows() -> dict[tuple[str, str], Any]:
    return {(row.scenario, row.strategy): row for row in _storm().run_all()}


@pytest.mark.parametrize("strategy", ["naive", "hiccup"])
def test_a_seed_repeats_its_run(strategy: str) -> None:
    storm = _storm()
    brown_out = _scenario("brown-out")

    first = storm.run(brown_out, strategy, seed=7)
    second = storm.run(brown_out, strategy, seed=7)

    assert first == second


def test_another_seed_draws_other_arrivals() -> None:
    storm = _storm()
    down = _scenario("down")

    assert storm.run(down, "none", seed=7) != storm.run(down, "none", seed=8)


def test_every_strategy_sees_the_same_requests(
    rows: dict[tuple[str, str], Any],
) -> None:
    counts = {row.requests for row in rows.values()}

    assert len(counts) == 1


def test_naive_retries_amplify_a_hard_outage(rows: dict[tuple[str, str], Any]) -> None:
    assert rows["down", "naive"].amplification > 2


def test_a_single_attempt_never_amplifies(rows: dict[tuple[str, str], Any]) -> None:
    for scenario in SCENARIOS:
        assert rows[scenario, "none"].amplification == 1.0, scenario


def test_retries_at_once_or_after_backoff_keep_a_brown_out_going(
    rows: dict[tuple[str, str], Any],
) -> None:
    assert rows["brown-out", "none"].metastable is False
    assert rows["brown-out", "naive"].metastable is True
    assert rows["brown-out", "backoff"].metastable is True
    assert rows["brown-out", "naive"].recovery == "never"


@pytest.mark.parametrize("scenario", _by_scenario(AMPLIFICATION_MISSED))
def test_hiccup_amplification_meets_its_target(
    rows: dict[tuple[str, str], Any], scenario: str
) -> None:
    storm = _storm()

    assert rows[scenario, "hiccup"].amplification <= storm.MAX_AMPLIFICATION


@pytest.mark.parametrize("scenario", _by_scenario(PEAK_MISSED))
def test_hiccup_peak_meets_its_target(
    rows: dict[tuple[str, str], Any], scenario: str
) -> None:
    storm = _storm()

    assert rows[scenario, "hiccup"].peak <= storm.MAX_PEAK


@pytest.mark.parametrize(
    "scenario", _by_scenario(RECOVERY_MISSED, ("down", "down+hint", "brown-out"))
)
def test_hiccup_recovers_soon_after_a_single_attempt(
    rows: dict[tuple[str, str], Any], scenario: str
) -> None:
    storm = _storm()
    alone = rows[scenario, "none"].recovery
    ours = rows[scenario, "hiccup"].recovery

    assert isinstance(alone, float)
    assert isinstance(ours, float)
    assert ours <= alone + storm.RECOVERY_SLACK


def test_hiccup_never_stays_down_where_a_single_attempt_recovers(
    rows: dict[tuple[str, str], Any],
) -> None:
    for scenario in ("down", "down+hint", "brown-out"):
        assert rows[scenario, "none"].metastable is False, scenario
        assert rows[scenario, "hiccup"].metastable is False, scenario


def test_hiccup_wins_back_nearly_what_plain_backoff_does_from_a_flaky_dependency(
    rows: dict[tuple[str, str], Any],
) -> None:
    storm = _storm()
    backoff = rows["flaky", "backoff"].success

    assert rows["flaky", "hiccup"].success >= backoff - storm.SUCCESS_SLACK
    assert rows["flaky", "hiccup"].success > rows["flaky", "none"].success + 0.15


def test_a_fault_for_the_whole_run_has_no_recovery(
    rows: dict[tuple[str, str], Any],
) -> None:
    for strategy in STRATEGIES:
        row = rows["flaky", strategy]
        assert (row.recovery, row.metastable) == (None, None), strategy


def test_unknown_strategy_is_refused() -> None:
    storm = _storm()

    with pytest.raises(ValueError, match="'eager'"):
        storm.run(_scenario("down"), "eager")


@dataclass(frozen=True)
class Run:
    exit_status: int
    output: str
    results: dict[str, Any]


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """Run ``python -m bench --quick --mode storm``, as a function call."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    bench = importlib.import_module("bench.cli")
    path = tmp_path_factory.mktemp("bench") / "results.json"
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        status = bench.main(["--quick", "--mode", "storm", "--json", str(path)])

    return Run(status, output.getvalue(), json.loads(path.read_text()))


def test_storm_mode_exits_zero_whatever_the_targets(cli_run: Run) -> None:
    assert cli_run.exit_status == 0, cli_run.output


def test_storm_mode_writes_a_row_per_scenario_and_strategy(cli_run: Run) -> None:
    rows = cli_run.results["storm"]["rows"]

    assert sorted((row["scenario"], row["strategy"]) for row in rows) == sorted(
        (scenario, strategy) for scenario in SCENARIOS for strategy in STRATEGIES
    )


def test_storm_mode_prints_a_table_row_per_scenario_and_strategy(
    cli_run: Run,
) -> None:
    cells = [line.split()[:2] for line in cli_run.output.splitlines()]

    for scenario in SCENARIOS:
        for strategy in STRATEGIES:
            assert cells.count([scenario, strategy]) == 1, (scenario, strategy)


def test_storm_mode_summarises_each_target_once(cli_run: Run) -> None:
    targets = cli_run.results["storm"]["targets"]
    lines = [line for line in cli_run.output.splitlines() if line.startswith("storm, ")]

    # Amplification and peak everywhere; recovery and metastability where the
    # fault ends, the success rate where it does not.
    assert len(targets) == len(lines) == 4 * 2 + 3 * 2 + 1
    assert lines == cli_run.results["summary"]
    assert all(line.endswith((": pass", ": FAIL")) for line in lines)


def test_storm_mode_runs_nothing_else(cli_run: Run) -> None:
    assert sorted(cli_run.results) == ["environment", "options", "storm", "summary"]
