from __future__ import annotations

import difflib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from hiccup._codes import CONTRACT, Code
from hiccup.cli import main
from hiccup.contract import load_contract, python_source, typescript_source

ROOT = Path(__file__).resolve().parents[3]
SOURCE = ROOT / "contracts" / "errors.json"
PY_OUT = ROOT / "python" / "hiccup" / "_codes.py"
TS_OUT = ROOT / "js-sdk" / "src" / "contract.generated.ts"


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """Return a copy of the repository's contract and generated files."""
    for path in (SOURCE, PY_OUT, TS_OUT):
        target = tmp_path / path.relative_to(ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target)
    shutil.copytree(
        ROOT / "contracts" / "released", tmp_path / "contracts" / "released"
    )

    return tmp_path


def changed_lines(before: str, after: str) -> list[str]:
    diff = difflib.unified_diff(before.splitlines(), after.splitlines(), n=0)

    return [
        line
        for line in diff
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]


def test_committed_tables_match_the_contract() -> None:
    contract = load_contract(SOURCE)

    assert PY_OUT.read_text(encoding="utf-8") == python_source(
        contract, "contracts/errors.json"
    )
    assert TS_OUT.read_text(encoding="utf-8") == typescript_source(
        contract, "contracts/errors.json"
    )


def test_generated_python_rebuilds_the_same_contract() -> None:
    assert load_contract(SOURCE) == CONTRACT
    assert list(Code) == list(CONTRACT.codes)


def test_generation_is_deterministic() -> None:
    contract = load_contract(SOURCE)

    assert python_source(contract, "x") == python_source(load_contract(SOURCE), "x")
    assert typescript_source(contract, "x") == typescript_source(
        load_contract(SOURCE), "x"
    )


def test_one_french_word_changes_one_entry_of_each_table(
    checkout: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    contract_path = checkout / "contracts" / "errors.json"
    document: dict[str, Any] = json.loads(contract_path.read_text(encoding="utf-8"))
    copy = document["codes"]["MODEL_TIMEOUT"]["copy"]["fr"]
    old_action = copy["action"]
    assert "Réessayer" in old_action
    copy["action"] = copy["action"].replace("Réessayer", "Recommencer")
    contract_path.write_text(
        json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    py_before = (checkout / PY_OUT.relative_to(ROOT)).read_text(encoding="utf-8")
    ts_before = (checkout / TS_OUT.relative_to(ROOT)).read_text(encoding="utf-8")

    status = main(["contract", "gen", str(contract_path)])

    assert status == 0
    py_after = (checkout / PY_OUT.relative_to(ROOT)).read_text(encoding="utf-8")
    ts_after = (checkout / TS_OUT.relative_to(ROOT)).read_text(encoding="utf-8")
    old, new = (json.dumps(a, ensure_ascii=False) for a in (old_action, copy["action"]))
    assert changed_lines(py_before, py_after) == [
        f"-                    action={old},",
        f"+                    action={new},",
    ]
    assert changed_lines(ts_before, ts_after) == [
        f"-      action: {old},",
        f"+      action: {new},",
    ]
    assert "wrote" in capsys.readouterr().out


def test_check_fails_on_drift_and_writes_nothing(
    checkout: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ts = checkout / TS_OUT.relative_to(ROOT)
    ts.write_text(
        ts.read_text(encoding="utf-8") + "// edited by hand\n", encoding="utf-8"
    )
    edited = ts.read_text(encoding="utf-8")

    status = main(
        ["contract", "gen", "--check", str(checkout / "contracts/errors.json")]
    )

    assert status == 1
    assert ts.read_text(encoding="utf-8") == edited
    assert capsys.readouterr().err == (
        f"{ts}: out of date; run `hiccup contract gen`\n"
    )


def test_check_passes_when_current(
    checkout: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(
        ["contract", "gen", "--check", str(checkout / "contracts/errors.json")]
    )

    assert status == 0
    assert capsys.readouterr().err == "generated files are up to date\n"


def test_gen_creates_missing_outputs(checkout: Path) -> None:
    (checkout / PY_OUT.relative_to(ROOT)).unlink()
    shutil.rmtree(checkout / "js-sdk")

    status = main(["contract", "gen", str(checkout / "contracts/errors.json")])

    assert status == 0
    assert (checkout / TS_OUT.relative_to(ROOT)).read_text(encoding="utf-8") == (
        TS_OUT.read_text(encoding="utf-8")
    )


def test_gen_refuses_a_contract_with_problems(
    checkout: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = checkout / "contracts" / "errors.json"
    path.write_text(
        path.read_text(encoding="utf-8").replace("Réessayer", "Réessayer ", 1),
        encoding="utf-8",
    )
    before = (checkout / PY_OUT.relative_to(ROOT)).read_text(encoding="utf-8")

    status = main(["contract", "gen", str(path)])

    assert status == 1
    assert "not generating from a contract with problems" in capsys.readouterr().err
    assert (checkout / PY_OUT.relative_to(ROOT)).read_text(encoding="utf-8") == before


def test_root_option_places_outputs(tmp_path: Path) -> None:
    out = tmp_path / "elsewhere"

    status = main(["contract", "gen", "--root", str(out), str(SOURCE)])

    assert status == 0
    generated = (out / "python/hiccup/_codes.py").read_text(encoding="utf-8")
    assert generated.startswith('"""Error codes of the hiccup contract, version 0.1.0.')
    assert "from errors.json:" in generated
