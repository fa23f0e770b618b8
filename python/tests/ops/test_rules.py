"""The alert rules and their tests, generated from the definitions and run
by the real promtool; and the runbook, one entry per alert."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from hiccup.cli import main
from hiccup.ops import Thresholds, alerts, metric_names, render
from hiccup.ops._generate import RULE_TESTS, RULES, RUNBOOKS

ROOT = Path(__file__).resolve().parents[3]
SEVERITIES = {"critical", "warning", "info"}


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.fail("promtool not found: install Debian's prometheus")
    return found


@pytest.fixture
def written(tmp_path: Path) -> Path:
    """The generated files, written under a fresh root."""
    assert main(["ops", "gen", "--root", str(tmp_path)], io.StringIO()) == 0
    return tmp_path


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool(), *args], cwd=cwd, capture_output=True, text=True, check=False
    )


def test_promtool_accepts_the_rules(written: Path) -> None:
    checked = run("check", "rules", RULES.name, cwd=written / RULES.parent)

    assert checked.returncode == 0, checked.stdout + checked.stderr
    found = re.search(r"SUCCESS: (\d+) rules found", checked.stdout)
    assert found is not None
    groups = yaml.safe_load((written / RULES).read_text())["groups"]
    assert int(found.group(1)) == sum(len(group["rules"]) for group in groups)


def test_every_alert_fires_at_its_for_and_not_a_minute_before(written: Path) -> None:
    tested = run("test", "rules", RULE_TESTS.name, cwd=written / RULE_TESTS.parent)

    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout


def test_a_broken_expectation_fails_promtool(written: Path) -> None:
    tests = written / RULE_TESTS
    text = tests.read_text().replace("severity: critical", "severity: warning", 1)
    tests.write_text(text)

    tested = run("test", "rules", RULE_TESTS.name, cwd=tests.parent)

    assert tested.returncode == 1
    assert "FAILED" in tested.stdout + tested.stderr


def test_every_alert_has_for_severity_words_and_a_runbook_entry() -> None:
    [group] = yaml.safe_load(render()[RULES])["groups"]
    rules = [rule for rule in group["rules"] if "alert" in rule]
    runbook_headings = re.findall(r"^## (\w+)$", render()[RUNBOOKS], re.MULTILINE)

    assert [rule["alert"] for rule in rules] == runbook_headings
    for rule in rules:
        assert re.fullmatch(r"\d+[smhd]", rule["for"]), rule["alert"]
        assert rule["labels"]["severity"] in SEVERITIES, rule["alert"]
        annotations = rule["annotations"]
        assert annotations["summary"], rule["alert"]
        assert annotations["description"], rule["alert"]
        assert annotations["runbook_url"] == (
            f"ops/runbooks.md#{rule['alert'].lower()}"
        )


def test_the_burn_alerts_are_tested_at_2_percent_and_at_0_05_percent() -> None:
    tests = yaml.safe_load(render()[RULE_TESTS])["tests"]
    names = [test["name"] for test in tests]

    assert "an error ratio of 0.05% burns no budget fast enough to alert" in names
    assert "a quiet service with half its requests failing does not page" in names
    fast = next(t for t in tests if t["name"].startswith("HiccupErrorBudgetBurnFast"))
    values = [series["values"] for series in fast["input_series"]]
    ok, failed = (float(v.split("+")[1].split("x")[0]) for v in values)
    assert failed / (ok + failed) == pytest.approx(0.02)


def test_the_rules_read_only_metrics_the_package_emits() -> None:
    emitted = set(metric_names().values())
    text = render()[RULES]
    recorded = set(re.findall(r"record: (\S+)", text))
    used = set(re.findall(r"\b([a-z_]+(?::[a-z_0-9]+)*)\{", text))
    suffixes = ("_count", "_bucket", "_total", "_sum")

    for name in used - recorded - {"up"}:
        base = next((name.removesuffix(s) for s in suffixes if name.endswith(s)), name)
        assert base in emitted, name


def test_thresholds_change_what_is_generated() -> None:
    rules = render(Thresholds(job="writer", service="writer-api", min_request_rate=2))

    text = rules[RULES]
    assert 'job="writer"' in text
    assert "service: writer-api" in text
    assert "hiccup:requests:rate1h > 2" in text


def test_the_latency_threshold_must_be_a_bucket_bound() -> None:
    with pytest.raises(ValueError, match=r"latency_seconds must be a bucket bound"):
        alerts(Thresholds(latency_seconds=0.3))


def test_the_committed_files_are_current() -> None:
    err = io.StringIO()

    status = main(["ops", "gen", "--check", "--root", str(ROOT)], io.StringIO(), err)

    assert status == 0, err.getvalue()


def test_check_names_each_file_that_drifted(written: Path) -> None:
    (written / RUNBOOKS).write_text("edited by hand\n")
    err = io.StringIO()

    status = main(["ops", "gen", "--check", "--root", str(written)], io.StringIO(), err)

    assert status == 1
    assert err.getvalue() == "ops/runbooks.md: out of date; run `hiccup ops gen`\n"
