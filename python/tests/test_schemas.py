import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator, FormatChecker

from hiccup._schemas import SCHEMA_NAMES, load_schema, schema_dir

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTED_SCHEMAS = ("envelope", "log-record", "health")
SKIPPED_DIRS = frozenset({".git", ".nox", ".venv", "node_modules"})

MARKER = re.compile(r"^\s*<!--\s*schema:\s*(?P<name>[a-z-]+)\s*-->\s*$")
JSON_FENCE = re.compile(r"^\s*```json\s*$")
CLOSING_FENCE = re.compile(r"^\s*```\s*$")


def validator_for(name: str) -> Draft202012Validator:
    """Return a validator for the named schema that also checks formats."""
    return Draft202012Validator(load_schema(name), format_checker=FormatChecker())


def failures(name: str, instance: object) -> set[tuple[tuple[str | int, ...], str]]:
    """Return the (path, keyword) pair of every error ``instance`` has."""
    errors = validator_for(name).iter_errors(instance)

    return {(tuple(error.absolute_path), str(error.validator)) for error in errors}


def extract_schema_blocks(text: str) -> list[tuple[str, int, str]]:
    """Find the ```json blocks whose previous line is ``<!-- schema: NAME -->``.

    Args:
        text: Markdown source.

    Returns:
        One (schema name, line number of the opening fence, body) per block.
        A block without a closing fence runs to the end of ``text``.
    """
    lines = text.splitlines()
    blocks = []
    for index, line in enumerate(lines[:-1]):
        marker = MARKER.match(line)
        if marker is None or not JSON_FENCE.match(lines[index + 1]):
            continue

        body = []
        for inner in lines[index + 2 :]:
            if CLOSING_FENCE.match(inner):
                break
            body.append(inner)
        blocks.append((marker["name"], index + 2, "\n".join(body)))

    return blocks


def markdown_files() -> list[Path]:
    """Return the repository's Markdown files, leaving out tool directories."""
    paths = ROOT.rglob("*.md")

    return sorted(p for p in paths if not SKIPPED_DIRS & set(p.relative_to(ROOT).parts))


def documented_blocks() -> list[Any]:
    """Return one pytest param per schema-marked JSON block in the docs."""
    params = []
    for path in markdown_files():
        text = path.read_text(encoding="utf-8")
        for name, line, body in extract_schema_blocks(text):
            where = f"{path.relative_to(ROOT).as_posix()}:{line}"
            params.append(pytest.param(name, body, id=where))

    return params


def schema_examples() -> list[Any]:
    """Return one pytest param per entry of every schema's ``examples``."""
    params = []
    for name in SCHEMA_NAMES:
        for index, example in enumerate(load_schema(name).get("examples", [])):
            params.append(pytest.param(name, example, id=f"{name}-{index}"))

    return params


def envelope() -> dict[str, Any]:
    return {
        "type": "/problems/validation-failed",
        "title": "Validation failed",
        "status": 422,
        "code": "VALIDATION_FAILED",
        "request_id": "0195f3c2-8b10-7d2a-a4f5-61c9e0b7d382",
        "errors": [{"source": {"pointer": "/prompt"}, "code": "FIELD_REQUIRED"}],
    }


def log_record() -> dict[str, Any]:
    return {
        "timestamp": "2026-01-01T08:00:00.125Z",
        "level": "info",
        "logger": "hiccup.access",
        "event": "http.request",
        "service": "writer-api",
    }


def health_report() -> dict[str, Any]:
    return {
        "status": "pass",
        "checks": {"db:responseTime": [{"status": "pass", "observedValue": 3.2}]},
    }


def changed(
    base: dict[str, Any], path: tuple[str | int, ...], value: object
) -> dict[str, Any]:
    """Return a deep copy of ``base`` with the item at ``path`` set to ``value``."""
    result = copy.deepcopy(base)
    target: Any = result
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value

    return result


def without(base: dict[str, Any], key: str) -> dict[str, Any]:
    """Return a copy of ``base`` without the top-level ``key``."""
    return {k: v for k, v in base.items() if k != key}


