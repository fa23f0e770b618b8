"""The tests' Sentry ingest: the envelope format, encodings, and the server."""

from __future__ import annotations

import gzip
import json
import zlib

import httpx2
import pytest
from sentry_ingest import (
    SentryIngest,
    UnsupportedEncodingError,
    decode_body,
    parse_envelope,
)
from sentry_sdk.envelope import Envelope, Item, PayloadRef


def sdk_envelope() -> bytes:
    """An envelope as sentry-sdk writes it: an event and a two-line attachment."""
    envelope = Envelope(headers={"event_id": "a" * 32})
    envelope.add_event({"event_id": "a" * 32, "message": "boom"})
    envelope.add_item(
        Item(payload=PayloadRef(bytes=b"line one\nline two\n"), type="attachment")
    )
    return envelope.serialize()


def test_items_with_a_length_keep_their_newlines() -> None:
    envelope = parse_envelope(sdk_envelope())

    assert envelope.headers == {"event_id": "a" * 32}
    assert [item.type for item in envelope.items] == ["event", "attachment"]
    assert envelope.items[0].json() == {"event_id": "a" * 32, "message": "boom"}
    assert envelope.items[1].payload == b"line one\nline two\n"


def test_items_without_a_length_run_to_the_next_newline() -> None:
    data = b'{}\n{"type":"event"}\n{"message":"one"}\n{"type":"session"}\n{"sid":"2"}'

    envelope = parse_envelope(data)

    assert [(i.type, i.json()) for i in envelope.items] == [
        ("event", {"message": "one"}),
        ("session", {"sid": "2"}),
    ]


def test_an_item_cut_short_is_not_an_envelope() -> None:
    with pytest.raises(ValueError, match="cut short"):
        parse_envelope(b'{}\n{"type":"event","length":50}\n{"message":"one"}\n')


@pytest.mark.parametrize(
    ("encoding", "encode"),
    [
        (None, lambda body: body),
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", lambda body: zlib.compress(body, wbits=-zlib.MAX_WBITS)),
    ],
    ids=["identity", "gzip", "deflate", "raw-deflate"],
)
def test_bodies_are_decoded_as_their_encoding_says(
    encoding: str | None, encode: object
) -> None:
    body = sdk_envelope()

    assert decode_body(encode(body), encoding) == body  # type: ignore[operator]


def test_an_unknown_encoding_is_refused() -> None:
    with pytest.raises(UnsupportedEncodingError, match="'zstd'"):
        decode_body(b"", "zstd")


def test_the_ingest_records_what_it_is_sent_and_answers_with_the_id() -> None:
    with SentryIngest(project="42") as ingest, httpx2.Client() as client:
        response = client.post(
            f"http://127.0.0.1:{ingest.port}/api/42/envelope/",
            content=gzip.compress(sdk_envelope()),
            headers={"Content-Encoding": "gzip"},
        )
        missing = client.post(f"http://127.0.0.1:{ingest.port}/api/42/store/")

        assert response.status_code == 200
        assert json.loads(response.content) == {"id": "a" * 32}
        assert missing.status_code == 404
        assert [e.project for e in ingest.envelopes()] == ["42"]
        assert ingest.events() == [{"event_id": "a" * 32, "message": "boom"}]
        assert ingest.dsn == f"http://public@127.0.0.1:{ingest.port}/42"
