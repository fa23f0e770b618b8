"""Idempotency-Key handling, against the in-memory store and a real Redis.

Every app here is a FastAPI app with ``hiccup.install``, so the middleware's
answers arrive as the envelopes a client would see.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
import redis.asyncio
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from servers import free_port
from starlette.requests import HTTPConnection
from support import LogCapture, Sent, assert_valid, call

import hiccup
from hiccup import Code, Problem
from hiccup.resilience._idempotency import (
    Begun,
    IdempotencyMiddleware,
    IdempotencyStore,
    IdempotencyStoreError,
    InFlight,
    MemoryIdempotencyStore,
    Mismatch,
    RedisIdempotencyStore,
    Replay,
    StoredResponse,
    parse_idempotency_key,
)

SETTINGS = hiccup.Settings(service_name="tests", tracing=False, metrics=False)
#: Headers every response gets from hiccup itself, different on each one.
PER_RESPONSE = {b"x-request-id"}


def run(scenario: Coroutine[Any, Any, None]) -> None:
    asyncio.run(scenario)


class FakeClock:
    """A monotonic clock that moves only when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Backend:
    """A kind of store, and how a test lets time pass for it."""

    name: str
    open: Callable[[], AbstractAsyncContextManager[IdempotencyStore]]
    elapse: Callable[[float], Awaitable[None]]


def memory_backend() -> Backend:
    clock = FakeClock()
    # One store: two middlewares of one process share it.
    store = MemoryIdempotencyStore(clock=clock)

    @asynccontextmanager
    async def open_store() -> AsyncIterator[IdempotencyStore]:
        yield store

    async def elapse(seconds: float) -> None:
        clock.now += seconds

    return Backend("memory", open_store, elapse)


def redis_backend(url: str) -> Backend:
    @asynccontextmanager
    async def open_store() -> AsyncIterator[IdempotencyStore]:
        # A client per store, as each process of an app has its own.
        client = redis.asyncio.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        try:
            yield RedisIdempotencyStore(client)
        finally:
            await client.aclose()

    async def elapse(seconds: float) -> None:
        # Redis expires a key on its own clock, exactly when it is next read:
        # once the TTL has passed here, it has passed there.
        await asyncio.sleep(seconds)

    return Backend("redis", open_store, elapse)


@pytest.fixture(params=["memory", "redis"])
def backend(request: pytest.FixtureRequest) -> Backend:
    """Each store in turn; Redis only starts for the tests that use it."""
    if request.param == "memory":
        return memory_backend()
    return redis_backend(request.getfixturevalue("redis_url"))


@pytest.fixture
def memory() -> Backend:
    return memory_backend()


@dataclass
class Served:
    """An app under the middleware, and what its endpoints saw."""

    app: FastAPI
    calls: Counter[str] = field(default_factory=Counter)
    entered: asyncio.Event = field(default_factory=asyncio.Event)
    gate: asyncio.Event = field(default_factory=asyncio.Event)

    async def post(
        self,
        path: str = "/orders",
        key: bytes | None = b"k-1",
        body: bytes | Sequence[bytes] = b'{"item": "pen"}',
        *,
        method: str = "POST",
        headers: Sequence[tuple[bytes, bytes]] = (),
        query: bytes = b"",
    ) -> Sent:
        sent_headers = list(headers)
        if key is not None:
            sent_headers.append((b"idempotency-key", key))
        return await call(
            self.app, method, path, headers=sent_headers, body=body, query=query
        )


