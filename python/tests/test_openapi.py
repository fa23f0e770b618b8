from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from fastapi import FastAPI
from jsonschema import Draft202012Validator, FormatChecker
from openapi_spec_validator import OpenAPIV31SpecValidator
from referencing import Registry
from referencing.jsonschema import DRAFT202012
from starlette.testclient import TestClient
from support import load_module

from hiccup import CONTRACT

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_APP = Path(__file__).with_name("openapi_app.py")
ENVELOPE_SCHEMA = ROOT / "contracts" / "schema" / "envelope.schema.json"

PROBLEM_JSON = "application/problem+json"
PROBLEM_REF = "#/components/schemas/Problem"
#: The URI the tests give the OpenAPI document to resolve references in it.
DOCUMENT_URI = "urn:hiccup-tests:openapi"
DRAFT = "/drafts/{draft_id}"
#: What ``GET /drafts/{draft_id}`` declares: status, then one example per code.
DECLARED = {
    "429": {"RATE_LIMITED"},
    "503": {"MODEL_OVERLOADED", "MODEL_UNAVAILABLE"},
    "504": {"MODEL_TIMEOUT"},
}
DECLARED_EXAMPLES = sorted(
    (status, code) for status, codes in DECLARED.items() for code in codes
)


@pytest.fixture(scope="module")
def sample() -> ModuleType:
    return load_module("hiccup_openapi_app", SAMPLE_APP)


@pytest.fixture
def app(sample: ModuleType) -> FastAPI:
    created: FastAPI = sample.create_app()
    return created


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def document(app: FastAPI) -> dict[str, Any]:
    return app.openapi()


def envelope_validator() -> Draft202012Validator:
    schema = json.loads(ENVELOPE_SCHEMA.read_text(encoding="utf-8"))
    return Draft202012Validator(schema, format_checker=FormatChecker())


def component_validator(document: dict[str, Any], name: str) -> Draft202012Validator:
    """Return a validator for one component schema, its refs resolved in place."""
    registry: Registry[Any] = Registry().with_resource(
        DOCUMENT_URI, DRAFT202012.create_resource(document)
    )
    schema = {"$ref": f"{DOCUMENT_URI}#/components/schemas/{name}"}

    return Draft202012Validator(
        schema, registry=registry, format_checker=FormatChecker()
    )


def messages(validator: Draft202012Validator, instance: object) -> list[str]:
    errors = sorted(validator.iter_errors(instance), key=str)
    return [f"{list(error.absolute_path)}: {error.message}" for error in errors]


