"""Reading a contract file into a ``Contract``, with precise complaints."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from jsonschema import Draft202012Validator, ValidationError

from .._exceptions import HiccupError
from .._schemas import load_schema
from .._spec import CodeSpec, Contract, Copy, Limits, Param, Retry, UiText

__all__ = [
    "ContractError",
    "Finding",
    "build_contract",
    "latest_released",
    "load_contract",
    "read_document",
    "schema_findings",
]

_RELEASE_NAME = re.compile(r"^(\d+)\.(\d+)\.(\d+)\.json$")
_JSON_TYPES = {
    list: "array",
    str: "string",
    int: "number",
    float: "number",
    bool: "boolean",
    type(None): "null",
}


class ContractError(HiccupError):
    """Raised when a file cannot be used as a contract at all.

    That is: it cannot be read, it is not JSON, or it is not shaped like a
    contract. The message is one line that names the file.
    """


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem in a contract, located as precisely as possible.

    ``where`` is a code name, ``generic.<category>``, ``ui.<key>``, or a
    top-level key; ``locale`` and ``field`` narrow it down when they apply.
    """

    file: str
    where: str
    message: str
    locale: str | None = None
    field: str | None = None

    def __str__(self) -> str:
        place = " ".join(p for p in (self.where, self.locale, self.field) if p)

        return f"{self.file}: {place}: {self.message}"


def read_document(path: Path) -> dict[str, Any]:
    """Read a file that should hold a contract and return its JSON object.

    Raises:
        ContractError: the file is unreadable, not JSON, or not a JSON object
            with a ``codes`` member.
    """
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ContractError(f"{path}: no such file") from None
    except UnicodeDecodeError as exc:
        raise ContractError(
            f"{path}: not UTF-8 text (byte {exc.start + 1} cannot be decoded)"
        ) from None
    except OSError as exc:
        raise ContractError(f"{path}: cannot be read: {exc.strerror}") from None
    try:
        document = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ContractError(
            f"{path}: not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    if not isinstance(document, dict):
        found = f"a JSON {_JSON_TYPES.get(type(document), 'value')}"
    elif "codes" not in document:
        found = "an object without one"
    else:
        return document
    raise ContractError(
        f"{path}: not a hiccup contract: expected a JSON object with a 'codes' "
        f"member, found {found}"
    )


def _locate(file: str, error: ValidationError) -> Finding:
    path = [str(p) for p in error.absolute_path]
    where, locale, field = ".".join(path) or "contract", None, None
    if len(path) >= 2 and path[0] in ("codes", "generic", "ui"):
        where = path[1] if path[0] == "codes" else f"{path[0]}.{path[1]}"
        rest = path[2:]
        if rest[:1] == ["copy"] and len(rest) >= 2:
            locale, rest = rest[1], rest[2:]
        field = ".".join(rest) or None
        if field and field.startswith("suggestions."):
            field = f"suggestions[{field.split('.', 1)[1]}]"

    return Finding(file, where, _describe(error), locale, field)


def _describe(error: ValidationError) -> str:
    if error.validator == "required":
        required = cast(list[str], error.validator_value)
        present = cast(Mapping[str, Any], error.instance)
        missing = [k for k in required if k not in present]
        return f"missing required field {missing[0]!r}" if missing else error.message
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        schema = cast(Mapping[str, Any], error.schema)
        allowed = set(schema.get("properties", {}))
        extra = sorted(k for k in error.instance if k not in allowed)
        return f"unknown field {extra[0]!r}" if extra else error.message
    if error.validator == "pattern" and "propertyNames" in error.schema_path:
        return f"name {error.instance!r} does not match {error.validator_value}"

    return error.message


def schema_findings(file: str, document: Mapping[str, Any]) -> list[Finding]:
    """Return one finding per place where the document breaks the schema."""
    validator = Draft202012Validator(load_schema("errors"))
    findings = {
        str(f): f for f in (_locate(file, e) for e in validator.iter_errors(document))
    }

    return [findings[k] for k in sorted(findings)]


def _copy(raw: Mapping[str, Any]) -> Copy:
    return Copy(
        message=raw["message"],
        title=raw.get("title"),
        action=raw.get("action"),
        suggestions=tuple(raw.get("suggestions", ())),
    )


def _params(raw: Mapping[str, Any]) -> dict[str, Param]:
    return {
        p: Param(v["type"], v["example"], v["pii"], v.get("description", ""))
        for p, v in raw.get("params", {}).items()
    }


def _ui_text(raw: Mapping[str, Any]) -> UiText:
    return UiText(raw["description"], dict(raw["copy"]), _params(raw))


def _code(name: str, raw: Mapping[str, Any]) -> CodeSpec:
    retry = raw["retry"]

    return CodeSpec(
        name=name,
        status=raw["status"],
        category=raw["category"],
        severity=raw["severity"],
        retry=Retry(retry["auto"], retry["user"], retry.get("after_ms")),
        description=raw["description"],
        owner=raw["owner"],
        since=raw["since"],
        copy={locale: _copy(c) for locale, c in raw["copy"].items()},
        params=_params(raw),
        client=raw.get("client", False),
        field=raw.get("field", False),
        deprecated=raw.get("deprecated", False),
        replaced_by=raw.get("replaced_by"),
    )


def build_contract(document: Mapping[str, Any]) -> Contract:
    """Turn a schema-valid document into a ``Contract``."""
    return Contract(
        version=document["version"],
        source_locale=document["source_locale"],
        required_locales=tuple(document["required_locales"]),
        type_base=document["type_base"],
        limits=Limits(**document["limits"]),
        codes={name: _code(name, raw) for name, raw in document["codes"].items()},
        generic={
            category: {locale: _copy(c) for locale, c in entry["copy"].items()}
            for category, entry in document["generic"].items()
        },
        ui={key: _ui_text(raw) for key, raw in document.get("ui", {}).items()},
    )


def load_contract(path: Path) -> Contract:
    """Read, validate against the schema and build a contract.

    This checks the shape only; ``lint`` checks the rest.

    Raises:
        ContractError: the file is not a usable contract; the message names
            the first problem.
    """
    document = read_document(path)
    findings = schema_findings(str(path), document)
    if findings:
        more = f" (and {len(findings) - 1} more)" if len(findings) > 1 else ""
        raise ContractError(f"{findings[0]}{more}")

    return build_contract(document)


def latest_released(folder: Path) -> tuple[Path, Contract] | None:
    """Return the newest ``X.Y.Z.json`` in a folder of released contracts.

    Raises:
        ContractError: the newest released file is not a usable contract.
    """
    releases = []
    for entry in folder.glob("*.json") if folder.is_dir() else ():
        found = _RELEASE_NAME.match(entry.name)
        if found:
            releases.append((tuple(int(g) for g in found.groups()), entry))
    if not releases:
        return None
    newest = max(releases)[1]

    return newest, load_contract(newest)
