from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hiccup._spec import UI_KEYS
from hiccup.cli import main
from hiccup.contract import ContractError, lint, lint_file
from hiccup.contract._load import build_contract, latest_released

FIXTURES = Path(__file__).parent / "fixtures"
ROOT = Path(__file__).resolve().parents[3]

#: Each broken fixture and every line lint prints for it, without the file name.
BROKEN = {
    "schema-unknown-category.json": [
        "MODEL_TIMEOUT category: 'slow' is not one of ['invalid_request', "
        "'unauthenticated', 'forbidden', 'not_found', 'conflict', 'rate_limited', "
        "'upstream', 'timeout', 'unavailable', 'internal', 'network']",
    ],
    "schema-missing-field.json": ["MODEL_TIMEOUT fr: missing required field 'action'"],
    "missing-locale.json": [
        "MODEL_TIMEOUT fr: copy missing; required locales are en, fr",
    ],
    "generic-missing.json": [
        "generic.network: missing: every category needs fallback",
    ],
    "placeholder-undeclared.json": [
        "MODEL_TIMEOUT fr message: placeholder {modele} is not a declared param "
        "(declared: model)",
        "MODEL_TIMEOUT fr copy: declared param {model} is not used in this "
        "locale's copy",
    ],
    "placeholder-unused.json": [
        "MODEL_TIMEOUT en copy: declared param {model} is not used in this "
        "locale's copy",
    ],
    "plural-without-other.json": [
        "RATE_LIMITED en message: plural on {seconds} has no 'other' branch",
    ],
    "plural-on-string.json": [
        "RATE_LIMITED en message: plural on {seconds}, which is not a number param",
        "RATE_LIMITED fr message: plural on {seconds}, which is not a number param",
        "RATE_LIMITED params.seconds: type changed from integer to string since "
        "0.1.0.json",
    ],
    "icu-syntax.json": [
        "MODEL_TIMEOUT en message: expected '}' to close {model at character 8",
    ],
    "too-long.json": [
        "MODEL_TIMEOUT en message: 259 characters rendered with the examples; the "
        "limit is 240",
        "MODEL_TIMEOUT fr message: 269 characters rendered with the examples; the "
        "limit is 240",
    ],
    "html.json": [
        "MODEL_TIMEOUT en action: contains HTML '<b>'; copy is shown as plain text",
    ],
    "whitespace.json": ["MODEL_TIMEOUT fr title: starts or ends with white space"],
    "jargon.json": [
        "MODEL_TIMEOUT en suggestions[0]: engineering jargon 'upstream'; say what "
        "happened in everyday words",
    ],
    "auto-retry-not-retryable.json": [
        "RATE_LIMITED retry.auto: automatic retry on status 400, where repeating "
        "the same request cannot help; allowed on 0, 408, 425, 429, 502, 503, 504",
    ],
    "client-status.json": [
        "NETWORK_OFFLINE status: client-side codes, and only they, have status 0 "
        "(client is true, status is 503)",
    ],
    "example-type.json": [
        "RATE_LIMITED params.seconds: example '30' is not of type integer",
    ],
    "removed-code.json": [
        "NETWORK_OFFLINE: removed or renamed since 0.1.0.json; codes are never "
        "removed: mark it deprecated instead",
    ],
    "renamed-param.json": [
        "MODEL_TIMEOUT params.model: removed or renamed since 0.1.0.json; clients "
        "send it",
    ],
}

#: Files that are not contracts at all, and the one line each gets.
UNUSABLE = {
    "not-json.json": "not valid JSON: Expecting property name enclosed in double "
    "quotes at line 4 column 39",
    "not-utf8.json": "not UTF-8 text (byte 21 cannot be decoded)",
    "wrong-shape-array.json": "not a hiccup contract: expected a JSON object with "
    "a 'codes' member, found a JSON array",
    "wrong-shape-openapi.json": "not a hiccup contract: expected a JSON object "
    "with a 'codes' member, found an object without one",
}


