from __future__ import annotations

import pytest
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from hiccup import Code, Problem
from hiccup._codes import CONTRACT
from hiccup._mapping import STATUS_CODES, outcome_for_exception, outcome_for_status
from hiccup._spec import CodeSpec


def validation(*errors: dict[str, object]) -> RequestValidationError:
    return RequestValidationError(list(errors))


def test_every_status_maps_to_a_code_with_that_status() -> None:
    for status, code in STATUS_CODES.items():
        spec: CodeSpec = CONTRACT.codes[code]
        assert spec.status == status, code


@pytest.mark.parametrize(
    ("status", "code"),
    [
        pytest.param(418, "BAD_REQUEST", id="unknown-4xx"),
        pytest.param(507, "INTERNAL", id="unknown-5xx"),
        pytest.param(404, "NOT_FOUND", id="known"),
    ],
)
def test_bare_status_keeps_status_and_takes_the_closest_code(
    status: int, code: str
) -> None:
    outcome = outcome_for_status(status)

    assert (outcome.status, outcome.code) == (status, code)


def test_http_exception_keeps_status_detail_and_headers() -> None:
    exc = HTTPException(405, "Method Not Allowed", headers={"Allow": "GET"})

    outcome = outcome_for_exception(exc)

    assert (outcome.status, outcome.code, outcome.detail) == (
        405,
        "METHOD_NOT_ALLOWED",
        "Method Not Allowed",
    )
    assert outcome.headers == (("Allow", "GET"),)


def test_http_exception_with_structured_detail_drops_it() -> None:
    outcome = outcome_for_exception(HTTPException(400, detail={"input": "x"}))  # type: ignore[arg-type]

    assert outcome.detail is None


def test_problem_maps_to_its_code() -> None:
    outcome = outcome_for_exception(
        Problem(Code.RATE_LIMITED, seconds=3, headers={"X-Limit": "10"})
    )

    assert (outcome.status, outcome.code, dict(outcome.params)) == (
        429,
        "RATE_LIMITED",
        {"seconds": 3},
    )
    assert outcome.headers == (("X-Limit", "10"),)


def test_timeout_is_a_504_without_exception_text() -> None:
    outcome = outcome_for_exception(TimeoutError("db said: password=hunter2"))

    assert (outcome.status, outcome.code, outcome.detail, outcome.debug) == (
        504,
        "SERVER_TIMEOUT",
        None,
        None,
    )


def test_unhandled_exception_is_a_500_without_exception_text() -> None:
    outcome = outcome_for_exception(RuntimeError("secret"))

    assert (outcome.status, outcome.code, outcome.detail, outcome.debug) == (
        500,
        "INTERNAL",
        None,
        None,
    )


def test_debug_adds_exception_details() -> None:
    try:
        raise RuntimeError("secret")
    except RuntimeError as exc:
        outcome = outcome_for_exception(exc, debug=True)

    assert outcome.debug is not None
    assert outcome.debug["exception_type"] == "RuntimeError"
    assert outcome.debug["exception_message"] == "secret"
    assert outcome.debug["frames"][-1]["function"] == (
        "test_debug_adds_exception_details"
    )