def serve(store: IdempotencyStore, logs: LogCapture, **options: Any) -> Served:
    """Build an app with one endpoint per way of answering, under the middleware."""
    app = FastAPI()
    served = Served(app)
    calls = served.calls

    @app.post("/orders")
    async def create(request: Request) -> Response:
        calls["orders"] += 1
        body = (await request.body()).decode()
        return JSONResponse(
            {"order": calls["orders"], "echo": body},
            status_code=201,
            headers={"X-Order": str(calls["orders"])},
        )

    @app.patch("/orders/{order_id}")
    async def update(order_id: int) -> dict[str, int]:
        calls["update"] += 1
        return {"order": order_id, "update": calls["update"]}

    @app.get("/orders")
    async def listing() -> dict[str, int]:
        calls["listing"] += 1
        return {"listing": calls["listing"]}

    @app.post("/other")
    async def other() -> dict[str, int]:
        calls["other"] += 1
        return {"other": calls["other"]}

    @app.post("/slow")
    async def slow() -> dict[str, int]:
        calls["slow"] += 1
        call_number = calls["slow"]
        if call_number == 1:
            served.entered.set()
            await served.gate.wait()
        return {"slow": call_number}

    @app.post("/flaky")
    async def flaky() -> Response:
        calls["flaky"] += 1
        if calls["flaky"] == 1:
            return JSONResponse({"down": True}, status_code=503)
        return JSONResponse({"flaky": calls["flaky"]})

    @app.post("/busy/{status}")
    async def busy(status: int) -> Response:
        calls["busy"] += 1
        if calls["busy"] == 1:
            return JSONResponse({"later": True}, status, headers={"Retry-After": "1"})
        return JSONResponse({"busy": calls["busy"]})

    @app.post("/crash")
    async def crash() -> dict[str, int]:
        calls["crash"] += 1
        if calls["crash"] == 1:
            raise RuntimeError("the first attempt fails")
        return {"crash": calls["crash"]}

    @app.post("/conflict")
    async def conflict() -> None:
        calls["conflict"] += 1
        raise Problem(Code.CONFLICT, detail="The draft exists already.")

    @app.post("/stream")
    async def stream() -> StreamingResponse:
        calls["stream"] += 1

        async def chunks() -> AsyncIterator[bytes]:
            for part in (b"one,", b"two,", b"three"):
                yield part

        return StreamingResponse(chunks(), media_type="text/plain")

    @app.post("/hop")
    async def hop() -> Response:
        calls["hop"] += 1
        return Response(
            b"hop",
            headers={
                "Connection": "X-Trace",
                "X-Trace": "t-1",
                "Keep-Alive": "timeout=5",
                "X-Kept": "yes",
            },
        )

    app.add_middleware(IdempotencyMiddleware, store=store, **options)
    hiccup.install(app, SETTINGS)
    hiccup.configure_logging(SETTINGS, stream=logs.stream)

    return served


def assert_envelope(sent: Sent, code: str, status: int) -> dict[str, Any]:
    """Check an answer is the contract's envelope for ``code``; return its body."""
    body: dict[str, Any] = sent.json()
    assert (sent.status, body["code"], body["status"]) == (status, code, status)
    assert sent.header("content-type") == "application/problem+json"
    assert body["request_id"] == sent.header("x-request-id")
    assert_valid("envelope", body)

    return body


def own_headers(sent: Sent) -> list[tuple[bytes, bytes]]:
    """The headers the app sent, leaving out what differs per response."""
    return [(n, v) for n, v in sent.headers if n not in PER_RESPONSE]


# The first request and its replays


def test_first_request_runs_the_app_once_and_passes_its_answer_through(
    backend: Backend, logs: LogCapture
) -> None:
    async def scenario() -> None:
        async with backend.open() as store:
            served = serve(store, logs)

            sent = await served.post()

            assert (sent.status, sent.json()) == (
                201,
                {"order": 1, "echo": '{"item": "pen"}'},
            )
            assert sent.header("idempotent-replayed") is None
            assert served.calls == {"orders": 1}

    run(scenario())


def test_repeat_replays_the_kept_answer_without_running_the_app(
    backend: Backend, logs: LogCapture
) -> None:
    async def scenario() -> None:
        async with backend.open() as store:
            served = serve(store, logs)

            first = await served.post()
            second = await served.post()
            third = await served.post()

            for replay in (second, third):
                assert replay.status == first.status
                assert replay.body == first.body
                assert own_headers(replay) == [
                    *own_headers(first),
                    (b"idempotent-replayed", b"true"),
                ]
            assert served.calls == {"orders": 1}

    run(scenario())


