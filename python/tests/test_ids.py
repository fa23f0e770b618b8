from __future__ import annotations

import uuid

import pytest

from hiccup._ids import accept_request_id, new_request_id, parse_traceparent, sanitize

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"


def test_new_request_id_is_a_uuid7() -> None:
    value = uuid.UUID(new_request_id())

    assert value.version == 7


def test_new_request_ids_sort_by_creation() -> None:
    ids = [new_request_id() for _ in range(50)]

    assert ids == sorted(ids)
    assert len(set(ids)) == 50


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(b"0195f3c2-7a4e-7b61-9d0c-3e8f2a6b1c47", id="uuid"),
        pytest.param(b"01ARZ3NDEKTSV4RRFFQ69G5FAV", id="ulid"),
        pytest.param(b"8f14e45fceea167a5a36dedd4bea2543", id="nginx-hex"),
        pytest.param(b"1-67891233-abcdef012345678912345678:a.b_c", id="punctuation"),
        pytest.param(b"x" * 128, id="longest"),
    ],
)
def test_well_formed_id_is_kept(value: bytes) -> None:
    assert accept_request_id([value], trust=True) == (value.decode(), None)


@pytest.mark.parametrize(
    ("value", "kept"),
    [
        pytest.param(b"abc\r\nX-Injected: 1", "abcX-Injected:1", id="crlf"),
        pytest.param(b"x" * 10_000, "x" * 64, id="ten-kilobytes"),
        pytest.param(
            "réquête-☃".encode(),
            "rqute-",
            id="unicode",
        ),
        pytest.param(b"x" * 129, "x" * 64, id="one-too-long"),
        pytest.param(b"has space", "hasspace", id="space"),
        pytest.param(b"", None, id="empty"),
        pytest.param(b"\x00\x01\x7f", None, id="nothing-printable"),
    ],
)
def test_malformed_id_is_replaced_and_kept_sanitized(
    value: bytes, kept: str | None
) -> None:
    request_id, client_request_id = accept_request_id([value], trust=True)

    assert uuid.UUID(request_id).version == 7
    assert client_request_id == kept


def test_sanitized_copy_is_printable_ascii_only() -> None:
    cleaned = sanitize(bytes(range(256)) * 3)

    assert cleaned is not None
    assert len(cleaned) <= 64
    assert all(0x21 <= ord(c) <= 0x7E for c in cleaned)


def test_repeated_identical_header_is_one_id() -> None:
    assert accept_request_id([b"abc", b"abc"], trust=True) == ("abc", None)


def test_repeated_different_headers_get_a_fresh_id() -> None:
    request_id, client_request_id = accept_request_id([b"abc", b"def"], trust=True)

    assert request_id not in {"abc", "def"}
    assert client_request_id == "abc"


def test_untrusted_id_is_replaced_but_remembered() -> None:
    request_id, client_request_id = accept_request_id([b"abc"], trust=False)

    assert request_id != "abc"
    assert client_request_id == "abc"


def test_missing_header_gets_a_fresh_id() -> None:
    request_id, client_request_id = accept_request_id([], trust=True)

    assert uuid.UUID(request_id).version == 7
    assert client_request_id is None


def test_traceparent_is_read() -> None:
    header = f"00-{TRACE}-{SPAN}-01".encode()

    assert parse_traceparent(header) == (TRACE, SPAN)


def test_future_version_may_carry_more_fields() -> None:
    header = f"cc-{TRACE}-{SPAN}-01-what-comes-next".encode()

    assert parse_traceparent(header) == (TRACE, SPAN)


@pytest.mark.parametrize(
    "header",
    [
        pytest.param(b"garbage", id="garbage"),
        pytest.param(f"00-{TRACE.upper()}-{SPAN}-01".encode(), id="upper-case"),
        pytest.param(f"ff-{TRACE}-{SPAN}-01".encode(), id="version-ff"),
        pytest.param(f"00-{'0' * 32}-{SPAN}-01".encode(), id="zero-trace"),
        pytest.param(f"00-{TRACE}-{'0' * 16}-01".encode(), id="zero-span"),
        pytest.param(f"00-{TRACE}-{SPAN}-01-extra".encode(), id="version-00-extra"),
        pytest.param(f"00-{TRACE[:-1]}-{SPAN}-01".encode(), id="short-trace"),
        pytest.param(f"00-{TRACE}-{SPAN}-01\r\nX: y".encode(), id="crlf"),
        pytest.param(b"\xff" * 300, id="binary"),
    ],
)
def test_malformed_traceparent_is_ignored(header: bytes) -> None:
    assert parse_traceparent(header) is None