@pytest.mark.parametrize(
    ("error", "source", "code", "params"),
    [
        pytest.param(
            {"type": "missing", "loc": ("body", "prompt"), "msg": "Field required"},
            {"pointer": "/prompt"},
            "FIELD_REQUIRED",
            {},
            id="missing",
        ),
        pytest.param(
            {
                "type": "string_too_long",
                "loc": ("body", "items", 2, "a/b~c"),
                "msg": "m",
                "ctx": {"max_length": 10},
            },
            {"pointer": "/items/2/a~1b~0c"},
            "FIELD_TOO_LONG",
            {"max_length": 10},
            id="pointer-escaped",
        ),
        pytest.param(
            {
                "type": "string_too_short",
                "loc": ("query", "q"),
                "msg": "m",
                "ctx": {"min_length": 3},
            },
            {"parameter": "q"},
            "FIELD_TOO_SHORT",
            {"min_length": 3},
            id="query",
        ),
        pytest.param(
            {
                "type": "greater_than_equal",
                "loc": ("path", "n"),
                "msg": "m",
                "ctx": {"ge": 1},
            },
            {"parameter": "n"},
            "FIELD_TOO_SMALL",
            {"minimum": 1},
            id="minimum",
        ),
        pytest.param(
            {"type": "less_than", "loc": ("body", "n"), "msg": "m", "ctx": {"lt": 5.5}},
            {"pointer": "/n"},
            "FIELD_TOO_LARGE",
            {"maximum": 5.5},
            id="maximum",
        ),
        pytest.param(
            {
                "type": "less_than",
                "loc": ("body", "n"),
                "msg": "m",
                "ctx": {"lt": float("inf")},
            },
            {"pointer": "/n"},
            "FIELD_TOO_LARGE",
            {},
            id="infinite-bound-dropped",
        ),
        pytest.param(
            {"type": "int_parsing", "loc": ("header", "x-count"), "msg": "m"},
            {"header": "x-count"},
            "FIELD_INVALID_TYPE",
            {},
            id="header",
        ),
        pytest.param(
            {"type": "literal_error", "loc": ("cookie", "tone"), "msg": "m"},
            {"parameter": "tone"},
            "FIELD_INVALID_CHOICE",
            {},
            id="cookie",
        ),
        pytest.param(
            {"type": "url_parsing", "loc": ("body", "link"), "msg": "m"},
            {"pointer": "/link"},
            "FIELD_INVALID_TYPE",
            {},
            id="parsing-is-type",
        ),
        pytest.param(
            {"type": "uuid_version", "loc": ("body", "id"), "msg": "m"},
            {"pointer": "/id"},
            "FIELD_INVALID_FORMAT",
            {},
            id="unknown-type-is-format",
        ),
    ],
)
def test_validation_errors_become_field_errors(
    error: dict[str, object],
    source: dict[str, str],
    code: str,
    params: dict[str, object],
) -> None:
    outcome = outcome_for_exception(validation(error), content_type=b"application/json")

    assert (outcome.status, outcome.code) == (422, "VALIDATION_FAILED")
    [field] = outcome.errors
    assert (dict(field.source), field.code, dict(field.params)) == (
        source,
        code,
        params,
    )


def test_validation_drops_input_and_app_written_messages() -> None:
    error = {
        "type": "value_error",
        "loc": ("body", "email"),
        "msg": "Value error, alice@example.com is taken",
        "input": "alice@example.com",
        "ctx": {"error": ValueError("alice@example.com is taken")},
    }

    outcome = outcome_for_exception(validation(error), content_type=b"application/json")

    [field] = outcome.errors
    assert field.detail is None
    assert "alice" not in repr(field)


def test_pydantic_messages_are_kept_as_detail() -> None:
    error = {"type": "missing", "loc": ("body", "a"), "msg": "Field required"}

    [field] = outcome_for_exception(
        validation(error), content_type=b"application/json"
    ).errors

    assert field.detail == "Field required"


def test_invalid_json_is_a_400() -> None:
    error = {"type": "json_invalid", "loc": ("body", 14), "msg": "JSON decode error"}

    outcome = outcome_for_exception(validation(error), content_type=b"application/json")

    assert (outcome.status, outcome.code, outcome.errors) == (
        400,
        "MALFORMED_REQUEST",
        (),
    )


@pytest.mark.parametrize(
    "content_type",
    [None, b"text/plain", b"application/x-www-form-urlencoded"],
)
def test_body_of_another_media_type_is_a_415(content_type: bytes | None) -> None:
    error = {"type": "model_attributes_type", "loc": ("body",), "msg": "m"}

    outcome = outcome_for_exception(validation(error), content_type=content_type)

    assert (outcome.status, outcome.code) == (415, "UNSUPPORTED_MEDIA_TYPE")


def test_whole_body_problem_with_json_is_a_422() -> None:
    error = {"type": "model_attributes_type", "loc": ("body",), "msg": "m"}

    outcome = outcome_for_exception(
        validation(error), content_type=b"application/merge-patch+json; charset=utf-8"
    )

    assert outcome.status == 422
    assert dict(outcome.errors[0].source) == {"pointer": ""}