@pytest.mark.parametrize(
    ("first", "second"),
    [
        pytest.param(b'"k-1"', b"k-1", id="quoted-then-bare"),
        pytest.param(b"k-1", b'"k-1"', id="bare-then-quoted"),
        pytest.param(b'"say \\"hi\\""', b'say "hi"', id="escaped-quotes"),
        pytest.param(b'"back\\\\slash"', b"back\\slash", id="escaped-backslash"),
        pytest.param(b"  k-1\t", b"k-1", id="surrounding-whitespace"),
    ],
)
def test_quoted_and_bare_forms_of_a_key_are_the_same_key(
    memory: Backend, logs: LogCapture, first: bytes, second: bytes
) -> None:
    async def scenario() -> None:
        async with memory.open() as store:
            served = serve(store, logs)

            await served.post(key=first)
            replay = await served.post(key=second)

            assert replay.header("idempotent-replayed") == "true"
            assert served.calls == {"orders": 1}

    run(scenario())


def test_body_sent_in_chunks_has_the_fingerprint_of_the_whole_body(
    backend: Backend, logs: LogCapture
) -> None:
    async def scenario() -> None:
        async with backend.open() as store:
            served = serve(store, logs)

            await served.post(body=b'{"item": "pen"}')
            replay = await served.post(body=[b'{"item"', b': "pen"}'])

            assert replay.header("idempotent-replayed") == "true"
            assert served.calls == {"orders": 1}

    run(scenario())


def test_streamed_answer_passes_through_in_chunks_and_replays_whole(
    backend: Backend, logs: LogCapture
) -> None:
    async def scenario() -> None:
        async with backend.open() as store:
            served = serve(store, logs)

            first = await served.post("/stream")
            replay = await served.post("/stream")

            chunks = [
                m["body"] for m in first.messages if m["type"] == "http.response.body"
            ]
            assert chunks[:3] == [b"one,", b"two,", b"three"]
            assert (replay.body, replay.header("content-type")) == (
                b"one,two,three",
                "text/plain; charset=utf-8",
            )
            assert replay.header("idempotent-replayed") == "true"
            assert served.calls == {"stream": 1}

    run(scenario())


def test_hop_by_hop_headers_are_not_replayed(
    backend: Backend, logs: LogCapture
) -> None:
    async def scenario() -> None:
        async with backend.open() as store:
            served = serve(store, logs)

            await served.post("/hop")
            replay = await served.post("/hop")

            names = {name for name, _ in replay.headers}
            assert replay.header("x-kept") == "yes"
            assert not names & {b"connection", b"keep-alive", b"x-trace"}

    run(scenario())


def test_client_error_is_kept_and_replayed(backend: Backend, logs: LogCapture) -> None:
    async def scenario() -> None:
        async with backend.open() as store:
            served = serve(store, logs)

            first = await served.post("/conflict")
            replay = await served.post("/conflict")

            assert_envelope(first, "CONFLICT", 409)
            assert (replay.status, replay.json()["code"]) == (409, "CONFLICT")
            assert replay.header("idempotent-replayed") == "true"
            assert served.calls == {"conflict": 1}

    run(scenario())


# Conflicts


def test_repeat_while_the_first_runs_answers_409_in_flight(
    backend: Backend, logs: LogCapture
) -> None:
    async def scenario() -> None:
        async with backend.open() as store:
            served = serve(store, logs)

            first = asyncio.create_task(served.post("/slow"))
            await served.entered.wait()
            during = await served.post("/slow")
            served.gate.set()
            finished = await first
            after = await served.post("/slow")

            body = assert_envelope(during, "IDEMPOTENCY_IN_FLIGHT", 409)
            assert body["retry"] == {"auto": False, "user": True, "after_ms": 1000}
            assert during.header("retry-after") == "1"
            assert (finished.status, finished.json()) == (200, {"slow": 1})
            assert after.json() == {"slow": 1}
            assert after.header("idempotent-replayed") == "true"
            assert served.calls == {"slow": 1}

    run(scenario())


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"body": b'{"item": "ink"}'}, id="body"),
        pytest.param({"body": [b'{"item": ', b'"ink"}']}, id="chunked-body"),
        pytest.param({"query": b"express=1"}, id="query"),
    ],
)
def test_same_key_with_another_request_answers_422_reused(
    backend: Backend, logs: LogCapture, change: dict[str, Any]
) -> None:
    async def scenario() -> None:
        async with backend.open() as store:
            served = serve(store, logs)

            await served.post()
            reused = await served.post(**change)

            body = assert_envelope(reused, "IDEMPOTENCY_KEY_REUSED", 422)
            assert body["retry"] == {"auto": False, "user": False}
            assert served.calls == {"orders": 1}

    run(scenario())


