"""The rules a contract must follow beyond its JSON Schema.

Each rule is a function that takes the contract (and what it needs besides)
and yields ``Finding`` values; ``lint`` runs them all in a fixed order so the
output is stable from one run to the next.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from .._icu import IcuSyntaxError, Node, max_length, parse, placeholders, plurals
from .._spec import (
    CATEGORIES,
    RETRYABLE_STATUSES,
    UI_KEYS,
    CodeSpec,
    Contract,
    Param,
)
from ._load import (
    ContractError,
    Finding,
    build_contract,
    latest_released,
    read_document,
    schema_findings,
)

__all__ = ["JARGON", "LintResult", "lint", "lint_file"]

#: Words and phrases that belong to engineers, not to the people reading the
#: copy. Matched case-insensitively as whole words, in every locale.
JARGON: tuple[str, ...] = (
    "api",
    "backend",
    "charge utile",
    "circuit breaker",
    "délai d'attente",
    "délai d’attente",
    "endpoint",
    "error code",
    "exception",
    "http",
    "https",
    "idempotency",
    "idempotent",
    "jeton",
    "jetons",
    "json",
    "nan",
    "null",
    "parse",
    "payload",
    "regex",
    "request id",
    "serveur interne",
    "server error",
    "stack",
    "stacktrace",
    "status code",
    "syntax",
    "timeout",
    "token",
    "tokens",
    "traceback",
    "undefined",
    "upstream",
)

_JARGON = re.compile(
    r"(?<!\w)(" + "|".join(re.escape(w) for w in JARGON) + r"|[45]\d\d)(?!\w)",
    re.IGNORECASE,
)
_HTML = re.compile(r"<\s*/?\s*[A-Za-z!][^>]*>|&(?:#\d+|#x[0-9A-Fa-f]+|[A-Za-z]+);")
_NUMERIC = frozenset({"integer", "number"})


@dataclass(frozen=True, slots=True)
class LintResult:
    """What linting one file found; ``contract`` is set when it could be built."""

    findings: list[Finding]
    contract: Contract | None

    @property
    def ok(self) -> bool:
        """Whether the file passed every rule."""
        return not self.findings


@dataclass(frozen=True, slots=True)
class _Text:
    """One piece of copy, where it lives, its params and its length limit.

    ``field`` is ``None`` for the words of the SDK's interface, which have
    one text per locale.
    """

    where: str
    locale: str
    field: str | None
    source: str
    params: Mapping[str, object]
    numeric: frozenset[str]
    limit: int

    def finding(self, file: str, message: str) -> Finding:
        """Return a finding located at this piece of copy."""
        return Finding(file, self.where, message, self.locale, self.field)


def _examples(params: Mapping[str, Param]) -> dict[str, object]:
    return {name: param.example for name, param in params.items()}


def _numeric(params: Mapping[str, Param]) -> frozenset[str]:
    return frozenset(name for name, p in params.items() if p.type in _NUMERIC)


def _texts(contract: Contract) -> Iterator[_Text]:
    limits = contract.limits
    for name, spec in contract.codes.items():
        examples, numeric = _examples(spec.params), _numeric(spec.params)
        for locale, copy in spec.copy.items():
            for field, text in copy.texts():
                limit = limits.for_field(field)
                yield _Text(name, locale, field, text, examples, numeric, limit)
    for category, copies in contract.generic.items():
        for locale, copy in copies.items():
            for field, text in copy.texts():
                where, limit = f"generic.{category}", limits.for_field(field)
                yield _Text(where, locale, field, text, {}, frozenset(), limit)
    for key, ui in contract.ui.items():
        examples, numeric = _examples(ui.params), _numeric(ui.params)
        limit = limits.for_field(UI_KEYS[key])
        for locale, text in ui.copy.items():
            yield _Text(f"ui.{key}", locale, None, text, examples, numeric, limit)


def _parsed(source: str) -> tuple[Node, ...] | None:
    try:
        return parse(source)
    except IcuSyntaxError:
        return None


def _check_syntax(file: str, contract: Contract) -> Iterator[Finding]:
    for text in _texts(contract):
        try:
            parse(text.source)
        except IcuSyntaxError as exc:
            yield text.finding(file, str(exc))


def _missing_locales(
    file: str, where: str, present: Collection[str], required: tuple[str, ...]
) -> Iterator[Finding]:
    listed = ", ".join(required)
    for locale in required:
        if locale not in present:
            yield Finding(
                file, where, f"copy missing; required locales are {listed}", locale
            )


def _check_locales(file: str, contract: Contract) -> Iterator[Finding]:
    required = contract.required_locales
    if contract.source_locale not in required:
        yield Finding(
            file,
            "source_locale",
            f"{contract.source_locale!r} is not one of the required locales "
            f"({', '.join(required)})",
        )
    for name, spec in contract.codes.items():
        if not spec.deprecated:
            yield from _missing_locales(file, name, spec.copy, required)
    for category in CATEGORIES:
        copies = contract.generic.get(category)
        if copies is None:
            yield Finding(
                file, f"generic.{category}", "missing: every category needs fallback"
            )
        else:
            yield from _missing_locales(file, f"generic.{category}", copies, required)
    if not contract.ui:
        keys = ", ".join(UI_KEYS)
        yield Finding(
            file, "ui", f"missing: the SDK's failure dialog needs words for {keys}"
        )
    for key, ui in contract.ui.items():
        yield from _missing_locales(file, f"ui.{key}", ui.copy, required)


def _check_placeholders(file: str, contract: Contract) -> Iterator[Finding]:
    for name, spec in contract.codes.items():
        for locale, copy in spec.copy.items():
            yield from _placeholders_match(
                file, name, locale, spec.params, copy.texts(), whole="copy"
            )
    for key, ui in contract.ui.items():
        for locale, text in ui.copy.items():
            yield from _placeholders_match(
                file, f"ui.{key}", locale, ui.params, [(None, text)], whole=None
            )


def _placeholders_match(
    file: str,
    where: str,
    locale: str,
    params: Mapping[str, Param],
    texts: Iterable[tuple[str | None, str]],
    *,
    whole: str | None,
) -> Iterator[Finding]:
    """Compare the placeholders of one locale's texts with the declared params.

    ``whole`` names the place of a finding about all the texts together.
    """
    declared = set(params)
    shown = ", ".join(sorted(declared)) or "none"
    used: set[str] = set()
    broken = False
    for field, source in texts:
        nodes = _parsed(source)
        if nodes is None:
            broken = True
            continue
        found = placeholders(nodes)
        used |= found
        for extra in sorted(found - declared):
            yield Finding(
                file,
                where,
                f"placeholder {{{extra}}} is not a declared param (declared: {shown})",
                locale,
                field,
            )
    # A param hidden inside broken syntax would be reported as unused; the
    # syntax finding already covers that text.
    for unused in sorted(declared - used if not broken else ()):
        yield Finding(
            file,
            where,
            f"declared param {{{unused}}} is not used in this locale's copy",
            locale,
            whole,
        )


def _check_plurals(file: str, contract: Contract) -> Iterator[Finding]:
    for text in _texts(contract):
        nodes = _parsed(text.source)
        for plural in plurals(nodes or ()):
            if "other" not in plural.branches:
                yield text.finding(
                    file,
                    f"plural on {{{plural.name}}} has no 'other' branch",
                )
            if plural.name in text.params and plural.name not in text.numeric:
                yield text.finding(
                    file,
                    f"plural on {{{plural.name}}}, which is not a number param",
                )


def _check_lengths(file: str, contract: Contract) -> Iterator[Finding]:
    for text in _texts(contract):
        nodes = _parsed(text.source)
        if nodes is None:
            continue
        length = max_length(nodes, text.params, text.locale)
        if length > text.limit:
            yield text.finding(
                file,
                f"{length} characters rendered with the examples; the limit is "
                f"{text.limit}",
            )


def _check_plain_text(file: str, contract: Contract) -> Iterator[Finding]:
    for text in _texts(contract):
        html = _HTML.search(text.source)
        if html:
            yield text.finding(
                file, f"contains HTML {html.group()!r}; copy is shown as plain text"
            )
        if text.source != text.source.strip():
            yield text.finding(file, "starts or ends with white space")
        if "  " in text.source:
            yield text.finding(file, "contains a double space")
        if any(ord(c) < 0x20 for c in text.source):
            yield text.finding(
                file, "contains a line break or another control character"
            )
        jargon = _JARGON.search(text.source)
        if jargon:
            yield text.finding(
                file,
                f"engineering jargon {jargon.group()!r}; say what happened in "
                "everyday words",
            )


def _check_codes(file: str, contract: Contract) -> Iterator[Finding]:
    for name, spec in contract.codes.items():
        yield from _check_code(file, contract, name, spec)


def _check_code(
    file: str, contract: Contract, name: str, spec: CodeSpec
) -> Iterator[Finding]:
    if spec.retry.auto and spec.status not in RETRYABLE_STATUSES:
        allowed = ", ".join(str(s) for s in sorted(RETRYABLE_STATUSES))
        yield Finding(
            file,
            name,
            f"automatic retry on status {spec.status}, where repeating the same "
            f"request cannot help; allowed on {allowed}",
            field="retry.auto",
        )
    if spec.client != (spec.status == 0):
        yield Finding(
            file,
            name,
            "client-side codes, and only they, have status 0 "
            f"(client is {str(spec.client).lower()}, status is {spec.status})",
            field="status",
        )
    if spec.field and spec.status != 422:
        yield Finding(
            file,
            name,
            f"field codes describe part of a 422 response, not {spec.status}",
            field="status",
        )
    if spec.replaced_by is not None:
        if spec.replaced_by not in contract.codes:
            yield Finding(
                file,
                name,
                f"replaced_by names {spec.replaced_by!r}, which is not a code",
                field="replaced_by",
            )
        if not spec.deprecated:
            yield Finding(
                file,
                name,
                "replaced_by is set but the code is not deprecated",
                field="replaced_by",
            )
    yield from _check_examples(file, name, spec.params)


def _check_ui(file: str, contract: Contract) -> Iterator[Finding]:
    for key, ui in contract.ui.items():
        yield from _check_examples(file, f"ui.{key}", ui.params)


def _check_examples(
    file: str, where: str, params: Mapping[str, Param]
) -> Iterator[Finding]:
    for name, param in params.items():
        if not _example_fits(param.type, param.example):
            yield Finding(
                file,
                where,
                f"example {param.example!r} is not of type {param.type}",
                field=f"params.{name}",
            )


def _example_fits(kind: str, example: object) -> bool:
    if kind == "string":
        return isinstance(example, str)
    if isinstance(example, bool) or not isinstance(example, int | float):
        return False

    return kind == "number" or isinstance(example, int)


def _check_released(
    file: str, contract: Contract, released: tuple[Path, Contract] | None
) -> Iterator[Finding]:
    if released is None:
        return
    path, old = released
    for name, old_spec in old.codes.items():
        spec = contract.codes.get(name)
        if spec is None:
            yield Finding(
                file,
                name,
                f"removed or renamed since {path.name}; codes are never removed: "
                "mark it deprecated instead",
            )
            continue
        yield from _params_kept(
            file,
            name,
            old_spec.params,
            spec.params,
            release=path.name,
            user="clients send it",
        )
    # A contract without the section at all has one finding for that already.
    for key, old_ui in old.ui.items() if contract.ui else ():
        ui = contract.ui.get(key)
        if ui is None:
            yield Finding(
                file,
                f"ui.{key}",
                f"removed or renamed since {path.name}; the SDK's dialog shows it",
            )
            continue
        yield from _params_kept(
            file,
            f"ui.{key}",
            old_ui.params,
            ui.params,
            release=path.name,
            user="the SDK fills it in",
        )


def _params_kept(
    file: str,
    where: str,
    old: Mapping[str, Param],
    new: Mapping[str, Param],
    *,
    release: str,
    user: str,
) -> Iterator[Finding]:
    """Report params of a release that are gone or changed type since.

    ``user`` says, after a removal, who relies on the param.
    """
    for name, old_param in old.items():
        new_param = new.get(name)
        if new_param is None:
            yield Finding(
                file,
                where,
                f"removed or renamed since {release}; {user}",
                field=f"params.{name}",
            )
        elif new_param.type != old_param.type:
            yield Finding(
                file,
                where,
                f"type changed from {old_param.type} to {new_param.type} "
                f"since {release}",
                field=f"params.{name}",
            )


_RULES: tuple[Callable[[str, Contract], Iterable[Finding]], ...] = (
    _check_syntax,
    _check_locales,
    _check_placeholders,
    _check_plurals,
    _check_lengths,
    _check_plain_text,
    _check_codes,
    _check_ui,
)


def lint(
    file: str, contract: Contract, released: tuple[Path, Contract] | None = None
) -> list[Finding]:
    """Run every rule on a contract that already matches the schema.

    Args:
        file: how findings name the file.
        contract: the contract to check.
        released: the last released contract and its path, to check that
            nothing was removed or renamed since.

    Returns:
        The findings, in a stable order; empty when the contract is clean.
    """
    findings = [f for rule in _RULES for f in rule(file, contract)]
    findings.extend(_check_released(file, contract, released))

    return findings


def lint_file(path: Path, released_dir: Path | None = None) -> LintResult:
    """Lint a contract file: its JSON, its shape, then every rule.

    Args:
        path: the contract file.
        released_dir: the folder of released contracts; by default the
            ``released`` folder beside the file.

    Raises:
        ContractError: the file is not JSON or not a contract at all, or the
            newest released contract is not usable.
    """
    file = str(path)
    document = read_document(path)
    findings = schema_findings(file, document)
    if findings:
        return LintResult(findings, None)
    contract = build_contract(document)
    folder = path.parent / "released" if released_dir is None else released_dir
    try:
        released = latest_released(folder)
    except ContractError as exc:
        raise ContractError(f"released contract unusable: {exc}") from None

    return LintResult(lint(file, contract, released), contract)
