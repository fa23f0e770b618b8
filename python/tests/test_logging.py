from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from support import LogCapture, assert_valid

import hiccup
from hiccup import Redactor, context
from hiccup._logging import _Clock, mark_logged, write_access


def test_app_lines_carry_the_shared_fields(logs: LogCapture) -> None:
    with context.request_scope("req-1", tenant="acme"):
        hiccup.get_logger("writer").info("draft.saved", words=120)

    [line] = logs.lines
    assert list(line)[:4] == ["timestamp", "level", "logger", "event"]
    assert {
        k: line[k] for k in ("level", "logger", "event", "service", "request_id")
    } == {
        "level": "info",
        "logger": "writer",
        "event": "draft.saved",
        "service": "tests",
        "request_id": "req-1",
    }
    assert (line["tenant"], line["words"]) == ("acme", 120)
    assert line["timestamp"].endswith("Z")
    assert_valid("log-record", line)


def test_stdlib_records_get_the_same_fields(logs: LogCapture) -> None:
    with context.request_scope("req-2"):
        logging.getLogger("some.library").warning("disk at %d%%", 91)

    [line] = logs.lines
    assert (line["logger"], line["level"], line["event"]) == (
        "some.library",
        "warning",
        "log",
    )
    assert line["message"] == "disk at 91%"
    assert line["request_id"] == "req-2"
    assert_valid("log-record", line)


def test_stdlib_exception_is_structured(logs: LogCapture) -> None:
    try:
        raise ValueError("bad value for token=abc")
    except ValueError:
        logging.getLogger("jobs").exception("job failed")

    [line] = logs.lines
    assert line["level"] == "error"
    assert line["exception"]["type"] == "ValueError"
    assert (
        line["exception"]["frames"][-1]["function"]
        == "test_stdlib_exception_is_structured"
    )
    assert line["error.type"] == "ValueError"
    assert_valid("log-record", line)


def test_structlog_exc_info_is_structured(logs: LogCapture) -> None:
    try:
        raise KeyError("k")
    except KeyError:
        hiccup.get_logger("jobs").exception("job.failed")

    [line] = logs.lines
    assert (line["level"], line["exception"]["type"]) == ("error", "KeyError")


def test_uvicorn_access_log_is_silenced_and_its_errors_routed(logs: LogCapture) -> None:
    logging.getLogger("uvicorn.access").info('127.0.0.1 - "GET / HTTP/1.1" 200')
    logging.getLogger("uvicorn.error").info("Started server process")

    [line] = logs.lines
    assert (line["logger"], line["message"]) == (
        "uvicorn.error",
        "Started server process",
    )


def test_server_report_of_a_logged_exception_is_dropped(logs: LogCapture) -> None:
    exc = RuntimeError("once")
    mark_logged(exc)
    fresh = RuntimeError("fresh")

    for error in (exc, fresh):
        logging.getLogger("uvicorn.error").error(
            "Exception in ASGI application", exc_info=(type(error), error, None)
        )

    [line] = logs.lines
    assert line["exception"]["message"] == "fresh"


def test_timestamps_follow_the_clock_across_seconds_and_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # 2026-03-14T09:27:31Z, in nanoseconds since the epoch.
    second = 1_773_480_451 * 10**9
    readings = iter(
        [
            second + 4_518_999,  # microseconds are truncated, not rounded
            second + 999_999_999,
            second + 10**9,  # the next second
            second + 10**9 + 7_000,
            second - 1,  # the clock was stepped back
        ]
    )
    monkeypatch.setattr("time.time_ns", lambda: next(readings))
    clock = _Clock()

    assert [clock.now() for _ in range(5)] == [
        "2026-03-14T09:27:31.004518Z",
        "2026-03-14T09:27:31.999999Z",
        "2026-03-14T09:27:32.000000Z",
        "2026-03-14T09:27:32.000007Z",
        "2026-03-14T09:27:30.999999Z",
    ]


def test_level_setting_filters_lines(
    make_logs: Callable[[hiccup.Settings], LogCapture],
) -> None:
    logs = make_logs(hiccup.Settings(log_level="warning"))

    hiccup.get_logger("x").info("quiet")
    logging.getLogger("y").info("quiet too")
    write_access(context.RequestContext("r"), "GET", 200, 0.0015)
    hiccup.get_logger("x").warning("loud")

    assert [line["event"] for line in logs.lines] == ["loud"]


def test_console_format_is_for_people(
    make_logs: Callable[[hiccup.Settings], LogCapture],
) -> None:
    logs = make_logs(hiccup.Settings(environment="development"))

    hiccup.get_logger("x").info("draft.saved", words=3)
    write_access(context.RequestContext("r"), "GET", 200, 0.0015, "/drafts", None)

    text = logs.stream.getvalue().decode()
    assert "draft.saved" in text
    assert "words=3" in text
    assert "http.request" in text
    assert "/drafts" in text
    assert not text.lstrip().startswith("{")


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HICCUP_SERVICE_NAME", "writer-api")
    monkeypatch.setenv("HICCUP_LOG_FORMAT", "console")
    monkeypatch.setenv("HICCUP_REDACT_FIELDS", '["National-ID"]')

    settings = hiccup.Settings()

    assert settings.service_name == "writer-api"
    assert settings.console_logs
    assert settings.redact_fields == ("national_id",)