def test_same_key_while_the_first_runs_with_another_body_answers_422(
    backend: Backend, logs: LogCapture
) -> None:
    async def scenario() -> None:
        async with backend.open() as store:
            served = serve(store, logs)

            first = asyncio.create_task(served.post("/slow"))
            await served.entered.wait()
            reused = await served.post("/slow", body=b"other")
            served.gate.set()
            await first

            assert_envelope(reused, "IDEMPOTENCY_KEY_REUSED", 422)

    run(scenario())


def test_same_key_on_another_method_or_path_is_another_key(
    backend: Backend, logs: LogCapture
) -> None:
    async def scenario() -> None:
        async with backend.open() as store:
            served = serve(store, logs)

            await served.post("/orders")
            other = await served.post("/other")
            update = await served.post("/orders/7", method="PATCH")

            assert (other.status, other.json()) == (200, {"other": 1})
            assert (update.status, update.json()) == (200, {"order": 7, "update": 1})
            assert served.calls == {"orders": 1, "other": 1, "update": 1}

    run(scenario())


# Failures release the key


def test_server_error_answer_releases_the_key(
    backend: Backend, logs: LogCapture
) -> None:
    async def scenario() -> None:
        async with backend.open() as store:
            served = serve(store, logs)

            failed = await served.post("/flaky")
            retried = await served.post("/flaky")
            replayed = await served.post("/flaky")

            assert failed.status == 503
            assert (retried.status, retried.json()) == (200, {"flaky": 2})
            assert retried.header("idempotent-replayed") is None
            assert replayed.json() == {"flaky": 2}
            assert replayed.header("idempotent-replayed") == "true"
            assert served.calls == {"flaky": 2}

    run(scenario())


@pytest.mark.parametrize("status", [408, 425, 429])
def test_come_back_later_releases_the_key(
    backend: Backend, logs: LogCapture, status: int
) -> None:
    async def scenario() -> None:
        async with backend.open() as store:
            served = serve(store, logs)

            refused = await served.post(f"/busy/{status}")
            retried = await served.post(f"/busy/{status}")

            assert refused.status == status
            assert (retried.status, retried.json()) == (200, {"busy": 2})
            assert retried.header("idempotent-replayed") is None
            assert served.calls == {"busy": 2}

    run(scenario())


def test_exception_releases_the_key(backend: Backend, logs: LogCapture) -> None:
    async def scenario() -> None:
        async with backend.open() as store:
            served = serve(store, logs)

            failed = await served.post("/crash")
            retried = await served.post("/crash")

            assert_envelope(failed, "INTERNAL", 500)
            assert (retried.status, retried.json()) == (200, {"crash": 2})
            assert retried.header("idempotent-replayed") is None
            assert served.calls == {"crash": 2}

    run(scenario())


# Expiry


def test_kept_answer_expires_after_the_ttl(backend: Backend, logs: LogCapture) -> None:
    async def scenario() -> None:
        async with backend.open() as store:
            served = serve(store, logs, ttl=0.2)

            await served.post()
            await backend.elapse(0.3)
            again = await served.post()

            assert (again.status, again.json()["order"]) == (201, 2)
            assert again.header("idempotent-replayed") is None
            assert served.calls == {"orders": 2}

    run(scenario())


def test_hold_lapses_after_the_lock_ttl_and_the_late_answer_is_not_kept(
    backend: Backend, logs: LogCapture
) -> None:
    async def scenario() -> None:
        async with backend.open() as store:
            served = serve(store, logs, lock_ttl=0.2)

            first = asyncio.create_task(served.post("/slow"))
            await served.entered.wait()
            await backend.elapse(0.3)
            second = await served.post("/slow")
            served.gate.set()
            late = await first
            third = await served.post("/slow")

            assert (second.status, second.json()) == (200, {"slow": 2})
            assert late.json() == {"slow": 1}
            # The request that took the key over keeps it.
            assert third.json() == {"slow": 2}
            assert third.header("idempotent-replayed") == "true"

    run(scenario())


# Keys the middleware refuses