def refs_in(node: object) -> Iterator[str]:
    """Yield the value of every ``$ref`` anywhere below ``node``."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from refs_in(value)
    elif isinstance(node, list):
        for item in node:
            yield from refs_in(item)


def resolve(document: dict[str, Any], ref: str) -> object:
    """Follow a local JSON Pointer reference; raise ``KeyError`` if it dangles."""
    assert ref.startswith("#/"), ref
    node: object = document
    for part in ref[2:].split("/"):
        key = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or key not in node:
            raise KeyError(ref)
        node = node[key]

    return node


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield method, path, operation


def problem_examples(document: dict[str, Any], status: str) -> dict[str, Any]:
    response = document["paths"][DRAFT]["get"]["responses"][status]
    examples: dict[str, Any] = response["content"][PROBLEM_JSON]["examples"]

    return examples


def test_openapi_json_answers_the_same_body_twice(client: TestClient) -> None:
    first = client.get("/openapi.json")
    second = client.get("/openapi.json")

    assert first.status_code == 200
    assert second.status_code == 200
    assert first.content == second.content


def test_document_is_built_once_and_cached(app: FastAPI) -> None:
    assert app.openapi() is app.openapi()


def test_envelope_and_its_definitions_are_component_schemas(
    document: dict[str, Any],
) -> None:
    schemas = document["components"]["schemas"]
    problem_names = {name for name in schemas if name.startswith("Problem")}
    definitions = json.loads(ENVELOPE_SCHEMA.read_text(encoding="utf-8"))["$defs"]

    assert {"Problem", "ProblemCode", "ProblemFieldError"} <= problem_names
    assert len(problem_names) == 1 + len(definitions)


def test_fastapi_validation_error_schemas_are_gone(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]

    assert "HTTPValidationError" not in schemas
    assert "ValidationError" not in schemas


def test_problem_components_carry_no_schema_identity_or_local_defs(
    document: dict[str, Any],
) -> None:
    # An $id inside a component would move the base URI of its refs out of
    # the document; $defs left behind would be refs no generator follows.
    schemas = document["components"]["schemas"]
    problem = {n: s for n, s in schemas.items() if n.startswith("Problem")}
    keys = {key for schema in problem.values() for key in schema}

    assert keys.isdisjoint({"$id", "$schema", "$defs", "examples"})


def test_every_ref_resolves_to_a_component(document: dict[str, Any]) -> None:
    refs = set(refs_in(document))
    dangling = []
    for ref in sorted(refs):
        try:
            resolve(document, ref)
        except KeyError:
            dangling.append(ref)

    assert PROBLEM_REF in refs
    assert "#/components/schemas/ProblemFieldError" in refs
    assert all(ref.startswith("#/components/schemas/") for ref in refs)
    assert dangling == []


def test_every_422_is_one_problem_json_response(document: dict[str, Any]) -> None:
    declared = {}
    for method, path, operation in operations(document):
        if "422" in operation["responses"]:
            declared[method, path] = operation["responses"]["422"]["content"]
    expected = {PROBLEM_JSON: {"schema": {"$ref": PROBLEM_REF}}}

    assert declared == {("post", "/drafts"): expected, ("get", DRAFT): expected}


def test_route_without_parameters_declares_no_422(document: dict[str, Any]) -> None:
    responses = document["paths"]["/ping"]["get"]["responses"]

    assert set(responses) == {"200", "default"}


def test_every_operation_declares_any_other_failure_as_a_problem(
    document: dict[str, Any],
) -> None:
    defaults = {
        (method, path): operation["responses"]["default"]["content"]
        for method, path, operation in operations(document)
    }

    assert len(defaults) >= 3
    assert set(map(str, defaults.values())) == {
        str({PROBLEM_JSON: {"schema": {"$ref": PROBLEM_REF}}})
    }


def test_every_response_carries_the_request_id_header(
    document: dict[str, Any],
) -> None:
    headers = [
        response["headers"]
        for _, _, operation in operations(document)
        for response in operation["responses"].values()
    ]

    assert len(headers) >= 8
    assert all(
        (h["X-Request-ID"]["schema"], h["X-Request-ID"]["required"])
        == ({"type": "string"}, True)
        for h in headers
    )


def test_retry_after_is_declared_where_a_code_says_when_to_retry(
    document: dict[str, Any],
) -> None:
    responses = document["paths"][DRAFT]["get"]["responses"]
    with_retry_after = {
        status
        for status, response in responses.items()
        if "Retry-After" in response["headers"]
    }
    expected = {
        status
        for status, codes in DECLARED.items()
        if any(CONTRACT.codes[code].retry.after_ms is not None for code in codes)
    }

    assert expected
    assert with_retry_after == expected
    assert responses["429"]["headers"]["Retry-After"]["required"] is True


def test_declared_codes_are_grouped_by_status(document: dict[str, Any]) -> None:
    responses = document["paths"][DRAFT]["get"]["responses"]
    grouped = {
        status: set(problem_examples(document, status))
        for status in responses
        if status in DECLARED
    }

    assert set(responses) == {"200", "422", "default", *DECLARED}
    assert grouped == DECLARED


def test_codes_sharing_a_status_share_one_response(document: dict[str, Any]) -> None:
    response = document["paths"][DRAFT]["get"]["responses"]["503"]
    examples = response["content"][PROBLEM_JSON]["examples"]

    assert response["content"][PROBLEM_JSON]["schema"] == {"$ref": PROBLEM_REF}
    assert sorted(examples) == ["MODEL_OVERLOADED", "MODEL_UNAVAILABLE"]
    assert {e["value"]["status"] for e in examples.values()} == {503}


@pytest.mark.parametrize(
    ("status", "code"), DECLARED_EXAMPLES, ids=[c for _, c in DECLARED_EXAMPLES]
)
def test_response_example_is_a_valid_envelope(
    document: dict[str, Any], status: str, code: str
) -> None:
    example = problem_examples(document, status)[code]["value"]

    assert messages(envelope_validator(), example) == []


@pytest.mark.parametrize(
    ("status", "code"), DECLARED_EXAMPLES, ids=[c for _, c in DECLARED_EXAMPLES]
)
def test_response_example_names_its_code_and_status(
    document: dict[str, Any], status: str, code: str
) -> None:
    example = problem_examples(document, status)[code]["value"]

    assert example["code"] == code
    assert example["status"] == int(status)
    assert example["type"] == "/problems/" + code.lower().replace("_", "-")


def test_problem_components_are_valid_2020_12_schemas(
    document: dict[str, Any],
) -> None:
    meta = Draft202012Validator(Draft202012Validator.META_SCHEMA)
    schemas = document["components"]["schemas"]
    invalid = {
        name: messages(meta, schema)
        for name, schema in schemas.items()
        if name.startswith("Problem") and messages(meta, schema)
    }

    assert invalid == {}


def test_validation_failure_matches_the_problem_component(
    client: TestClient, document: dict[str, Any]
) -> None:
    response = client.post("/drafts", json={"prompt": "", "tone": "loud"})
    body = response.json()

    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM_JSON
    assert [error["source"] for error in body["errors"]] == [
        {"pointer": "/prompt"},
        {"pointer": "/tone"},
    ]
    assert messages(component_validator(document, "Problem"), body) == []


def test_raised_problem_matches_the_problem_component(
    client: TestClient, document: dict[str, Any]
) -> None:
    response = client.get("/drafts/slow")

    assert response.status_code == 504
    assert response.json()["code"] == "MODEL_TIMEOUT"
    assert messages(component_validator(document, "Problem"), response.json()) == []


@pytest.mark.parametrize(
    ("change", "keyword"),
    [
        ({"stack": "Traceback ..."}, "not"),
        ({"code": "model-timeout"}, "pattern"),
        ({"errors": [{"source": {}, "code": "FIELD_REQUIRED"}]}, "minProperties"),
    ],
    ids=["leaky-member", "code-pattern", "empty-source"],
)
def test_problem_component_follows_its_refs_to_reject_bad_bodies(
    document: dict[str, Any], change: dict[str, Any], keyword: str
) -> None:
    valid = problem_examples(document, "504")["MODEL_TIMEOUT"]["value"]
    validator = component_validator(document, "Problem")
    failed = {str(error.validator) for error in validator.iter_errors(valid | change)}

    assert validator.is_valid(valid)
    assert failed == {keyword}


def test_document_is_a_valid_openapi_3_1_document(document: dict[str, Any]) -> None:
    validator = OpenAPIV31SpecValidator(document)
    errors = [error.message for error in validator.iter_errors()]

    assert document["openapi"].startswith("3.1.")
    assert errors == []
