"""RFC 9457 problem details: the body and headers of every error response."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import orjson
from babel.core import negotiate_locale

from ._codes import CONTRACT
from ._icu import parse, render
from ._problem import FieldError
from ._spec import CodeSpec, Contract, Copy

__all__ = [
    "PROBLEM_JSON",
    "Outcome",
    "negotiate",
    "problem_body",
    "problem_response",
    "problem_title",
]

PROBLEM_JSON = b"application/problem+json"

_MAX_LANGUAGES = 12
_NO_BODY_STATUSES = frozenset({204, 304})


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a failure answers: a status, a contract code and what goes with it."""

    status: int
    code: str
    params: Mapping[str, str | int | float] = field(default_factory=dict)
    detail: str | None = None
    headers: Sequence[tuple[str, str]] = ()
    retry_after_ms: int | None = None
    should_retry: bool | None = None
    errors: Sequence[FieldError] = ()
    debug: Mapping[str, object] | None = None

    @property
    def spec(self) -> CodeSpec:
        """The contract entry of the code."""
        return CONTRACT.codes[self.code]


def _available_locales(contract: Contract) -> list[str]:
    found = list(contract.required_locales)
    for spec in contract.codes.values():
        found.extend(locale for locale in spec.copy if locale not in found)

    return found


_AVAILABLE = _available_locales(CONTRACT)


@lru_cache(maxsize=256)
def negotiate(accept_language: bytes | None) -> str:
    """Pick the contract locale that best fits an Accept-Language header.

    Malformed entries and q-values are skipped; anything unusable gives the
    contract's source locale.
    """
    if not accept_language:
        return CONTRACT.source_locale
    ranked: list[tuple[float, int, str]] = []
    entries = accept_language.decode("latin-1").split(",")[:_MAX_LANGUAGES]
    for index, entry in enumerate(entries):
        tag, _, rest = entry.strip().partition(";")
        quality = 1.0
        if rest.strip().startswith("q="):
            try:
                quality = float(rest.strip()[2:])
            except ValueError:
                continue
        if tag and quality > 0 and len(tag) <= 35 and tag.replace("-", "").isalnum():
            ranked.append((-quality, index, tag.replace("_", "-")))
    preferred = [tag for _, _, tag in sorted(ranked)]
    chosen = negotiate_locale(preferred, _AVAILABLE, sep="-") if preferred else None

    return chosen or CONTRACT.source_locale


def problem_title(code: str) -> str:
    """Return the RFC 9457 ``title`` of a code, the same for every occurrence."""
    return code.replace("_", " ").capitalize()


def _retry(outcome: Outcome) -> dict[str, object]:
    policy = outcome.spec.retry
    auto = policy.auto and outcome.should_retry is not False
    after = (
        outcome.retry_after_ms
        if outcome.retry_after_ms is not None
        else policy.after_ms
    )
    retry: dict[str, object] = {"auto": auto, "user": policy.user}
    if after is not None:
        retry["after_ms"] = after

    return retry


def _user(outcome: Outcome, locale: str) -> dict[str, object] | None:
    spec = outcome.spec
    copy: Copy | None = spec.copy.get(locale) or spec.copy.get(CONTRACT.source_locale)
    params: Mapping[str, object] = outcome.params
    if copy is None or set(spec.params) - set(params):
        # Copy that names a param nobody supplied would show a hole; the
        # category's generic words never name one.
        generic = CONTRACT.generic.get(spec.category, {})
        copy = generic.get(locale) or generic.get(CONTRACT.source_locale)
        params = {}
    if copy is None:
        return None
    user: dict[str, object] = {"locale": locale}
    for name, text in (
        ("title", copy.title),
        ("message", copy.message),
        ("action", copy.action),
    ):
        if text is not None:
            user[name] = render(parse(text), params, locale)
    if copy.suggestions:
        user["suggestions"] = [
            render(parse(s), params, locale) for s in copy.suggestions
        ]

    return user


def _field_error(error: FieldError) -> dict[str, object]:
    item: dict[str, object] = {"source": dict(error.source), "code": error.code}
    if error.detail is not None:
        item["detail"] = error.detail
    if error.params:
        item["params"] = dict(error.params)

    return item


def problem_body(
    outcome: Outcome,
    *,
    request_id: str,
    locale: str,
    trace_id: str | None = None,
    client_request_id: str | None = None,
) -> dict[str, object]:
    """Return the envelope of a failure as a JSON-ready mapping."""
    body: dict[str, object] = {
        "type": CONTRACT.type_uri(outcome.code),
        "title": problem_title(outcome.code),
        "status": outcome.status,
        "code": outcome.code,
        "category": outcome.spec.category,
        "request_id": request_id,
    }
    if outcome.detail:
        body["detail"] = outcome.detail
    if trace_id is not None:
        body["trace_id"] = trace_id
    if client_request_id is not None:
        body["client_request_id"] = client_request_id
    if outcome.params:
        body["params"] = dict(outcome.params)
    body["retry"] = _retry(outcome)
    if outcome.errors:
        body["errors"] = [_field_error(e) for e in outcome.errors]
    user = _user(outcome, locale)
    if user is not None:
        body["user"] = user
    if outcome.debug is not None:
        body["debug"] = dict(outcome.debug)

    return body


def problem_response(
    outcome: Outcome,
    *,
    request_id: str,
    accept_language: bytes | None,
    method: str,
    trace_id: str | None = None,
    client_request_id: str | None = None,
) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """Return the status, raw headers and body bytes of an error response.

    HEAD requests, 204 and 304 get the headers without a body. The request-ID
    header is not among them: the middleware adds it to every response.
    """
    locale = negotiate(accept_language)
    body = problem_body(
        outcome,
        request_id=request_id,
        locale=locale,
        trace_id=trace_id,
        client_request_id=client_request_id,
    )
    payload = orjson.dumps(body, default=str)
    headers = [
        (b"content-type", PROBLEM_JSON),
        (b"content-length", str(len(payload)).encode()),
        (b"cache-control", b"no-store"),
        (b"content-language", locale.encode()),
        (b"vary", b"Accept-Language"),
    ]
    retry = body["retry"]
    assert isinstance(retry, dict)
    after_ms = retry.get("after_ms")
    if isinstance(after_ms, int) and (retry["auto"] or retry["user"]):
        headers.append((b"retry-after", str(math.ceil(after_ms / 1000)).encode()))
    if outcome.should_retry is not None:
        headers.append(
            (b"x-should-retry", b"true" if outcome.should_retry else b"false")
        )
    taken = {name for name, _ in headers}
    for name, value in outcome.headers:
        raw = name.lower().encode("latin-1")
        if raw not in taken:
            headers.append((raw, value.encode("latin-1")))
    if method == "HEAD" or outcome.status in _NO_BODY_STATUSES:
        payload = b""

    return outcome.status, headers, payload
