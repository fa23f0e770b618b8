"""The contract as immutable values.

Both the loader of ``contracts/errors.json`` and the generated ``_codes`` module
build these, so the rest of the package reads one shape whichever way the
contract arrived.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "CATEGORIES",
    "RETRYABLE_STATUSES",
    "UI_KEYS",
    "CodeSpec",
    "Contract",
    "Copy",
    "Limits",
    "Param",
    "ParamType",
    "Retry",
    "UiText",
]

ParamType = Literal["string", "integer", "number"]

#: The closed set of categories; every code belongs to one of them, and the
#: ``generic`` section has fallback copy for each.
CATEGORIES: tuple[str, ...] = (
    "invalid_request",
    "unauthenticated",
    "forbidden",
    "not_found",
    "conflict",
    "rate_limited",
    "upstream",
    "timeout",
    "unavailable",
    "internal",
    "network",
)

#: Statuses for which repeating the same request can succeed without anyone
#: changing it. 0 stands for "no usable response arrived" on the client side.
#: 500 is left out on purpose: an unexpected failure is as likely to repeat as
#: not, so only the user may decide to try again.
RETRYABLE_STATUSES: frozenset[int] = frozenset({0, 408, 425, 429, 502, 503, 504})

#: The words of the SDK's own failure dialog, each with the copy field whose
#: length limit it shares: labels and buttons are as short as an ``action``,
#: while the countdown is a sentence, like a ``message``. The schema lists the
#: same keys.
UI_KEYS: Mapping[str, str] = {
    "close": "action",
    "copied": "action",
    "copy_reference": "action",
    "reference": "action",
    "retry": "action",
    "retrying": "action",
    "wait": "message",
}


@dataclass(frozen=True, slots=True)
class Retry:
    """How a failure may be retried: by the SDK alone, by the user, and when."""

    auto: bool
    user: bool
    after_ms: int | None = None


@dataclass(frozen=True, slots=True)
class Param:
    """A typed value that a code's copy may show."""

    type: ParamType
    example: str | int | float
    pii: bool
    description: str = ""


@dataclass(frozen=True, slots=True)
class Copy:
    """The words shown for one code in one locale, in the ICU subset."""

    message: str
    title: str | None = None
    action: str | None = None
    suggestions: tuple[str, ...] = ()

    def texts(self) -> list[tuple[str, str]]:
        """Return ``(field, text)`` pairs for every field that is set.

        Suggestions are named ``suggestions[0]``, ``suggestions[1]``, ...
        """
        pairs = [
            (name, text)
            for name, text in (
                ("title", self.title),
                ("message", self.message),
                ("action", self.action),
            )
            if text is not None
        ]
        pairs.extend((f"suggestions[{i}]", s) for i, s in enumerate(self.suggestions))

        return pairs


@dataclass(frozen=True, slots=True)
class Limits:
    """The longest rendered length of each copy field, in characters."""

    title: int
    message: int
    action: int
    suggestion: int

    def for_field(self, name: str) -> int:
        """Return the limit of a field as ``Copy.texts`` names it."""
        if name.startswith("suggestions["):
            return self.suggestion
        limit: int = getattr(self, name)

        return limit


@dataclass(frozen=True, slots=True)
class CodeSpec:
    """One error code: its HTTP mapping, retry policy, params and copy."""

    name: str
    status: int
    category: str
    severity: Literal["info", "warning", "error", "critical"]
    retry: Retry
    description: str
    owner: str
    since: str
    copy: Mapping[str, Copy]
    params: Mapping[str, Param] = field(default_factory=dict)
    client: bool = False
    field: bool = False
    deprecated: bool = False
    replaced_by: str | None = None

    @property
    def pii_params(self) -> frozenset[str]:
        """Names of the params that must never reach logs or Sentry."""
        return frozenset(name for name, p in self.params.items() if p.pii)


@dataclass(frozen=True, slots=True)
class UiText:
    """Words of the SDK's own interface, the same whatever the failure.

    ``copy`` holds one plain string per locale, in the same ICU subset as a
    code's copy; ``params`` are the values the SDK fills in.
    """

    description: str
    copy: Mapping[str, str]
    params: Mapping[str, Param] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Contract:
    """A whole contract: its codes, the generic copy and the rules around them.

    ``ui`` is empty for a contract written before the section existed, such
    as an old release.
    """

    version: str
    source_locale: str
    required_locales: tuple[str, ...]
    type_base: str
    limits: Limits
    codes: Mapping[str, CodeSpec]
    generic: Mapping[str, Mapping[str, Copy]]
    ui: Mapping[str, UiText] = field(default_factory=dict)

    def type_uri(self, code: str) -> str:
        """Return the RFC 9457 ``type`` of a code: the base and its slug."""
        return self.type_base + code.lower().replace("_", "-")
