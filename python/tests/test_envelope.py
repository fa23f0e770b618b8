from __future__ import annotations

import json

import pytest
from support import assert_valid

from hiccup import Code, FieldError
from hiccup._envelope import Outcome, negotiate, problem_body, problem_response

RID = "0195f3c2-7a4e-7b61-9d0c-3e8f2a6b1c47"


def respond(
    outcome: Outcome, **options: object
) -> tuple[int, dict[bytes, bytes], bytes]:
    settings: dict[str, object] = {
        "request_id": RID,
        "accept_language": None,
        "method": "GET",
    }
    settings.update(options)
    status, headers, body = problem_response(outcome, **settings)  # type: ignore[arg-type]
    return status, dict(headers), body


@pytest.mark.parametrize(
    ("header", "locale"),
    [
        pytest.param(None, "en", id="none"),
        pytest.param(b"fr", "fr", id="fr"),
        pytest.param(b"fr-CA,fr;q=0.9,en;q=0.8", "fr", id="region"),
        pytest.param(b"de-DE,fr;q=0.5,en;q=0.4", "fr", id="quality-order"),
        pytest.param(b"en;q=0.1, fr;q=0.9", "fr", id="higher-quality-wins"),
        pytest.param(b"fr;q=0", "en", id="refused"),
        pytest.param(b"de", "en", id="unavailable"),
        pytest.param(b"*", "en", id="wildcard"),
        pytest.param(b";;;,q=x,,", "en", id="garbage"),
        pytest.param(b"fr;q=abc", "en", id="bad-quality"),
        pytest.param("fr-☃".encode(), "en", id="unicode"),
        pytest.param(b"x" * 10_000, "en", id="ten-kilobytes"),
        pytest.param(b"en," * 100 + b"fr", "en", id="many-entries"),
    ],
)
def test_locale_follows_accept_language(header: bytes | None, locale: str) -> None:
    assert negotiate(header) == locale


def test_body_has_rfc9457_members_and_extensions() -> None:
    outcome = Outcome(504, Code.MODEL_TIMEOUT, params={"model": "writer-large"})

    body = problem_body(outcome, request_id=RID, locale="en", trace_id="a" * 32)

    assert body["type"] == "/problems/model-timeout"
    assert body["title"] == "Model timeout"
    assert (body["status"], body["code"], body["category"], body["request_id"]) == (
        504,
        "MODEL_TIMEOUT",
        "timeout",
        RID,
    )
    assert body["trace_id"] == "a" * 32
    assert body["params"] == {"model": "writer-large"}
    assert body["retry"] == {"auto": True, "user": True, "after_ms": 2000}
    assert body["user"] == {
        "locale": "en",
        "title": "This is taking longer than usual",
        "message": "writer-large did not finish in time. Your prompt is saved, so "
        "nothing is lost.",
        "action": "Try again",
        "suggestions": ["Try a shorter prompt.", "Wait a moment and try again."],
    }
    assert_valid("envelope", body)


def test_user_copy_in_french() -> None:
    outcome = Outcome(504, Code.MODEL_TIMEOUT, params={"model": "writer-large"})

    user = problem_body(outcome, request_id=RID, locale="fr")["user"]

    assert isinstance(user, dict)
    assert user["title"] == "Cela prend plus de temps que prévu"


def test_missing_param_falls_back_to_generic_copy() -> None:
    body = problem_body(Outcome(504, Code.MODEL_TIMEOUT), request_id=RID, locale="en")

    assert body["user"] == {
        "locale": "en",
        "title": "This is taking too long",
        "message": "We did not get an answer in time. Nothing you entered is lost.",
        "action": "Try again",
    }


def test_field_errors_carry_source_code_and_params_only() -> None:
    errors = [
        FieldError(Code.FIELD_TOO_LONG, pointer="/prompt", max_length=10),
        FieldError(Code.FIELD_REQUIRED, parameter="tone", detail="Field required"),
    ]
    outcome = Outcome(422, Code.VALIDATION_FAILED, errors=errors)

    body = problem_body(outcome, request_id=RID, locale="en")

    assert body["errors"] == [
        {
            "source": {"pointer": "/prompt"},
            "code": "FIELD_TOO_LONG",
            "params": {"max_length": 10},
        },
        {
            "source": {"parameter": "tone"},
            "code": "FIELD_REQUIRED",
            "detail": "Field required",
        },
    ]
    assert_valid("envelope", body)


def test_retry_after_is_the_wait_rounded_up_to_seconds() -> None:
    status, headers, body = respond(
        Outcome(429, Code.RATE_LIMITED, params={"seconds": 2}, retry_after_ms=1001)
    )

    assert status == 429
    assert headers[b"retry-after"] == b"2"
    assert json.loads(body)["retry"]["after_ms"] == 1001


def test_no_retry_after_when_nothing_may_retry() -> None:
    _, headers, _ = respond(Outcome(404, Code.NOT_FOUND))

    assert b"retry-after" not in headers


def test_should_retry_false_turns_automatic_retry_off() -> None:
    _, headers, body = respond(Outcome(503, Code.MODEL_OVERLOADED, should_retry=False))

    assert headers[b"x-should-retry"] == b"false"
    assert json.loads(body)["retry"]["auto"] is False


def test_headers_of_an_error_response() -> None:
    status, headers, body = respond(Outcome(404, Code.NOT_FOUND), accept_language=b"fr")

    assert status == 404
    assert headers[b"content-type"] == b"application/problem+json"
    assert headers[b"content-length"] == str(len(body)).encode()
    assert headers[b"content-language"] == b"fr"
    assert headers[b"vary"] == b"Accept-Language"
    assert headers[b"cache-control"] == b"no-store"


def test_head_gets_headers_without_a_body() -> None:
    _, headers, body = respond(Outcome(404, Code.NOT_FOUND), method="HEAD")

    assert body == b""
    assert int(headers[b"content-length"]) > 0


def test_outcome_headers_are_added_but_never_replace_hiccups() -> None:
    outcome = Outcome(
        405,
        Code.METHOD_NOT_ALLOWED,
        headers=(("Allow", "GET, HEAD"), ("Content-Type", "text/html")),
    )

    _, headers, _ = respond(outcome)

    assert headers[b"allow"] == b"GET, HEAD"
    assert headers[b"content-type"] == b"application/problem+json"


def test_debug_details_only_when_given() -> None:
    debug = {"exception_type": "RuntimeError", "exception_message": "x", "frames": []}

    plain = problem_body(Outcome(500, Code.INTERNAL), request_id=RID, locale="en")
    detailed = problem_body(
        Outcome(500, Code.INTERNAL, debug=debug), request_id=RID, locale="en"
    )

    assert "debug" not in plain
    assert detailed["debug"] == debug