@pytest.mark.parametrize(
    ("key", "detail"),
    [
        pytest.param(b"", "The Idempotency-Key header is empty.", id="empty"),
        pytest.param(b"   ", "The Idempotency-Key header is empty.", id="blank"),
        pytest.param(b'""', "The Idempotency-Key header is empty.", id="empty-string"),
        pytest.param(
            b"k" * 256,
            "The Idempotency-Key header is longer than 255 characters.",
            id="too-long",
        ),
        pytest.param(
            b'"' + b"k" * 256 + b'"',
            "The Idempotency-Key header is longer than 255 characters.",
            id="too-long-quoted",
        ),
        pytest.param(
            b"sec\x01ret",
            "The Idempotency-Key header holds a character that is not printable ASCII.",
            id="control-character",
        ),
        pytest.param(
            b"sec\tret",
            "The Idempotency-Key header holds a character that is not printable ASCII.",
            id="tab",
        ),
        pytest.param(
            "secr\u00e9t".encode("latin-1"),
            "The Idempotency-Key header holds a character that is not printable ASCII.",
            id="non-ascii",
        ),
        pytest.param(
            b'"secret',
            "The Idempotency-Key header opens a quoted string and does not close it.",
            id="unclosed",
        ),
        pytest.param(
            b'"secret\\"',
            "The Idempotency-Key header opens a quoted string and does not close it.",
            id="escaped-closing-quote",
        ),
        pytest.param(
            b'"sec\\ret"',
            "The Idempotency-Key header escapes a character other than a quote or "
            "a backslash.",
            id="bad-escape",
        ),
        pytest.param(
            b'"secret";a=1',
            "The Idempotency-Key header has more after its quoted string.",
            id="parameters",
        ),
        pytest.param(
            b'"secret", "other"',
            "The Idempotency-Key header has more after its quoted string.",
            id="list",
        ),
    ],
)
def test_malformed_key_answers_400_without_echoing_it(
    memory: Backend, logs: LogCapture, key: bytes, detail: str
) -> None:
    async def scenario() -> None:
        async with memory.open() as store:
            served = serve(store, logs)

            sent = await served.post(key=key)

            body = assert_envelope(sent, "BAD_REQUEST", 400)
            assert body["detail"] == detail
            assert b"secret" not in sent.body
            assert served.calls == {}

    run(scenario())


def test_two_key_headers_answer_400(memory: Backend, logs: LogCapture) -> None:
    async def scenario() -> None:
        async with memory.open() as store:
            served = serve(store, logs)

            sent = await served.post(headers=[(b"idempotency-key", b"k-2")])

            body = assert_envelope(sent, "BAD_REQUEST", 400)
            assert body["detail"] == (
                "The request has more than one Idempotency-Key header."
            )
            assert served.calls == {}

    run(scenario())


@pytest.mark.parametrize(
    ("value", "key"),
    [
        pytest.param(b"k" * 255, "k" * 255, id="longest"),
        pytest.param(b'"' + b"k" * 255 + b'"', "k" * 255, id="longest-quoted"),
        pytest.param(b"8e03978e-40d5", "8e03978e-40d5", id="uuid-like"),
        pytest.param(b"with inner spaces", "with inner spaces", id="inner-spaces"),
        pytest.param(b'"a\\\\"', "a\\", id="escaped-backslash-last"),
    ],
)
def test_key_is_read_from_either_form(value: bytes, key: str) -> None:
    assert parse_idempotency_key(value) == key


# What the middleware leaves alone, and what it demands


def test_requests_without_a_key_are_untouched(
    backend: Backend, logs: LogCapture
) -> None:
    async def scenario() -> None:
        async with backend.open() as store:
            served = serve(store, logs)

            first = await served.post(key=None)
            second = await served.post(key=None)

            assert [first.json()["order"], second.json()["order"]] == [1, 2]
            assert second.header("idempotent-replayed") is None

    run(scenario())


def test_methods_not_covered_ignore_the_key(backend: Backend, logs: LogCapture) -> None:
    async def scenario() -> None:
        async with backend.open() as store:
            served = serve(store, logs)

            for _ in range(2):
                await served.post("/orders", method="GET", body=b"")
            malformed = await served.post("/orders", method="GET", key=b"")

            assert malformed.status == 200
            assert served.calls == {"listing": 3}

    run(scenario())


