"""Checked by mypy in the lint session, never run: each ignored line must fail.

mypy's ``warn_unused_ignores`` (part of ``--strict``) turns an ignore that is
no longer needed into an error, so a signature that stops catching a mistake
fails the check.
"""

from __future__ import annotations

from hiccup import Code, FieldError, Problem

Problem(Code.MODEL_TIMEOUT, model="writer-large")
Problem(Code.RATE_LIMITED, seconds=30, retry_after_ms=30_000)
Problem(Code.INTERNAL, detail="lost the draft")
Problem(
    Code.VALIDATION_FAILED,
    errors=[FieldError(Code.FIELD_REQUIRED, pointer="/prompt")],
)

Problem(Code.MODEL_TIMEOUT)  # type: ignore[call-overload]
Problem(Code.MODEL_TIMEOUT, model=3)  # type: ignore[call-overload]
Problem(Code.MODEL_TIMEOUT, model="x", modle="y")  # type: ignore[call-overload]
Problem(Code.RATE_LIMITED, seconds="thirty")  # type: ignore[call-overload]
Problem(Code.NETWORK_OFFLINE)  # type: ignore[call-overload]
Problem(Code.FIELD_OUT_OF_RANGE)  # type: ignore[call-overload]
Problem(Code.NOT_FOUND, retry_after_ms="soon")  # type: ignore[call-overload]
