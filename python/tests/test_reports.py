"""The endpoint that takes the browser SDK's records."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest
from fastapi import FastAPI
from support import LogCapture, Sent, assert_valid, call

import hiccup
from hiccup._reports import ClientReports, RateLimit, event_kind

PATH = "/_hiccup/reports"


def record(**fields: Any) -> dict[str, Any]:
    """Return a record as the SDK's beacon reporter sends it."""
    return {
        "timestamp": "2026-03-14T09:27:29.120Z",
        "level": "warning",
        "logger": "hiccup.sdk",
        "event": "http.client.failure",
        "service": "writer-web",
        "version": "1.4.2",
        "env": "production",
        "request_id": "req-7",
        "trace_id": "0af7651916cd43dd8448eb211c80319c",
        "http.request.method": "POST",
        "http.response.status_code": 503,
        "error.code": "MODEL_OVERLOADED",
        **fields,
    }


def make_app(logs: LogCapture, reports: ClientReports | None = None) -> FastAPI:
    settings = hiccup.Settings(service_name="api", client_reports_path=PATH)
    app = hiccup.install(FastAPI(), settings)
    hiccup.configure_logging(settings, stream=logs.stream)
    if reports is not None:
        # Swap in a configured endpoint: the route added by install is first.
        app.router.routes = [r for r in app.router.routes if r.path != PATH]  # type: ignore[attr-defined]
        app.add_route(PATH, reports.__call__, methods=["POST"])

    return app


def post(app: FastAPI, body: bytes, *headers: tuple[bytes, bytes]) -> Sent:
    return asyncio.run(call(app, "POST", PATH, body=body, headers=headers))


def client_lines(logs: LogCapture) -> list[dict[str, Any]]:
    return [line for line in logs.lines if line.get("log.source") == "client"]


def test_valid_records_are_logged_with_the_frontend_as_their_service(
    logs: LogCapture,
) -> None:
    app = make_app(logs)

    sent = post(app, orjson.dumps([record(), record(event="http.client.retry")]))

    assert sent.status == 200
    assert orjson.loads(sent.body) == {"accepted": 2, "rejected": []}
    lines = client_lines(logs)
    assert [line["event"] for line in lines] == [
        "http.client.failure",
        "http.client.retry",
    ]
    first = lines[0]
    assert (first["service"], first["version"], first["env"]) == (
        "writer-web",
        "1.4.2",
        "production",
    )
    assert (first["timestamp"], first["level"], first["logger"]) == (
        "2026-03-14T09:27:29.120Z",
        "warning",
        "hiccup.sdk",
    )
    assert (first["request_id"], first["error.code"]) == ("req-7", "MODEL_OVERLOADED")
    assert_valid("log-record", first)


def test_a_record_keeps_no_id_of_the_batch_that_carried_it(logs: LogCapture) -> None:
    app = make_app(logs)
    bare = record()
    del bare["request_id"], bare["trace_id"]

    post(
        app,
        orjson.dumps([bare]),
        (b"traceparent", b"00-" + b"a" * 32 + b"-" + b"b" * 16 + b"-01"),
    )

    (line,) = client_lines(logs)
    assert "request_id" not in line
    assert "trace_id" not in line


def test_secrets_in_a_record_are_redacted(logs: LogCapture) -> None:
    app = make_app(logs)

    post(
        app,
        orjson.dumps(
            [record(authorization="Bearer abc.def", note="mail ada@example.com")]
        ),
    )

    (line,) = client_lines(logs)
    assert line["authorization"] != "Bearer abc.def"
    assert "ada@example.com" not in line["note"]


def test_invalid_records_are_rejected_with_their_reason_and_the_rest_kept(
    logs: LogCapture,
) -> None:
    app = make_app(logs)
    bad_event = record(event="Client Failure!")
    no_service = record()
    del no_service["service"]

    sent = post(app, orjson.dumps([record(), bad_event, no_service, "text"]))

    assert sent.status == 200
    body = orjson.loads(sent.body)
    assert body["accepted"] == 1
    assert [(r["index"], r["reason"].split(":")[0]) for r in body["rejected"]] == [
        (1, "/event"),
        (2, "/"),
        (3, "a record must be a JSON object, not str"),
    ]
    assert "'service' is a required property" in body["rejected"][1]["reason"]
    assert len(client_lines(logs)) == 1


def test_a_batch_without_a_valid_record_is_a_422_pointing_at_each(
    logs: LogCapture,
) -> None:
    app = make_app(logs)

    sent = post(
        app, orjson.dumps([record(level="loud"), record(timestamp="yesterday")])
    )

    assert sent.status == 422
    problem = orjson.loads(sent.body)
    assert problem["code"] == "VALIDATION_FAILED"
    assert [e["source"]["pointer"] for e in problem["errors"]] == [
        "/0/level",
        "/1/timestamp",
    ]
    assert client_lines(logs) == []


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"{not json", 400, "MALFORMED_REQUEST"),
        (b'{"event": "x"}', 400, "BAD_REQUEST"),
        (orjson.dumps([record()] * 201), 413, "PAYLOAD_TOO_LARGE"),
        (b"[" + b" " * (64 * 1024) + b"]", 413, "PAYLOAD_TOO_LARGE"),
    ],
    ids=["not-json", "not-an-array", "too-many-records", "too-many-bytes"],
)
def test_a_malformed_batch_gets_an_envelope_saying_why(
    logs: LogCapture, body: bytes, status: int, code: str
) -> None:
    app = make_app(logs)

    sent = post(app, body)

    assert (sent.status, orjson.loads(sent.body)["code"]) == (status, code)
    assert client_lines(logs) == []


def test_a_flooding_client_is_told_to_wait(logs: LogCapture) -> None:
    now = [0.0]
    reports = ClientReports(
        rate=RateLimit(burst=3, per_second=0.5, clock=lambda: now[0])
    )
    app = make_app(logs, reports)
    batch = orjson.dumps([record()])

    statuses = [post(app, batch).status for _ in range(5)]
    refused = post(app, batch)
    now[0] += 2.0
    again = post(app, batch)

    assert statuses == [200, 200, 200, 429, 429]
    assert refused.header("retry-after") == "2"
    assert orjson.loads(refused.body)["code"] == "RATE_LIMITED"
    assert again.status == 200
    assert len(client_lines(logs)) == 4


def test_accepted_records_are_counted_by_kind_and_code(logs: LogCapture) -> None:
    counted: list[tuple[str, str]] = []
    reports = ClientReports(count=lambda kind, code: counted.append((kind, code)))
    app = make_app(logs, reports)

    post(
        app,
        orjson.dumps(
            [
                record(),
                record(event="ui.failure_modal.recovered", **{"error.code": "ACME"}),
                record(event="app.custom"),
            ]
        ),
    )

    assert counted == [
        ("error", "MODEL_OVERLOADED"),
        ("recovered", ""),
        ("other", "MODEL_OVERLOADED"),
    ]


def test_event_kinds_cover_every_sdk_event() -> None:
    assert [
        event_kind(name)
        for name in (
            "http.client.failure",
            "http.client.retry",
            "ui.failure_modal.shown",
            "ui.failure_modal.recovered",
        )
    ] == ["error", "retry", "modal_shown", "recovered"]


def test_the_endpoint_is_off_unless_its_path_is_set(logs: LogCapture) -> None:
    app = hiccup.install(FastAPI(), hiccup.Settings(service_name="api"))

    sent = asyncio.run(call(app, "POST", PATH, body=orjson.dumps([record()])))

    assert sent.status == 404