def test_paths_not_covered_ignore_the_key(backend: Backend, logs: LogCapture) -> None:
    async def scenario() -> None:
        async with backend.open() as store:
            served = serve(store, logs, paths=["/orders/"])

            await served.post("/other")
            await served.post("/other")
            await served.post("/orders/7", method="PATCH")
            below = await served.post("/orders/7", method="PATCH")

            assert served.calls == {"other": 2, "update": 1}
            assert below.header("idempotent-replayed") == "true"

    run(scenario())


def test_required_key_missing_answers_400(memory: Backend, logs: LogCapture) -> None:
    async def scenario() -> None:
        async with memory.open() as store:
            served = serve(store, logs, required=True)

            missing = await served.post(key=None)
            listing = await served.post("/orders", method="GET", key=None)
            keyed = await served.post()

            body = assert_envelope(missing, "BAD_REQUEST", 400)
            assert body["detail"] == "This endpoint needs an Idempotency-Key header."
            assert (listing.status, keyed.status) == (200, 201)
            assert served.calls == {"listing": 1, "orders": 1}

    run(scenario())


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        pytest.param(b"x" * 101, [(b"content-length", b"101")], id="declared"),
        pytest.param([b"x" * 60, b"x" * 41], [], id="streamed"),
    ],
)
def test_body_over_max_body_answers_413(
    memory: Backend,
    logs: LogCapture,
    body: bytes | list[bytes],
    headers: list[tuple[bytes, bytes]],
) -> None:
    async def scenario() -> None:
        async with memory.open() as store:
            served = serve(store, logs, max_body=100)

            refused = await served.post(body=body, headers=headers)
            unkeyed = await served.post(key=None, body=body, headers=headers)
            fitting = await served.post(body=b"x" * 100)

            payload = assert_envelope(refused, "PAYLOAD_TOO_LARGE", 413)
            assert payload["detail"] == (
                "A request with an Idempotency-Key may have a body of at most "
                "100 bytes."
            )
            assert (unkeyed.status, fitting.status) == (201, 201)
            assert served.calls == {"orders": 2}

    run(scenario())


def test_keys_are_scoped_by_identity(backend: Backend, logs: LogCapture) -> None:
    def caller(connection: HTTPConnection) -> str | None:
        return connection.headers.get("x-user")

    async def scenario() -> None:
        async with backend.open() as store:
            served = serve(store, logs, identity=caller)
            ann = [(b"x-user", b"ann")]
            bob = [(b"x-user", b"bob")]

            await served.post(headers=ann)
            for_bob = await served.post(headers=bob)
            anonymous = await served.post()
            for_ann = await served.post(headers=ann)

            assert for_bob.json()["order"] == 2
            assert for_bob.header("idempotent-replayed") is None
            assert anonymous.json()["order"] == 3
            assert for_ann.json()["order"] == 1
            assert for_ann.header("idempotent-replayed") == "true"

    run(scenario())


def test_middleware_refuses_a_ttl_that_is_not_positive() -> None:
    store = MemoryIdempotencyStore()

    with pytest.raises(ValueError, match=r"^ttl must be a positive number, not 0$"):
        IdempotencyMiddleware(FastAPI(), store, ttl=0)
    with pytest.raises(ValueError, match=r"^lock_ttl must be a positive number"):
        IdempotencyMiddleware(FastAPI(), store, lock_ttl=float("nan"))


# Several processes, and a store that fails


def test_two_middlewares_on_one_store_see_each_others_keys(
    backend: Backend, logs: LogCapture
) -> None:
    async def scenario() -> None:
        async with backend.open() as one, backend.open() as two:
            first = serve(one, logs)
            second = serve(two, logs)

            await first.post()
            replay = await second.post()
            running = asyncio.create_task(first.post("/slow"))
            await first.entered.wait()
            during = await second.post("/slow")
            first.gate.set()
            await running

            assert replay.json()["order"] == 1
            assert replay.header("idempotent-replayed") == "true"
            assert_envelope(during, "IDEMPOTENCY_IN_FLIGHT", 409)
            assert second.calls == {}

    run(scenario())


