from __future__ import annotations

import pytest

from hiccup import Code, FieldError, Problem, ProblemError


def test_problem_takes_status_and_params_from_the_contract() -> None:
    problem = Problem(Code.MODEL_TIMEOUT, model="writer-large", detail="30 s")

    assert (problem.code, problem.status) == ("MODEL_TIMEOUT", 504)
    assert dict(problem.params) == {"model": "writer-large"}
    assert str(problem) == "MODEL_TIMEOUT: 30 s"
    assert repr(problem) == "Problem('MODEL_TIMEOUT', {'model': 'writer-large'})"


def test_problem_without_detail_reads_as_its_code() -> None:
    assert str(Problem(Code.CONFLICT)) == "CONFLICT"


def test_problem_keeps_headers_and_retry_hints() -> None:
    problem = Problem(
        Code.RATE_LIMITED,
        seconds=30,
        headers={"X-RateLimit-Remaining": "0"},
        retry_after_ms=30_000,
        should_retry=False,
    )

    assert problem.headers == {"X-RateLimit-Remaining": "0"}
    assert (problem.retry_after_ms, problem.should_retry) == (30_000, False)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        pytest.param(
            lambda: Problem(Code.MODEL_TIMEOUT, modle="x"),  # type: ignore[call-overload]
            "MODEL_TIMEOUT does not declare the param 'modle'; its params: model",
            id="unknown-param",
        ),
        pytest.param(
            lambda: Problem(Code.RATE_LIMITED, seconds=[30]),  # type: ignore[call-overload]
            "RATE_LIMITED param 'seconds' must be a string or a number, not [30]",
            id="param-type",
        ),
        pytest.param(
            lambda: Problem("NOT_A_CODE"),  # type: ignore[call-overload]
            "'NOT_A_CODE' is not a code of the contract",
            id="unknown-code",
        ),
        pytest.param(
            lambda: Problem(Code.NETWORK_OFFLINE),  # type: ignore[call-overload]
            "NETWORK_OFFLINE is raised by the browser SDK, never by a server",
            id="client-code",
        ),
        pytest.param(
            lambda: Problem(Code.FIELD_REQUIRED),  # type: ignore[call-overload]
            "FIELD_REQUIRED is not a response code, not a field code",
            id="field-code",
        ),
        pytest.param(
            lambda: Problem(Code.CONFLICT, retry_after_ms=-1),
            "retry_after_ms must be a whole number of milliseconds, not -1",
            id="negative-wait",
        ),
        pytest.param(
            lambda: Problem(Code.VALIDATION_FAILED, errors=["bad"]),  # type: ignore[list-item]
            "errors must be FieldError values",
            id="errors-type",
        ),
    ],
)
def test_wrong_use_is_a_clear_error(build: object, message: str) -> None:
    with pytest.raises(ProblemError) as caught:
        build()  # type: ignore[operator]

    assert str(caught.value) == message


def test_field_error_has_one_location() -> None:
    error = FieldError(Code.FIELD_TOO_LONG, pointer="/prompt", max_length=2000)

    assert (error.code, dict(error.source), dict(error.params)) == (
        "FIELD_TOO_LONG",
        {"pointer": "/prompt"},
        {"max_length": 2000},
    )


@pytest.mark.parametrize(
    "where",
    [
        pytest.param({}, id="none"),
        pytest.param({"pointer": "/a", "header": "X-A"}, id="two"),
    ],
)
def test_field_error_needs_exactly_one_location(where: dict[str, str]) -> None:
    with pytest.raises(
        ProblemError, match="exactly one of pointer, parameter or header"
    ):
        FieldError(Code.FIELD_REQUIRED, **where)


def test_field_error_refuses_a_response_code() -> None:
    with pytest.raises(ProblemError, match="MODEL_TIMEOUT is not a field code"):
        FieldError(Code.MODEL_TIMEOUT, pointer="/a")
