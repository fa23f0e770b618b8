"""The envelope in a FastAPI app's OpenAPI document."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._codes import CONTRACT, Code
from ._envelope import problem_title
from ._schemas import load_schema

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = ["PROBLEM_SCHEMA", "document_problems", "problem_responses"]

#: Name of the envelope among the document's component schemas.
PROBLEM_SCHEMA = "Problem"

_MEDIA_TYPE = "application/problem+json"
_REF = f"#/components/schemas/{PROBLEM_SCHEMA}"
#: Schemas FastAPI adds for its own 422 body, replaced by the envelope.
_FASTAPI_422 = ("HTTPValidationError", "ValidationError")
#: The header of a failure whose code says when to try again.
_RETRY_AFTER = {
    "description": "Seconds to wait before trying again: retry.after_ms, rounded up",
    "schema": {"type": "integer", "minimum": 0},
}
#: Keywords that may stand beside a $ref without changing what it means.
_BESIDE_REF = frozenset({"$ref", "description", "$comment"})


def _component_name(definition: str) -> str:
    return PROBLEM_SCHEMA + "".join(part.capitalize() for part in definition.split("_"))


def _rewrite_refs(node: Any) -> Any:
    if isinstance(node, dict):
        out = {k: _rewrite_refs(v) for k, v in node.items()}
        ref = out.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            out["$ref"] = "#/components/schemas/" + _component_name(ref[8:])
        if "$ref" in out and set(out) - _BESIDE_REF:
            # Code generators read a $ref alone and drop what stands beside
            # it; under allOf both parts count.
            out["allOf"] = [{"$ref": out.pop("$ref")}, *out.get("allOf", [])]
        return out
    if isinstance(node, list):
        return [_rewrite_refs(v) for v in node]

    return node


def problem_components() -> dict[str, Any]:
    """Return the envelope schema as OpenAPI component schemas.

    The JSON Schema's ``$defs`` become components of their own (``ProblemCode``,
    ``ProblemFieldError``, ...), so every ``$ref`` resolves within the OpenAPI
    document, as code generators expect.
    """
    schema = copy.deepcopy(load_schema("envelope"))
    definitions = schema.pop("$defs", {})
    for key in ("$schema", "$id", "examples"):
        schema.pop(key, None)
    components = {PROBLEM_SCHEMA: _rewrite_refs(schema)}
    for name, definition in definitions.items():
        components[_component_name(name)] = _rewrite_refs(definition)

    return components


def _example(code: str) -> dict[str, Any]:
    spec = CONTRACT.codes[code]
    example: dict[str, Any] = {
        "type": CONTRACT.type_uri(code),
        "title": problem_title(code),
        "status": spec.status,
        "code": code,
        "request_id": "0195f3c2-7a4e-7b61-9d0c-3e8f2a6b1c47",
        "retry": {"auto": spec.retry.auto, "user": spec.retry.user},
    }
    if spec.retry.after_ms is not None:
        example["retry"]["after_ms"] = spec.retry.after_ms
    if spec.params:
        example["params"] = {name: p.example for name, p in spec.params.items()}

    return example


def problem_responses(*codes: Code | str) -> dict[int | str, dict[str, Any]]:
    """Return a route's ``responses`` entries for the codes it can answer with.

        @app.post("/drafts", responses=problem_responses(Code.MODEL_TIMEOUT))

    Codes that share a status share an entry, with one example per code.
    """
    by_status: dict[int, list[str]] = {}
    for code in codes:
        spec = CONTRACT.codes[str(code)]
        by_status.setdefault(spec.status, []).append(str(code))
    responses: dict[int | str, dict[str, Any]] = {}
    for status, names in sorted(by_status.items()):
        response: dict[str, Any] = {
            "description": ", ".join(names),
            "content": {
                _MEDIA_TYPE: {
                    "schema": {"$ref": _REF},
                    "examples": {name: {"value": _example(name)} for name in names},
                }
            },
        }
        waits = [CONTRACT.codes[name].retry.after_ms is not None for name in names]
        if any(waits):
            response["headers"] = {
                "Retry-After": {**_RETRY_AFTER, "required": all(waits)}
            }
        responses[status] = response

    return responses


def _problem_content() -> dict[str, Any]:
    return {_MEDIA_TYPE: {"schema": {"$ref": _REF}}}


def _rewrite_document(document: dict[str, Any], request_id_header: str) -> None:
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.update(problem_components())
    request_id = {
        "description": "The ID of the request, also in the log lines it wrote",
        "required": True,
        "schema": {"type": "string"},
    }
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            validation = responses.get("422")
            if validation is not None:
                validation["description"] = "Validation failed: see `errors`"
                validation["content"] = _problem_content()
            responses.setdefault(
                "default",
                {"description": "Any other failure", "content": _problem_content()},
            )
            for response in responses.values():
                response.setdefault("headers", {})[request_id_header] = request_id
    for name in _FASTAPI_422:
        schemas.pop(name, None)


def document_problems(app: FastAPI, request_id_header: str = "X-Request-ID") -> None:
    """Make an app's OpenAPI document describe its error responses.

    The envelope joins the component schemas; every 422 FastAPI declares
    becomes an ``application/problem+json`` response of that schema, and so
    does each operation's ``default`` response, which stands for any failure
    it does not declare. Every response carries the request ID header. The
    document is still built once and cached by FastAPI.
    """
    build: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = build()
            _rewrite_document(document, request_id_header)
            app.openapi_schema = document
        return app.openapi_schema

    # FastAPI documents overriding ``app.openapi`` to customise the document.
    app.openapi = openapi  # type: ignore[method-assign]
