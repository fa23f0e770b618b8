from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hiccup.cli import main

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "contract" / "fixtures"


def test_show_prints_copy_rendered_with_examples(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status = main(["contract", "lint", "--show", str(FIXTURES / "valid.json")])

    out = capsys.readouterr().out
    assert status == 0
    assert out.splitlines()[:10] == [
        "MODEL_TIMEOUT  504 timeout, error, retry: automatic and user after 2000 ms",
        "  en    title          This is taking longer than usual",
        "  en    message        writer-large did not finish in time. Your prompt is "
        "saved.",
        "  en    action         Try again",
        "  en    suggestions[0] Try a shorter prompt.",
        "  fr    title          Cela prend plus de temps que prévu",
        "  fr    message        writer-large n’a pas terminé à temps. Votre demande "
        "est enregistrée.",
        "  fr    action         Réessayer",
        "  fr    suggestions[0] Essayez une demande plus courte.",
        "",
    ]
    assert "  en    message        Try again in 30 seconds." in out
    assert (
        "NETWORK_OFFLINE  0 network, warning, retry: automatic and user  [client]"
        in out
    )


def test_show_marks_codes_without_retry(capsys: pytest.CaptureFixture[str]) -> None:
    main(["contract", "lint", "--show", str(ROOT / "contracts/errors.json")])

    out = capsys.readouterr().out
    assert "FIELD_REQUIRED  422 invalid_request, info, no retry  [field]" in out


def test_missing_subcommand_is_a_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["contract"])

    assert caught.value.code == 2
    assert "usage: hiccup contract" in capsys.readouterr().err


def test_console_script_lints_the_repository_contract() -> None:
    script = shutil.which("hiccup", path=str(Path(sys.executable).parent))
    assert script is not None

    done = subprocess.run(
        [script, "contract", "lint"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )

    assert done.returncode == 0
    assert done.stderr == (
        "contracts/errors.json: ok (36 codes, 11 categories, locales en, fr)\n"
    )


def test_module_runs_as_a_script() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "hiccup.cli", "contract", "lint", "nope.json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )

    assert (done.returncode, done.stderr) == (1, "nope.json: no such file\n")
