from __future__ import annotations

import asyncio
import json
import socket
from typing import Any

import httpx2
import pytest
from servers import Server
from support import assert_valid

ORIGIN = "https://writer.example"
CONCURRENT = 2000


def raw_exchange(port: int, request: bytes, *, responses: int = 1) -> bytes:
    """Send raw bytes on one connection and read until ``responses`` arrived."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(request)
        data = b""
        while data.count(b"HTTP/1.1 ") < responses or not _complete(data, responses):
            chunk = conn.recv(65536)
            if not chunk:
                break
            data += chunk
        return data


def _complete(data: bytes, responses: int) -> bool:
    parts = data.split(b"HTTP/1.1 ")[1:]
    if len(parts) < responses:
        return False
    last = parts[-1]
    head, _, body = last.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":")[1])
    return False


def request_ids_of(lines: list[dict[str, Any]], event: str) -> set[str]:
    return {line.get("request_id", "") for line in lines if line["event"] == event}


def test_concurrent_requests_never_cross_their_log_lines(server: Server) -> None:
    async def fire() -> list[httpx2.Response]:
        limits = httpx2.Limits(max_connections=200, max_keepalive_connections=200)
        async with httpx2.AsyncClient(
            base_url=server.url, limits=limits, timeout=60
        ) as client:
            return await asyncio.gather(
                *(
                    client.get(f"/echo/{n}", headers={"X-Request-ID": f"req-{n}"})
                    for n in range(CONCURRENT)
                )
            )

    responses = asyncio.run(fire())

    for n, response in enumerate(responses):
        assert response.status_code == 200
        assert response.headers["x-request-id"] == f"req-{n}"
        assert response.json() == {"n": n, "request_id": f"req-{n}"}
    lines = server.wait_for(
        lambda ls: (
            len([x for x in ls if x.get("event") == "echo.handled"]) >= CONCURRENT
        )
    )
    handled = [line for line in lines if line["event"] == "echo.handled"]
    access = [
        line
        for line in lines
        if line["event"] == "http.request" and line.get("http.route") == "/echo/{n}"
    ]
    assert len(handled) == len(access) == CONCURRENT
    for line in handled + access:
        assert line["request_id"] == f"req-{line['n']}"
    assert {line["request_id"] for line in access} == {
        f"req-{n}" for n in range(CONCURRENT)
    }
    for line in handled[:50] + access[:50]:
        assert_valid("log-record", line)


def test_unhandled_error_is_logged_once_and_keeps_the_connection(
    server: Server,
) -> None:
    request = (
        b"GET /boom HTTP/1.1\r\nHost: t\r\nX-Request-ID: keep-1\r\n\r\n"
        b"GET /echo/1 HTTP/1.1\r\nHost: t\r\nX-Request-ID: keep-2\r\n\r\n"
    )

    data = raw_exchange(server.port, request, responses=2)

    assert data.count(b"HTTP/1.1 500") == 1
    assert data.count(b"HTTP/1.1 200") == 1
    lines = server.wait_for(lambda ls: "keep-2" in request_ids_of(ls, "http.request"))
    errors = [
        line
        for line in lines
        if line.get("request_id") == "keep-1" and line["level"] == "error"
    ]
    assert [line["event"] for line in errors] == ["http.exception", "http.request"]
    assert "Exception in ASGI application" not in server.raw_output()


def test_cors_headers_survive_an_unhandled_error(server: Server) -> None:
    response = httpx2.get(f"{server.url}/boom", headers={"Origin": ORIGIN})

    assert response.status_code == 500
    assert response.headers["access-control-allow-origin"] == ORIGIN
    exposed = {
        h.strip() for h in response.headers["access-control-expose-headers"].split(",")
    }
    assert {"X-Request-ID", "Retry-After", "X-Should-Retry"} <= exposed
    assert_valid("envelope", response.json())


def test_cors_preflight_is_answered_with_a_request_id(server: Server) -> None:
    response = httpx2.options(
        f"{server.url}/echo/1",
        headers={"Origin": ORIGIN, "Access-Control-Request-Method": "GET"},
    )

    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert response.headers["x-request-id"]


def test_event_stream_ends_with_an_error_event(server: Server) -> None:
    with httpx2.stream(
        "GET", f"{server.url}/events", headers={"X-Request-ID": "sse-1"}
    ) as response:
        body = b"".join(response.iter_bytes())

    assert response.status_code == 200
    first, error = body.split(b"\n\n")[:2]
    assert first == b"data: one"
    assert error.startswith(b"event: error\ndata: ")
    envelope = json.loads(error.split(b"data: ", 1)[1])
    assert (envelope["code"], envelope["request_id"]) == ("MODEL_OVERLOADED", "sse-1")
    assert_valid("envelope", envelope)


def test_broken_stream_is_cut_so_the_client_knows(server: Server) -> None:
    with (
        pytest.raises(httpx2.RemoteProtocolError),
        httpx2.stream(
            "GET", f"{server.url}/stream", headers={"X-Request-ID": "cut-1"}
        ) as response,
    ):
        b"".join(response.iter_bytes())

    lines = server.wait_for(lambda ls: "cut-1" in request_ids_of(ls, "http.request"))
    mine = [line for line in lines if line.get("request_id") == "cut-1"]
    assert [line["event"] for line in mine] == ["http.exception", "http.request"]
    assert mine[0]["exception"]["message"] == "stream broke"
    assert "Exception in ASGI application" not in server.raw_output()


def test_client_disconnect_mid_stream_is_not_an_error(server: Server) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as conn:
        conn.sendall(b"GET /slow HTTP/1.1\r\nHost: t\r\nX-Request-ID: gone-1\r\n\r\n")
        assert conn.recv(4096).startswith(b"HTTP/1.1 200")

    lines = server.wait_for(
        lambda ls: "gone-1" in request_ids_of(ls, "http.request"), 15
    )
    mine = [line for line in lines if line.get("request_id") == "gone-1"]
    assert [line["event"] for line in mine] == ["http.request"]
    assert mine[0]["http.response.status_code"] == 200
    assert httpx2.get(f"{server.url}/echo/5").status_code == 200


@pytest.mark.parametrize(
    ("header", "name"),
    [
        pytest.param(b"X-Request-ID: " + b"a" * 10_000, "long", id="ten-kilobytes"),
        pytest.param(
            "X-Request-ID: réquête".encode("latin-1"), "latin1", id="non-ascii"
        ),
        pytest.param(
            b"X-Request-ID: one\r\nX-Request-ID: two", "repeated", id="repeated"
        ),
        pytest.param(b"traceparent: 00-xyz-01", "traceparent", id="bad-traceparent"),
        pytest.param(b"Accept-Language: \xff\xfe;q=abc", "language", id="bad-language"),
    ],
)
def test_bad_headers_over_the_wire_are_handled(
    server: Server, header: bytes, name: str
) -> None:
    request = (
        b"GET /boom HTTP/1.1\r\nHost: t\r\n" + header + b"\r\nConnection: close\r\n\r\n"
    )

    data = raw_exchange(server.port, request)

    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 500")
    envelope = json.loads(body)
    assert envelope["code"] == "INTERNAL"
    assert envelope["request_id"] not in {"one", "two"}
    assert b"a" * 200 not in head
    assert_valid("envelope", envelope)