def test_unreachable_redis_answers_503_and_serves_requests_without_a_key(
    logs: LogCapture,
) -> None:
    async def scenario() -> None:
        client = redis.asyncio.Redis(
            port=free_port(), socket_connect_timeout=1, retry=Retry(NoBackoff(), 0)
        )
        try:
            served = serve(RedisIdempotencyStore(client), logs)

            keyed = await served.post()
            unkeyed = await served.post(key=None)
        finally:
            await client.aclose()

        body = assert_envelope(keyed, "DEPENDENCY_UNAVAILABLE", 503)
        assert body["retry"] == {"auto": True, "user": True, "after_ms": 5000}
        assert keyed.header("retry-after") == "5"
        assert unkeyed.status == 201
        assert served.calls == {"orders": 1}
        [error] = logs.events("http.exception")
        assert error["error.code"] == "DEPENDENCY_UNAVAILABLE"

    run(scenario())


class FailingSteps(MemoryIdempotencyStore):
    """A memory store whose steps after ``begin`` cannot reach it."""

    async def complete(
        self, key: str, hold: Begun, response: StoredResponse, ttl: float
    ) -> bool:
        raise IdempotencyStoreError("the store went away")

    async def release(self, key: str, hold: Begun) -> None:
        raise IdempotencyStoreError("the store went away")


@pytest.mark.parametrize(
    ("path", "status", "operation"),
    [
        pytest.param("/orders", 201, "complete", id="complete"),
        pytest.param("/flaky", 503, "release", id="release"),
    ],
)
def test_store_failure_after_the_app_ran_keeps_the_answer_and_warns(
    logs: LogCapture, path: str, status: int, operation: str
) -> None:
    async def scenario() -> None:
        served = serve(FailingSteps(), logs)

        sent = await served.post(path)

        assert sent.status == status
        [warning] = logs.events("idempotency.store_failed")
        assert (warning["level"], warning["operation"]) == ("warning", operation)
        assert warning["error.type"] == "IdempotencyStoreError"
        assert logs.events("http.exception") == []

    run(scenario())


# The stores themselves


RESPONSE = StoredResponse(
    201,
    ((b"content-type", b"application/octet-stream"), (b"x-name", b"caf\xe9")),
    b"\x00\xff\xfe binary",
)


def test_store_keeps_a_response_byte_for_byte(backend: Backend) -> None:
    async def scenario() -> None:
        async with backend.open() as store:
            hold = await store.begin("record", "fp", 60)
            assert isinstance(hold, Begun)

            kept = await store.complete("record", hold, RESPONSE, 60)

            assert kept is True
            assert await store.begin("record", "fp", 60) == Replay(RESPONSE)
            assert await store.begin("record", "other", 60) == Mismatch()

    run(scenario())


def test_store_begins_a_key_once(backend: Backend) -> None:
    async def scenario() -> None:
        async with backend.open() as store:
            results = await asyncio.gather(
                *(store.begin("record", "fp", 60) for _ in range(10))
            )

            assert sum(isinstance(r, Begun) for r in results) == 1
            assert sum(r == InFlight() for r in results) == 9

    run(scenario())


def test_store_ignores_a_lapsed_hold(backend: Backend) -> None:
    async def scenario() -> None:
        async with backend.open() as store:
            stale = await store.begin("record", "fp", 0.2)
            await backend.elapse(0.3)
            current = await store.begin("record", "fp", 60)
            assert isinstance(stale, Begun)
            assert isinstance(current, Begun)

            kept = await store.complete("record", stale, RESPONSE, 60)
            await store.release("record", stale)

            assert kept is False
            assert await store.begin("record", "fp", 60) == InFlight()
            assert await store.complete("record", current, RESPONSE, 60) is True

    run(scenario())


def test_store_release_frees_the_key(backend: Backend) -> None:
    async def scenario() -> None:
        async with backend.open() as store:
            hold = await store.begin("record", "fp", 60)
            assert isinstance(hold, Begun)

            await store.release("record", hold)

            assert isinstance(await store.begin("record", "other", 60), Begun)

    run(scenario())


def test_memory_store_drops_expired_entries() -> None:
    clock = FakeClock()
    store = MemoryIdempotencyStore(clock=clock)

    async def scenario() -> None:
        for name in ("a", "b", "c"):
            await store.begin(name, "fp", 1)
        clock.now += 2
        await store.begin("d", "fp", 1)

    run(scenario())

    assert list(store._entries) == ["d"]
