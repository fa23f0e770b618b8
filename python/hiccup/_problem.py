"""The exception an app raises to answer with a contract code."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ._codes import CONTRACT, Code, ProblemSignatures
from ._exceptions import HiccupError

__all__ = ["FieldError", "Problem", "ProblemError", "field_error"]

ParamValue = str | int | float


class ProblemError(HiccupError, TypeError):
    """Raised when a ``Problem`` or ``FieldError`` is built with a code or
    params the contract does not declare."""


def _check_params(code: str, params: Mapping[str, object]) -> dict[str, ParamValue]:
    declared = CONTRACT.codes[code].params
    unknown = sorted(set(params) - set(declared))
    if unknown:
        names = ", ".join(sorted(declared)) or "none"
        raise ProblemError(
            f"{code} does not declare the param {unknown[0]!r}; its params: {names}"
        )
    checked: dict[str, ParamValue] = {}
    for name, value in params.items():
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise ProblemError(
                f"{code} param {name!r} must be a string or a number, not {value!r}"
            )
        checked[name] = value

    return checked


def _known(code: object, *, field: bool) -> str:
    if not isinstance(code, str) or code not in CONTRACT.codes:
        raise ProblemError(f"{code!r} is not a code of the contract")
    spec = CONTRACT.codes[code]
    if spec.client:
        raise ProblemError(f"{code} is raised by the browser SDK, never by a server")
    if spec.field != field:
        expected = "a field code" if field else "a response code, not a field code"
        raise ProblemError(f"{code} is not {expected}")

    return str(code)


@dataclass(frozen=True, slots=True, init=False)
class FieldError:
    """One problem with one part of a request, for the ``errors`` of a 422.

    Exactly one of ``pointer`` (a JSON pointer into the body), ``parameter``
    (a query, path or cookie parameter) or ``header`` says where.
    """

    code: str
    source: Mapping[str, str]
    detail: str | None
    params: Mapping[str, ParamValue] = field(default_factory=dict)

    def __init__(
        self,
        code: Code | str,
        *,
        pointer: str | None = None,
        parameter: str | None = None,
        header: str | None = None,
        detail: str | None = None,
        **params: ParamValue,
    ) -> None:
        where = {"pointer": pointer, "parameter": parameter, "header": header}
        _fill_field_error(self, code, where, detail, params)


def _fill_field_error(
    error: FieldError,
    code: object,
    where: Mapping[str, str | None],
    detail: str | None,
    params: Mapping[str, object],
) -> None:
    name = _known(code, field=True)
    given = {k: v for k, v in where.items() if v is not None}
    if len(given) != 1:
        raise ProblemError(
            "a FieldError needs exactly one of pointer, parameter or header, "
            f"not {sorted(given) or 'none'}"
        )
    object.__setattr__(error, "code", name)
    object.__setattr__(error, "source", given)
    object.__setattr__(error, "detail", detail)
    object.__setattr__(error, "params", _check_params(name, params))


def field_error(
    code: Code | str,
    location: str,
    name: str,
    detail: str | None = None,
    params: Mapping[str, ParamValue] | None = None,
) -> FieldError:
    """Build a ``FieldError`` whose location kind is only known at run time.

    Args:
        location: ``pointer``, ``parameter`` or ``header``.
    """
    error = object.__new__(FieldError)
    _fill_field_error(error, code, {location: name}, detail, params or {})

    return error


class Problem(ProblemSignatures, HiccupError):
    """Raised by an app to answer a request with a contract code.

        raise Problem(Code.MODEL_TIMEOUT, model="writer-large")

    The response gets the code's status and retry policy from the contract;
    ``detail`` is for developers and never shown to users. Params are checked
    against the ones the code declares, and typed per code for type checkers.
    """

    code: str
    params: Mapping[str, ParamValue]
    detail: str | None
    headers: Mapping[str, str]
    retry_after_ms: int | None
    should_retry: bool | None
    errors: Sequence[FieldError]

    if not TYPE_CHECKING:

        def __init__(self, code, /, **options):
            _init_problem(self, code, **options)

    @property
    def status(self) -> int:
        """The HTTP status of the code."""
        return CONTRACT.codes[self.code].status

    def __str__(self) -> str:
        return self.code if self.detail is None else f"{self.code}: {self.detail}"

    def __repr__(self) -> str:
        return f"Problem({self.code!r}, {dict(self.params)!r})"


def _init_problem(
    problem: Problem,
    code: object,
    *,
    detail: str | None = None,
    headers: Mapping[str, str] | None = None,
    retry_after_ms: int | None = None,
    should_retry: bool | None = None,
    errors: Sequence[FieldError] = (),
    **params: object,
) -> None:
    name = _known(code, field=False)
    if retry_after_ms is not None and (
        not isinstance(retry_after_ms, int) or retry_after_ms < 0
    ):
        raise ProblemError(
            "retry_after_ms must be a whole number of milliseconds, not "
            f"{retry_after_ms!r}"
        )
    if not all(isinstance(e, FieldError) for e in errors):
        raise ProblemError("errors must be FieldError values")
    HiccupError.__init__(problem, name)
    problem.code = name
    problem.params = _check_params(name, params)
    problem.detail = detail
    problem.headers = dict(headers or {})
    problem.retry_after_ms = retry_after_ms
    problem.should_retry = should_retry
    problem.errors = tuple(errors)
