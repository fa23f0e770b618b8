"""Which status and contract code each kind of failure answers with."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from ._codes import CONTRACT, Code
from ._envelope import Outcome
from ._logging import exception_fields
from ._problem import FieldError, Problem, field_error

if TYPE_CHECKING:
    from .resilience._retry import RetriesExhausted

__all__ = ["STATUS_CODES", "outcome_for_exception", "outcome_for_status"]

#: The code a bare status maps to when nothing more precise is known.
STATUS_CODES: Mapping[int, Code] = {
    400: Code.BAD_REQUEST,
    401: Code.UNAUTHENTICATED,
    403: Code.FORBIDDEN,
    404: Code.NOT_FOUND,
    405: Code.METHOD_NOT_ALLOWED,
    409: Code.CONFLICT,
    413: Code.PAYLOAD_TOO_LARGE,
    415: Code.UNSUPPORTED_MEDIA_TYPE,
    422: Code.VALIDATION_FAILED,
    429: Code.RATE_LIMITED,
    500: Code.INTERNAL,
    502: Code.UPSTREAM_ERROR,
    503: Code.DEPENDENCY_UNAVAILABLE,
    504: Code.UPSTREAM_TIMEOUT,
}

#: pydantic error types and the field code each becomes.
_FIELD_CODES: Mapping[str, Code] = {
    "missing": Code.FIELD_REQUIRED,
    "string_too_short": Code.FIELD_TOO_SHORT,
    "too_short": Code.FIELD_TOO_SHORT,
    "string_too_long": Code.FIELD_TOO_LONG,
    "too_long": Code.FIELD_TOO_LONG,
    "greater_than": Code.FIELD_TOO_SMALL,
    "greater_than_equal": Code.FIELD_TOO_SMALL,
    "less_than": Code.FIELD_TOO_LARGE,
    "less_than_equal": Code.FIELD_TOO_LARGE,
    "literal_error": Code.FIELD_INVALID_CHOICE,
    "enum": Code.FIELD_INVALID_CHOICE,
    "string_pattern_mismatch": Code.FIELD_INVALID_FORMAT,
    "value_error": Code.FIELD_INVALID_FORMAT,
    "assertion_error": Code.FIELD_INVALID_FORMAT,
}
#: Suffixes of pydantic types that mean "not that kind of value".
_TYPE_SUFFIXES = (
    "_type",
    "_parsing",
    "_from_float",
    "_finite_number",
    "_attributes_type",
)
#: pydantic messages that are safe to pass on: written by pydantic, never
#: quoting the input. Custom validators' messages are the app's and may.
_APP_WRITTEN = frozenset({"value_error", "assertion_error"})
#: Where pydantic puts the bound a number broke, by error type.
_BOUND_KEYS = {
    "greater_than": "gt",
    "greater_than_equal": "ge",
    "less_than": "lt",
    "less_than_equal": "le",
}
_PARAMETER_LOCATIONS = frozenset({"query", "path", "cookie"})
_JSON_TYPES = (b"application/json", b"+json")


def outcome_for_status(
    status: int,
    *,
    detail: str | None = None,
    headers: Sequence[tuple[str, str]] = (),
) -> Outcome:
    """Return the outcome of a bare HTTP status, by its closest code."""
    code = STATUS_CODES.get(status)
    if code is None:
        code = Code.INTERNAL if status >= 500 else Code.BAD_REQUEST

    return Outcome(status=status, code=code, detail=detail, headers=headers)


def _pointer(path: Sequence[object]) -> str:
    parts = (str(p).replace("~", "~0").replace("/", "~1") for p in path)

    return "".join(f"/{p}" for p in parts)


def _bound(value: object) -> int | float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value if math.isfinite(value) else None

    return None


def _field_params(
    code: Code, kind: str, ctx: Mapping[str, Any]
) -> dict[str, int | float]:
    key = {
        Code.FIELD_TOO_SHORT: "min_length",
        Code.FIELD_TOO_LONG: "max_length",
    }.get(code)
    if key is not None:
        value = _bound(ctx.get(key))
        return {key: value} if value is not None else {}
    if code in (Code.FIELD_TOO_SMALL, Code.FIELD_TOO_LARGE):
        name = "minimum" if code is Code.FIELD_TOO_SMALL else "maximum"
        value = _bound(ctx.get(_BOUND_KEYS[kind]))
        return {name: value} if value is not None else {}

    return {}


def _field_code(kind: str) -> Code:
    code = _FIELD_CODES.get(kind)
    if code is not None:
        return code
    if kind.endswith(_TYPE_SUFFIXES):
        return Code.FIELD_INVALID_TYPE

    return Code.FIELD_INVALID_FORMAT


def _field_error(error: Mapping[str, Any]) -> FieldError:
    loc = tuple(error.get("loc", ()))
    kind = str(error.get("type", ""))
    code = _field_code(kind)
    ctx = error.get("ctx") or {}
    params = _field_params(code, kind, ctx)
    detail = None if kind in _APP_WRITTEN else str(error.get("msg", "")) or None
    where, path = (loc[0], loc[1:]) if loc else ("body", ())
    if where in _PARAMETER_LOCATIONS and path:
        return field_error(code, "parameter", str(path[0]), detail, params)
    if where == "header" and path:
        return field_error(code, "header", str(path[0]), detail, params)

    return field_error(code, "pointer", _pointer(path), detail, params)


def _validation_outcome(
    exc: RequestValidationError, content_type: bytes | None
) -> Outcome:
    errors = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        return Outcome(
            status=400,
            code=Code.MALFORMED_REQUEST,
            detail="The request body is not valid JSON.",
        )
    body_level = [e for e in errors if tuple(e.get("loc", ())) == ("body",)]
    is_json = content_type is not None and any(
        t in content_type.split(b";")[0].strip().lower() for t in _JSON_TYPES
    )
    if body_level and not is_json:
        return Outcome(
            status=415,
            code=Code.UNSUPPORTED_MEDIA_TYPE,
            detail="The request body must be JSON (Content-Type: application/json).",
        )
    fields = [_field_error(e) for e in errors]
    count = len(fields)

    return Outcome(
        status=422,
        code=Code.VALIDATION_FAILED,
        detail=f"{count} problem{'s' if count != 1 else ''} with the request.",
        errors=fields,
    )


def outcome_for_exception(
    exc: BaseException, *, content_type: bytes | None = None, debug: bool = False
) -> Outcome:
    """Return the outcome an exception answers with.

    Args:
        exc: the exception.
        content_type: the request's Content-Type, to tell a wrong media type
            from a malformed body.
        debug: add the exception's type, message and frames (never in
            production).
    """
    if isinstance(exc, Problem):
        return Outcome(
            status=exc.status,
            code=exc.code,
            params=exc.params,
            detail=exc.detail,
            headers=tuple(exc.headers.items()),
            retry_after_ms=exc.retry_after_ms,
            should_retry=exc.should_retry,
            errors=exc.errors,
        )
    if isinstance(exc, RequestValidationError):
        return _validation_outcome(exc, content_type)
    if isinstance(exc, HTTPException):
        detail = exc.detail if isinstance(exc.detail, str) else None
        return outcome_for_status(
            exc.status_code,
            detail=detail,
            headers=tuple((exc.headers or {}).items()),
        )
    details = _debug_details(exc) if debug else None
    # Resilience builds on this module, so it is imported once it is needed.
    from .resilience._retry import RetriesExhausted  # noqa: PLC0415

    if isinstance(exc, RetriesExhausted):
        return _exhausted_outcome(exc, details)
    if isinstance(exc, TimeoutError):
        return Outcome(status=504, code=Code.SERVER_TIMEOUT, debug=details)

    return Outcome(status=500, code=Code.INTERNAL, debug=details)


def _debug_details(exc: BaseException) -> dict[str, object]:
    fields = exception_fields(exc)

    return {
        "exception_type": fields["type"],
        "exception_message": fields["message"],
        "frames": fields["frames"],
    }


def _exhausted_outcome(
    exc: RetriesExhausted, details: Mapping[str, object] | None
) -> Outcome:
    """Answer for a dependency that this server has already retried.

    The code says how the dependency failed: the last attempt's own
    ``Problem`` when it raised one, else a timeout, the dependency's last
    status, or its being out of reach. ``X-Should-Retry: false`` tells the
    client not to add its retries to the ones already made.
    """
    last = exc.last_exception
    if isinstance(last, Problem):
        inner = outcome_for_exception(last)
        return dataclasses.replace(inner, should_retry=False, debug=details)
    status = getattr(exc.last_response, "status_code", None)
    if exc.reason == "deadline" or _is_timeout(last) or status in (408, 504):
        code = Code.UPSTREAM_TIMEOUT
    elif status is None or status in (429, 503):
        code = Code.DEPENDENCY_UNAVAILABLE
    else:
        code = Code.UPSTREAM_ERROR

    return Outcome(
        status=CONTRACT.codes[code].status,
        code=code,
        should_retry=False,
        debug=details,
    )


def _is_timeout(exc: BaseException | None) -> bool:
    # httpx's timeouts are not TimeoutErrors; their class names say it.
    return isinstance(exc, TimeoutError) or (
        exc is not None and type(exc).__name__.endswith("Timeout")
    )