REJECTED = [
    pytest.param(
        "envelope",
        changed(envelope(), ("errors", 0, "input"), "x" * 3000),
        {(("errors", 0), "additionalProperties")},
        id="envelope-error-item-with-input",
    ),
    pytest.param(
        "envelope",
        changed(envelope(), ("traceback",), "Traceback (most recent call last):"),
        {((), "not")},
        id="envelope-with-traceback",
    ),
    pytest.param(
        "envelope",
        changed(envelope(), ("status",), 200),
        {(("status",), "minimum")},
        id="envelope-with-status-200",
    ),
    pytest.param(
        "envelope",
        changed(envelope(), ("request_id",), "abc\r\nX-Injected: 1"),
        {(("request_id",), "pattern"), (("request_id",), "not")},
        id="envelope-request-id-with-crlf",
    ),
    pytest.param(
        "envelope",
        changed(envelope(), ("request_id",), "abc\n"),
        {(("request_id",), "not")},
        id="envelope-request-id-with-trailing-newline",
    ),
    pytest.param(
        "envelope",
        changed(envelope(), ("errors", 0, "source", "header"), "X-Model"),
        {(("errors", 0, "source"), "maxProperties")},
        id="envelope-error-source-with-two-locations",
    ),
    pytest.param(
        "log-record",
        changed(log_record(), ("timestamp",), "2026-01-01T10:00:00+02:00"),
        {(("timestamp",), "pattern")},
        id="log-record-timestamp-not-in-utc",
    ),
    pytest.param(
        "log-record",
        without(log_record(), "event"),
        {((), "required")},
        id="log-record-without-event",
    ),
    pytest.param(
        "health",
        changed(health_report(), ("status",), "ok"),
        {(("status",), "enum")},
        id="health-status-ok",
    ),
    pytest.param(
        "health",
        changed(health_report(), ("checks", "db:responseTime"), {"status": "pass"}),
        {(("checks", "db:responseTime"), "type")},
        id="health-check-object-instead-of-array",
    ),
]


def test_checkout_reads_the_repository_schemas() -> None:
    assert schema_dir() == ROOT / "contracts" / "schema"


def test_unknown_schema_name_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown schema 'problem'"):
        load_schema("problem")


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_schema_is_valid_draft_2020_12(name: str) -> None:
    Draft202012Validator.check_schema(load_schema(name))


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_schema_declares_draft_2020_12(name: str) -> None:
    assert load_schema(name)["$schema"] == Draft202012Validator.META_SCHEMA["$id"]


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_schema_id_names_its_file(name: str) -> None:
    assert load_schema(name)["$id"] == f"urn:hiccup:schema:{name}"


@pytest.mark.parametrize("name", DOCUMENTED_SCHEMAS)
def test_schema_has_at_least_three_examples(name: str) -> None:
    assert len(load_schema(name)["examples"]) >= 3


@pytest.mark.parametrize(("name", "example"), schema_examples())
def test_schema_example_is_valid(name: str, example: object) -> None:
    assert failures(name, example) == set()


@pytest.mark.parametrize(
    ("name", "instance"),
    [
        pytest.param("envelope", envelope(), id="envelope"),
        pytest.param("log-record", log_record(), id="log-record"),
        pytest.param("health", health_report(), id="health"),
    ],
)
def test_base_instance_of_rejected_cases_is_valid(name: str, instance: object) -> None:
    assert failures(name, instance) == set()


@pytest.mark.parametrize(("name", "instance", "expected"), REJECTED)
def test_schema_rejects_instance(
    name: str, instance: object, expected: set[tuple[tuple[str | int, ...], str]]
) -> None:
    assert failures(name, instance) == expected


@pytest.mark.parametrize(("name", "body"), documented_blocks())
def test_documented_json_block_is_valid(name: str, body: str) -> None:
    assert name in SCHEMA_NAMES
    assert failures(name, json.loads(body)) == set()


def test_extract_schema_blocks_returns_marked_block() -> None:
    text = (
        "# Errors\n"
        "\n"
        "<!-- schema: envelope -->\n"
        "```json\n"
        '{"status": 404,\n'
        ' "code": "NOT_FOUND"}\n'
        "```\n"
    )

    blocks = extract_schema_blocks(text)

    assert blocks == [("envelope", 4, '{"status": 404,\n "code": "NOT_FOUND"}')]


def test_extract_schema_blocks_skips_unmarked_block() -> None:
    text = '<!-- note -->\n```json\n{"status": "ok"}\n```\n'

    assert extract_schema_blocks(text) == []


def test_extract_schema_blocks_skips_marker_not_right_above_fence() -> None:
    text = '<!-- schema: health -->\n\n```json\n{"status": "ok"}\n```\n'

    assert extract_schema_blocks(text) == []


def test_extract_schema_blocks_skips_marked_block_in_another_language() -> None:
    text = "<!-- schema: log-record -->\n```python\nprint('hi')\n```\n"

    assert extract_schema_blocks(text) == []