def test_invalid_setting_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HICCUP_LOG_LEVEL", "loud")

    with pytest.raises(ValueError, match="log_level"):
        hiccup.Settings()


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        pytest.param(
            "Authorization", "Bearer abc.def", "[REDACTED]", id="authorization"
        ),
        pytest.param("set-cookie", "sid=1", "[REDACTED]", id="set-cookie"),
        pytest.param("API_KEY", "k", "[REDACTED]", id="api-key-upper"),
        pytest.param("password", "hunter2", "[REDACTED]", id="password"),
        pytest.param(
            "note", "mail alice@example.com now", "mail [REDACTED] now", id="email"
        ),
        pytest.param(
            "note", "sent Bearer abc.def-123", "sent Bearer [REDACTED]", id="bearer"
        ),
        pytest.param("note", "the token count", "the token count", id="prose"),
        pytest.param("note", "Token k-1", "Token [REDACTED]", id="token-scheme"),
        pytest.param(
            "headers",
            {"Cookie": "a=1", "Accept": "json"},
            {"Cookie": "[REDACTED]", "Accept": "json"},
            id="nested-mapping",
        ),
        pytest.param(
            "people",
            [{"email": "x"}, "bob@example.org"],
            [{"email": "x"}, "[REDACTED]"],
            id="list",
        ),
        pytest.param("count", 3, 3, id="number"),
    ],
)
def test_redactor_replaces_secrets_and_personal_data(
    key: str, value: object, expected: object
) -> None:
    redact = Redactor()

    assert redact(None, "info", {key: value}) == {key: expected}


def test_redactor_takes_extra_fields_and_can_keep_emails() -> None:
    redact = Redactor(["IBAN"], emails=False)

    assert redact(None, "info", {"iban": "FR76", "to": "a@b.co"}) == {
        "iban": "[REDACTED]",
        "to": "a@b.co",
    }


def test_redactor_stops_at_a_depth() -> None:
    deep: dict[str, object] = {"password": "x"}
    for _ in range(10):
        deep = {"level": deep}

    redacted = Redactor()(None, "info", {"data": deep})

    assert "password" in repr(redacted)


def test_logging_can_be_reconfigured(
    make_logs: Callable[[hiccup.Settings], LogCapture],
) -> None:
    first = make_logs(hiccup.Settings(service_name="one"))
    second = make_logs(hiccup.Settings(service_name="two"))

    logging.getLogger("lib").warning("hello")

    assert first.lines == []
    assert [line["service"] for line in second.lines] == ["two"]
    assert (
        sum(
            1
            for h in logging.getLogger().handlers
            if type(h).__name__ == "_SinkHandler"
        )
        == 1
    )


def test_file_backed_stream_gets_whole_lines(tmp_path: object) -> None:
    path = tmp_path / "log.jsonl"  # type: ignore[operator]
    with open(path, "wb") as stream:
        hiccup.configure_logging(hiccup.Settings(), stream=stream)
        for n in range(100):
            hiccup.get_logger("x").info("line", n=n, pad="x" * 5000)
    hiccup.configure_logging(hiccup.Settings(), stream=io.BytesIO())

    lines = path.read_text().splitlines()
    assert len(lines) == 100
    assert [json.loads(line)["n"] for line in lines] == list(range(100))


def test_lines_keep_going_to_a_file_whose_stream_was_closed(
    tmp_path: Path, logs: LogCapture
) -> None:
    path = tmp_path / "log.jsonl"
    stream = open(path, "wb")  # noqa: SIM115 - closed half-way on purpose
    hiccup.configure_logging(hiccup.Settings(), stream=stream)
    hiccup.get_logger("x").info("before")
    stream.close()
    # The number the stream's descriptor had goes to the next file opened.
    with open(tmp_path / "other", "wb") as other:
        hiccup.get_logger("x").info("after")
        other.flush()
    hiccup.configure_logging(hiccup.Settings(), stream=io.BytesIO())

    events = [json.loads(line)["event"] for line in path.read_text().splitlines()]
    assert events == ["before", "after"]
    assert (tmp_path / "other").read_bytes() == b""


def test_standard_output_without_a_binary_buffer_still_gets_lines(
    monkeypatch: pytest.MonkeyPatch, logs: LogCapture
) -> None:
    text = io.StringIO()
    monkeypatch.setattr(sys, "stdout", text)
    hiccup.configure_logging(hiccup.Settings(service_name="notebook"))
    hiccup.get_logger("x").info("draft.saved", words=3)
    write_access(context.RequestContext("r-1"), "GET", 200, 0.002)

    lines = [json.loads(line) for line in text.getvalue().splitlines()]
    assert [(line["event"], line["service"]) for line in lines] == [
        ("draft.saved", "notebook"),
        ("http.request", "notebook"),
    ]
    assert lines[1]["duration_ms"] == 2.0
    for line in lines:
        assert_valid("log-record", line)