def run(*argv: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    status = main(list(argv))
    captured = capsys.readouterr()

    return status, captured.out, captured.err


def test_shipped_contract_passes(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(
        "contract", "lint", str(ROOT / "contracts/errors.json"), capsys=capsys
    )

    assert (status, out) == (0, "")
    assert "ok (36 codes, 11 categories, locales en, fr)" in err


def test_valid_fixture_passes() -> None:
    result = lint_file(FIXTURES / "valid.json")

    assert result.ok
    assert result.contract is not None
    assert list(result.contract.codes) == [
        "MODEL_TIMEOUT",
        "RATE_LIMITED",
        "NETWORK_OFFLINE",
    ]


@pytest.mark.parametrize(("name", "expected"), BROKEN.items(), ids=list(BROKEN))
def test_broken_fixture_prints_one_line_per_problem(
    name: str, expected: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    path = FIXTURES / name
    status, out, err = run("contract", "lint", str(path), capsys=capsys)

    assert status == 1
    assert out.splitlines() == [f"{path}: {line}" for line in expected]
    assert err == f"{len(expected)} problem{'s' if len(expected) > 1 else ''} found\n"


@pytest.mark.parametrize(("name", "expected"), UNUSABLE.items(), ids=list(UNUSABLE))
def test_unusable_file_gets_one_line_and_no_traceback(
    name: str, expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = FIXTURES / name
    status, out, err = run("contract", "lint", str(path), capsys=capsys)

    assert (status, out) == (1, "")
    assert err == f"{path}: {expected}\n"


def test_missing_file_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "nope.json"
    status, _, err = run("contract", "lint", str(path), capsys=capsys)

    assert (status, err) == (1, f"{path}: no such file\n")


def test_unreadable_path_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = run("contract", "lint", str(tmp_path), capsys=capsys)

    assert status == 1
    assert err.startswith(f"{tmp_path}: cannot be read: ")
    assert err.count("\n") == 1


def test_every_rule_has_a_broken_fixture() -> None:
    """Each broken fixture differs from valid.json, and lints with findings."""
    assert len(BROKEN) + len(UNUSABLE) >= 14
    valid = (FIXTURES / "valid.json").read_text(encoding="utf-8")
    for name in BROKEN:
        assert (FIXTURES / name).read_text(encoding="utf-8") != valid
        assert not lint_file(FIXTURES / name).ok


def test_released_folder_can_be_named(tmp_path: Path) -> None:
    (tmp_path / "0.2.0.json").write_text(
        (FIXTURES / "removed-code.json").read_text(encoding="utf-8"), encoding="utf-8"
    )

    result = lint_file(FIXTURES / "removed-code.json", released_dir=tmp_path)

    assert result.ok


def test_newest_release_is_the_baseline(tmp_path: Path) -> None:
    valid = (FIXTURES / "valid.json").read_text(encoding="utf-8")
    removed = (FIXTURES / "removed-code.json").read_text(encoding="utf-8")
    (tmp_path / "0.10.0.json").write_text(removed, encoding="utf-8")
    (tmp_path / "0.9.0.json").write_text(valid, encoding="utf-8")
    (tmp_path / "notes.json").write_text("not a release", encoding="utf-8")

    result = lint_file(FIXTURES / "removed-code.json", released_dir=tmp_path)

    assert result.ok


def test_unusable_release_is_reported(tmp_path: Path) -> None:
    (tmp_path / "1.0.0.json").write_text("[]", encoding="utf-8")

    with pytest.raises(
        ContractError,
        match=r"^released contract unusable: .*1\.0\.0\.json: not a hiccup",
    ):
        lint_file(FIXTURES / "valid.json", released_dir=tmp_path)


def test_deprecated_code_needs_no_locales(tmp_path: Path) -> None:
    text = (FIXTURES / "missing-locale.json").read_text(encoding="utf-8")
    path = tmp_path / "errors.json"
    path.write_text(
        text.replace('"since": "0.1.0",', '"since": "0.1.0", "deprecated": true,', 1),
        encoding="utf-8",
    )

    assert lint_file(path, released_dir=FIXTURES / "released").ok


def write_variant(tmp_path: Path, change: Callable[[dict[str, Any]], None]) -> Path:
    document = json.loads((FIXTURES / "valid.json").read_text(encoding="utf-8"))
    change(document)
    path = tmp_path / "errors.json"
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")

    return path


def _code(name: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda doc: doc["codes"][name]


_mt, _rl = _code("MODEL_TIMEOUT"), _code("RATE_LIMITED")


def _ui(key: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda doc: doc["ui"][key]


def _words(key: str, locale: str, text: object) -> Callable[[dict[str, Any]], None]:
    return lambda doc: _ui(key)(doc)["copy"].update({locale: text})


_seconds = _ui("wait")

VARIANTS: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "source-locale-not-required": (
        lambda d: d.update(source_locale="de"),
        "source_locale: 'de' is not one of the required locales (en, fr)",
    ),
    "generic-locale-missing": (
        lambda d: d["generic"]["timeout"]["copy"].pop("fr"),
        "generic.timeout fr: copy missing; required locales are en, fr",
    ),
    "double-space": (
        lambda d: _mt(d)["copy"]["en"].update(title="This is  slow"),
        "MODEL_TIMEOUT en title: contains a double space",
    ),
    "line-break": (
        lambda d: _mt(d)["copy"]["en"].update(title="This is\nslow"),
        "MODEL_TIMEOUT en title: contains a line break or another control character",
    ),
    "html-entity": (
        lambda d: _mt(d)["copy"]["en"].update(title="Slow &amp; steady"),
        "MODEL_TIMEOUT en title: contains HTML '&amp;'; copy is shown as plain text",
    ),
    "jargon-status-number": (
        lambda d: _mt(d)["copy"]["fr"].update(action="Erreur 504"),
        "MODEL_TIMEOUT fr action: engineering jargon '504'; say what happened in "
        "everyday words",
    ),
    "field-code-not-422": (
        lambda d: (
            _rl(d).update(field=True, retry={"auto": False, "user": False})
            or _rl(d).update(
                copy={k: {"message": v["message"]} for k, v in _rl(d)["copy"].items()}
            )
        ),
        "RATE_LIMITED status: field codes describe part of a 422 response, not 429",
    ),
    "replaced-by-unknown": (
        lambda d: _mt(d).update(deprecated=True, replaced_by="MODEL_SLOW"),
        "MODEL_TIMEOUT replaced_by: replaced_by names 'MODEL_SLOW', which is not a "
        "code",
    ),
    "replaced-by-not-deprecated": (
        lambda d: _mt(d).update(replaced_by="RATE_LIMITED"),
        "MODEL_TIMEOUT replaced_by: replaced_by is set but the code is not deprecated",
    ),
    "integer-example-fraction": (
        lambda d: _rl(d)["params"]["seconds"].update(example=2.5),
        "RATE_LIMITED params.seconds: example 2.5 is not of type integer",
    ),
    "unsupported-select": (
        lambda d: _rl(d)["copy"]["en"].update(message="{seconds, select, other {x}}"),
        "RATE_LIMITED en message: unsupported argument type 'select'; only plural is "
        "allowed at character 1",
    ),
    "ui-missing": (
        lambda d: d.pop("ui"),
        "ui: missing: the SDK's failure dialog needs words for close, copied, "
        "copy_reference, reference, retry, retrying, wait",
    ),
    "ui-key-missing": (
        lambda d: d["ui"].pop("wait"),
        "ui: missing required field 'wait'",
    ),
    "ui-key-unknown": (
        lambda d: d["ui"].update(cancel=d["ui"]["close"]),
        "ui: unknown field 'cancel'",
    ),
    "ui-description-missing": (
        lambda d: _ui("close")(d).pop("description"),
        "ui.close: missing required field 'description'",
    ),
    "ui-copy-not-a-string": (
        _words("close", "en", {"action": "Close"}),
        "ui.close en: {'action': 'Close'} is not of type 'string'",
    ),
    "ui-locale-missing": (
        lambda d: _ui("retry")(d)["copy"].pop("fr"),
        "ui.retry fr: copy missing; required locales are en, fr",
    ),
    "ui-placeholder-undeclared": (
        _words("close", "en", "Close {name}"),
        "ui.close en: placeholder {name} is not a declared param (declared: none)",
    ),
    "ui-param-unused": (
        _words("wait", "fr", "Vous pourrez bientôt réessayer."),
        "ui.wait fr: declared param {seconds} is not used in this locale's copy",
    ),
    "ui-plural-without-other": (
        _words("wait", "en", "Try again in {seconds, plural, one {# second}}."),
        "ui.wait en: plural on {seconds} has no 'other' branch",
    ),
    "ui-html": (
        _words("copied", "en", "<b>Copied</b>"),
        "ui.copied en: contains HTML '<b>'; copy is shown as plain text",
    ),
    "ui-whitespace": (
        _words("reference", "fr", "Référence "),
        "ui.reference fr: starts or ends with white space",
    ),
    "ui-jargon": (
        _words("reference", "en", "Request ID"),
        "ui.reference en: engineering jargon 'Request ID'; say what happened in "
        "everyday words",
    ),
    "ui-longer-than-a-button": (
        _words("retry", "en", "Try again as often as you like"),
        "ui.retry en: 30 characters rendered with the examples; the limit is 24",
    ),
    "ui-wait-longer-than-a-message": (
        _words("wait", "en", "x" * 239 + "{seconds, plural, other {#}}"),
        "ui.wait en: 241 characters rendered with the examples; the limit is 240",
    ),
    "ui-example-type": (
        lambda d: _seconds(d)["params"]["seconds"].update(example="30"),
        "ui.wait params.seconds: example '30' is not of type integer",
    ),
}


@pytest.mark.parametrize(("change", "expected"), VARIANTS.values(), ids=list(VARIANTS))
def test_rule_reports_precise_line(
    tmp_path: Path, change: Callable[[dict[str, Any]], None], expected: str
) -> None:
    path = write_variant(tmp_path, change)

    result = lint_file(path, released_dir=FIXTURES / "released")

    assert [str(f) for f in result.findings] == [f"{path}: {expected}"]


def test_number_param_accepts_float_example(tmp_path: Path) -> None:
    def change(d: dict[str, Any]) -> None:
        _rl(d)["params"]["seconds"].update(type="number", example=2.5)

    path = write_variant(tmp_path, change)
    (tmp_path / "released").mkdir()

    assert lint_file(path).ok


def test_ui_wait_may_be_as_long_as_a_message(tmp_path: Path) -> None:
    text = "x" * 238 + "{seconds, plural, other {#}}"
    path = write_variant(tmp_path, _words("wait", "en", text))

    assert lint_file(path, released_dir=FIXTURES / "released").ok


def test_release_without_ui_is_a_baseline() -> None:
    released = FIXTURES / "released"

    assert "ui" not in json.loads((released / "0.1.0.json").read_text("utf-8"))
    assert lint_file(FIXTURES / "valid.json", released_dir=released).ok


def test_ui_keys_are_the_schemas() -> None:
    schema = json.loads(
        (ROOT / "contracts/schema/errors.schema.json").read_text(encoding="utf-8")
    )

    assert list(UI_KEYS) == schema["properties"]["ui"]["required"]
    assert list(UI_KEYS) == list(schema["properties"]["ui"]["properties"])


@pytest.fixture
def released_with_ui(tmp_path: Path) -> Path:
    """Return a folder whose latest release is valid.json, ui section included."""
    folder = tmp_path / "released"
    folder.mkdir()
    shutil.copy(FIXTURES / "valid.json", folder / "0.2.0.json")

    return folder


UI_RELEASE_CHANGES: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "param-removed": (
        lambda d: _seconds(d).update(
            params={},
            copy={"en": "You can try again soon.", "fr": "Réessayez bientôt."},
        ),
        "ui.wait params.seconds: removed or renamed since 0.2.0.json; the SDK fills "
        "it in",
    ),
    "param-retyped": (
        lambda d: _seconds(d)["params"]["seconds"].update(type="number"),
        "ui.wait params.seconds: type changed from integer to number since 0.2.0.json",
    ),
}


@pytest.mark.parametrize(
    ("change", "expected"), UI_RELEASE_CHANGES.values(), ids=list(UI_RELEASE_CHANGES)
)
def test_ui_param_must_survive_a_release(
    tmp_path: Path,
    released_with_ui: Path,
    change: Callable[[dict[str, Any]], None],
    expected: str,
) -> None:
    path = write_variant(tmp_path, change)

    result = lint_file(path, released_dir=released_with_ui)

    assert [str(f) for f in result.findings] == [f"{path}: {expected}"]


def test_ui_key_must_survive_a_release(released_with_ui: Path) -> None:
    """The schema requires every key today; the rule holds if that changes."""
    document = json.loads((FIXTURES / "valid.json").read_text(encoding="utf-8"))
    del document["ui"]["close"]
    release = released_with_ui / "0.2.0.json"

    findings = lint(
        "errors.json", build_contract(document), latest_released(released_with_ui)
    )

    assert [str(f) for f in findings] == [
        f"errors.json: ui.close: removed or renamed since {release.name}; the SDK's "
        "dialog shows it"
    ]
