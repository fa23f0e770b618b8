"""Idempotency-Key support for an app's own unsafe endpoints.

A client that sends ``Idempotency-Key`` on a POST or PATCH asks the server to
act on that request at most once, however often it is resent: after a
timeout, a dropped connection or a double click. This follows the IETF
httpapi draft "The Idempotency-Key HTTP Header Field":

- the first request with a key runs and its response is kept for a while;
- a repeat with the same key and the same request gets that response again,
  marked ``Idempotent-Replayed: true``, and the app does not run again;
- a repeat while the first is still running answers 409
  ``IDEMPOTENCY_IN_FLIGHT``;
- the same key with a different request answers 422
  ``IDEMPOTENCY_KEY_REUSED``;
- a key that cannot be read, or a missing key where one is required,
  answers 400 ``BAD_REQUEST``.

The answers are ``hiccup.Problem`` values raised from the middleware; the
``HiccupMiddleware`` that ``hiccup.install`` puts around the app turns them
into envelopes.
"""

from __future__ import annotations

import hashlib
import heapq
import secrets
import threading
import time
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

import orjson
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .._codes import Code
from .._exceptions import HiccupError
from .._logging import get_logger
from .._problem import Problem

__all__ = [
    "DEFAULT_LOCK_TTL",
    "DEFAULT_MAX_BODY",
    "DEFAULT_TTL",
    "MAX_KEY_LENGTH",
    "BeginResult",
    "Begun",
    "IdempotencyMiddleware",
    "IdempotencyStore",
    "IdempotencyStoreError",
    "InFlight",
    "MemoryIdempotencyStore",
    "Mismatch",
    "RedisIdempotencyStore",
    "Replay",
    "StoredResponse",
    "parse_idempotency_key",
]

#: How long a completed response is kept and replayed, in seconds: a day, so
#: that a client retrying with backoff over an outage still finds it.
DEFAULT_TTL: Final = 86400.0
#: How long a request may hold its key before the hold lapses, in seconds.
DEFAULT_LOCK_TTL: Final = 60.0
#: The largest request body fingerprinted, in bytes.
DEFAULT_MAX_BODY: Final = 1024 * 1024
#: The longest key accepted, in characters.
MAX_KEY_LENGTH: Final = 255

_HEADER: Final = b"idempotency-key"
_REPLAYED: Final = (b"idempotent-replayed", b"true")
#: Headers that describe one connection, not the response (RFC 9110, 7.6.1);
#: the server that sends a replay sets its own.
_HOP_BY_HOP: Final = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    }
)

_log = get_logger("hiccup.idempotency")


#: Statuses that tell the client to send the same request again later: the
#: app did not act on it, so the retry must reach the app.
_COME_BACK_LATER: Final = frozenset({408, 425, 429})


class IdempotencyStoreError(HiccupError):
    """Raised by a store when it cannot be reached or fails an operation."""


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """A response as the app sent it, kept to be sent again."""

    status: int
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes


@dataclass(frozen=True, slots=True)
class Begun:
    """The key was free and is now held by this request.

    ``token`` names the hold: only its owner may complete or release it, so
    a request whose hold lapsed cannot overwrite the one that took over.
    """

    token: str


@dataclass(frozen=True, slots=True)
class Replay:
    """A request with this key and fingerprint completed: send its response."""

    response: StoredResponse


@dataclass(frozen=True, slots=True)
class InFlight:
    """A request with this key and fingerprint is still running."""


@dataclass(frozen=True, slots=True)
class Mismatch:
    """The key was used before for a request with another fingerprint."""


BeginResult = Begun | Replay | InFlight | Mismatch


class IdempotencyStore(Protocol):
    """Where keys, their holds and their responses live.

    Each method is one atomic step, also when several processes share the
    store: two requests that begin the same key at once never both get
    ``Begun``. Methods raise ``IdempotencyStoreError`` when the store cannot
    answer.
    """

    async def begin(self, key: str, fingerprint: str, lock_ttl: float) -> BeginResult:
        """Hold ``key`` for ``lock_ttl`` seconds if it is free, else say why not.

        A key stays held until it is completed or released, or the hold
        lapses. A different fingerprint gives ``Mismatch`` whether the key is
        held or completed.
        """
        ...

    async def complete(
        self, key: str, hold: Begun, response: StoredResponse, ttl: float
    ) -> bool:
        """Keep ``response`` for ``key`` for ``ttl`` seconds, if ``hold`` is current.

        Returns:
            Whether the response was kept; not when the hold had lapsed.
        """
        ...

    async def release(self, key: str, hold: Begun) -> None:
        """Forget ``key`` if ``hold`` is current, so that a retry runs again."""
        ...


def parse_idempotency_key(value: bytes) -> str:
    """Return the key an ``Idempotency-Key`` header value holds.

    The draft defines the field as a Structured Fields string (RFC 8941),
    ``"8e03978e-40d5"``, with ``\\"`` and ``\\\\`` as its only escapes. Many
    clients send the key bare, unquoted, and that is accepted too: a value
    that does not start with a quote is the key itself. Either way the key is
    printable ASCII, 1 to 255 characters long. Structured Fields parameters
    after the string (``"abc";a=1``) are refused: the draft defines none.

    Raises:
        Problem: ``BAD_REQUEST``, with a detail that says what is wrong and
            does not repeat the value.
    """
    text = value.strip(b" \t")
    if any(byte < 0x20 or byte > 0x7E for byte in text):
        raise _malformed("holds a character that is not printable ASCII")
    key = _sf_string(text) if text.startswith(b'"') else text.decode("ascii")
    if not key:
        raise _malformed("is empty")
    if len(key) > MAX_KEY_LENGTH:
        raise _malformed(f"is longer than {MAX_KEY_LENGTH} characters")

    return key


def _sf_string(text: bytes) -> str:
    """Decode a Structured Fields string, quotes included, that is all of ``text``."""
    chars = bytearray()
    escaped = False
    for index, byte in enumerate(text[1:], start=1):
        if escaped:
            if byte not in b'"\\':
                raise _malformed(
                    "escapes a character other than a quote or a backslash"
                )
            chars.append(byte)
            escaped = False
        elif byte == ord("\\"):
            escaped = True
        elif byte == ord('"'):
            if index != len(text) - 1:
                raise _malformed("has more after its quoted string")
            return chars.decode("ascii")
        else:
            chars.append(byte)
    raise _malformed("opens a quoted string and does not close it")


def _malformed(reason: str) -> Problem:
    return Problem(Code.BAD_REQUEST, detail=f"The Idempotency-Key header {reason}.")


class IdempotencyMiddleware:
    """Run each request with an ``Idempotency-Key`` at most once per key.

        app.add_middleware(IdempotencyMiddleware, store=MemoryIdempotencyStore())
        hiccup.install(app)

    Requests of the covered ``methods`` and ``paths`` that carry a key are
    fingerprinted: method, path, query string and a SHA-256 of the body.
    A key is scoped by method and path, and by the caller when ``identity``
    is given, so that one user can never be sent another's response by
    guessing their key; without ``identity`` every caller shares one space
    of keys. ``identity`` runs before the app, on the request's connection:
    it reads what outer middleware put into the scope (``scope["user"]``) or
    the request's headers, and returns ``None`` for an anonymous caller.

    The first request holds its key while the app runs. Its response passes
    through to the client as it is sent, chunk by chunk, and a copy of it is
    kept for ``ttl`` seconds when its status is below 500. A response of 500
    or more, one that asks the client to come back later (408, 425, 429),
    an exception, or a response the app never finishes releases the key, so
    that the client may retry: nothing is kept that the client could not
    have relied on, and a retry after a Retry-After meets the app, not the
    refusal it waited out. Hop-by-hop headers are not kept. A response sent
    some other way than as a body (``http.response.pathsend``) is not kept
    either. Responses are kept whole, so streams without end (server-sent
    events) do not belong under this middleware: leave them out of
    ``paths``.

    The hold lapses after ``lock_ttl`` seconds, so that a process that dies
    mid-request does not block its key until ``ttl`` runs out; a request
    that runs longer than ``lock_ttl`` loses that protection, and a repeat
    after the hold lapsed runs the app a second time. Choose a ``lock_ttl``
    above the longest time a request may take.

    The body is read before the app runs, since the fingerprint must be
    known first. A body larger than ``max_body`` bytes is refused with 413
    ``PAYLOAD_TOO_LARGE`` rather than served without the guarantee: the
    client asked for at most once, and silently running a retry twice
    would break that.

    When the store cannot be reached, a request with a key answers 503
    ``DEPENDENCY_UNAVAILABLE``, which tells the client to retry the same
    key later, rather than risking running it twice. When only keeping or
    releasing a response fails, the client already has its response: the
    failure is logged as a warning (``idempotency.store_failed``) and the
    hold lapses after ``lock_ttl``.

    Args:
        store: Where keys and responses live; ``RedisIdempotencyStore`` for
            several processes.
        methods: The methods covered; others pass through untouched.
        ttl: How long a response is replayed, in seconds.
        lock_ttl: How long a request may hold its key, in seconds.
        required: Whether a covered request without a key answers 400.
        max_body: The largest body accepted with a key, in bytes.
        paths: The paths covered, each with everything below it
            (``/orders`` covers ``/orders/1`` but not ``/orders-old``); all
            paths when ``None``.
        identity: Return who is calling, to scope keys by caller.
    """

    def __init__(
        self,
        app: ASGIApp,
        store: IdempotencyStore,
        *,
        methods: Collection[str] = ("POST", "PATCH"),
        ttl: float = DEFAULT_TTL,
        lock_ttl: float = DEFAULT_LOCK_TTL,
        required: bool = False,
        max_body: int = DEFAULT_MAX_BODY,
        paths: Collection[str] | None = None,
        identity: Callable[[HTTPConnection], str | None] | None = None,
    ) -> None:
        for name, seconds in (("ttl", ttl), ("lock_ttl", lock_ttl)):
            if not seconds > 0:
                raise ValueError(f"{name} must be a positive number, not {seconds!r}")
        if max_body < 0:
            raise ValueError(f"max_body must be 0 or more, not {max_body!r}")
        self.app = app
        self.store = store
        self.methods = frozenset(method.upper() for method in methods)
        self.ttl = ttl
        self.lock_ttl = lock_ttl
        self.required = required
        self.max_body = max_body
        self.paths = None if paths is None else tuple(p.rstrip("/") for p in paths)
        self.identity = identity

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self._covers(scope):
            await self.app(scope, receive, send)
            return

        key = _key_of(scope)
        if key is None:
            if self.required:
                raise Problem(
                    Code.BAD_REQUEST,
                    detail="This endpoint needs an Idempotency-Key header.",
                )
            await self.app(scope, receive, send)
            return

        body = await self._read_body(scope, receive)
        if body is None:
            return  # the client left before it finished sending
        record = self._record_key(scope, key)
        result = await self._begin(record, _fingerprint(scope, body))
        match result:
            case Begun():
                await self._run(scope, _replaying(body, receive), send, record, result)
            case Replay(response):
                await _replay(response, send)
            case InFlight():
                raise Problem(
                    Code.IDEMPOTENCY_IN_FLIGHT,
                    detail="A request with this Idempotency-Key is still running.",
                )
            case Mismatch():
                raise Problem(
                    Code.IDEMPOTENCY_KEY_REUSED,
                    detail="This Idempotency-Key was sent before with another request.",
                )

    def _covers(self, scope: Scope) -> bool:
        if scope["method"] not in self.methods:
            return False
        if self.paths is None:
            return True
        path: str = scope["path"]

        return any(path == p or path.startswith(p + "/") for p in self.paths)

    async def _read_body(self, scope: Scope, receive: Receive) -> bytes | None:
        """Return the whole request body, or ``None`` if the client left."""
        declared = _header(scope, b"content-length")
        if (
            declared is not None
            and declared.isdigit()
            and int(declared) > self.max_body
        ):
            raise Problem(Code.PAYLOAD_TOO_LARGE, detail=self._too_large())
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                raise Problem(Code.PAYLOAD_TOO_LARGE, detail=self._too_large())
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    def _too_large(self) -> str:
        return (
            "A request with an Idempotency-Key may have a body of at most "
            f"{self.max_body} bytes."
        )

    def _record_key(self, scope: Scope, key: str) -> str:
        """Return the key scoped by caller, method and path, as the store sees it.

        It is hashed so that whatever the caller's identity holds (an e-mail
        address, say) never reaches the store.
        """
        caller = None if self.identity is None else self.identity(HTTPConnection(scope))
        scoped = orjson.dumps([caller, scope["method"], scope["path"], key])

        return hashlib.sha256(scoped).hexdigest()

    async def _begin(self, record: str, fingerprint: str) -> BeginResult:
        try:
            return await self.store.begin(record, fingerprint, self.lock_ttl)
        except IdempotencyStoreError as exc:
            raise Problem(
                Code.DEPENDENCY_UNAVAILABLE,
                detail="The store of idempotency keys cannot be reached.",
            ) from exc

    async def _run(
        self, scope: Scope, receive: Receive, send: Send, record: str, hold: Begun
    ) -> None:
        """Run the app, passing its response through, then keep or release it."""
        status = 0
        headers: list[tuple[bytes, bytes]] = []
        chunks: list[bytes] = []
        settled = False

        async def capture(message: Message) -> None:
            nonlocal status, headers, settled
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", ()))
            elif message["type"] == "http.response.body" and not settled:
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    # Settled before the last chunk leaves, so that a client
                    # retrying the moment it has the response finds it kept.
                    settled = True
                    response = StoredResponse(status, _kept(headers), b"".join(chunks))
                    await self._settle(record, hold, response)
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            if not settled:
                await self._store_step("release", self.store.release(record, hold))

    async def _settle(self, record: str, hold: Begun, response: StoredResponse) -> None:
        if response.status >= 500 or response.status in _COME_BACK_LATER:
            await self._store_step("release", self.store.release(record, hold))
            return
        step = self.store.complete(record, hold, response, self.ttl)
        await self._store_step("complete", step)

    async def _store_step(self, operation: str, step: Awaitable[object]) -> None:
        """Await a store step whose failure must not change the response."""
        try:
            await step
        except IdempotencyStoreError as exc:
            _log.warning(
                "idempotency.store_failed",
                operation=operation,
                **{"error.type": type(exc.__cause__ or exc).__qualname__},
            )


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)

    return None


def _key_of(scope: Scope) -> str | None:
    """Return the request's key, ``None`` without one."""
    values = [value for name, value in scope["headers"] if name == _HEADER]
    if not values:
        return None
    if len(values) > 1:
        raise Problem(
            Code.BAD_REQUEST,
            detail="The request has more than one Idempotency-Key header.",
        )

    return parse_idempotency_key(values[0])


def _fingerprint(scope: Scope, body: bytes) -> str:
    digest = hashlib.sha256()
    # A JSON array ends where it ends: no body can pass for part of the query.
    digest.update(
        orjson.dumps(
            [scope["method"], scope["path"], scope["query_string"].decode("latin-1")]
        )
    )
    digest.update(body)

    return digest.hexdigest()


def _replaying(body: bytes, receive: Receive) -> Receive:
    """Return a ``receive`` that gives the app the body read already."""
    pending = True

    async def replay() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _kept(headers: Sequence[tuple[bytes, bytes]]) -> tuple[tuple[bytes, bytes], ...]:
    named: set[bytes] = set()
    for name, value in headers:
        if name.lower() == b"connection":
            named.update(part.strip().lower() for part in value.split(b","))
    dropped = _HOP_BY_HOP | named

    return tuple(
        (bytes(name), bytes(value))
        for name, value in headers
        if name.lower() not in dropped
    )


async def _replay(response: StoredResponse, send: Send) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": response.status,
            "headers": [*response.headers, _REPLAYED],
        }
    )
    await send({"type": "http.response.body", "body": response.body})


@dataclass(slots=True)
class _Entry:
    fingerprint: str
    expires_at: float
    token: str | None
    response: StoredResponse | None = None


class MemoryIdempotencyStore:
    """Keep keys in this process's memory, for one process or for tests.

    Each method runs without awaiting, so each is atomic on the event loop; a
    lock makes them atomic across threads as well. Entries past their expiry
    are dropped as later calls come, oldest first.

    Args:
        clock: Seconds from any fixed point; ``time.monotonic`` unless a
            test needs to move time on.
    """

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._entries: dict[str, _Entry] = {}
        self._expiries: list[tuple[float, str]] = []
        self._lock = threading.Lock()

    async def begin(self, key: str, fingerprint: str, lock_ttl: float) -> BeginResult:
        """Hold ``key`` if it is free, else say why not (see ``IdempotencyStore``)."""
        with self._lock:
            now = self._expire()
            entry = self._entries.get(key)
            if entry is None:
                hold = Begun(secrets.token_hex(16))
                self._put(key, _Entry(fingerprint, now + lock_ttl, hold.token))
                return hold
            if entry.fingerprint != fingerprint:
                return Mismatch()
            if entry.response is None:
                return InFlight()

            return Replay(entry.response)

    async def complete(
        self, key: str, hold: Begun, response: StoredResponse, ttl: float
    ) -> bool:
        """Keep ``response`` if ``hold`` is current (see ``IdempotencyStore``)."""
        with self._lock:
            now = self._expire()
            entry = self._entries.get(key)
            if entry is None or entry.token != hold.token:
                return False
            self._put(key, _Entry(entry.fingerprint, now + ttl, None, response))

            return True

    async def release(self, key: str, hold: Begun) -> None:
        """Forget ``key`` if ``hold`` is current (see ``IdempotencyStore``)."""
        with self._lock:
            self._expire()
            entry = self._entries.get(key)
            if entry is not None and entry.token == hold.token:
                del self._entries[key]

    def _put(self, key: str, entry: _Entry) -> None:
        self._entries[key] = entry
        heapq.heappush(self._expiries, (entry.expires_at, key))

    def _expire(self) -> float:
        """Drop the entries whose time is up; return the time now."""
        now = self.clock()
        while self._expiries and self._expiries[0][0] <= now:
            expires_at, key = heapq.heappop(self._expiries)
            entry = self._entries.get(key)
            # An entry kept again since has a later expiry of its own.
            if entry is not None and entry.expires_at == expires_at:
                del self._entries[key]

        return now


class _Script(Protocol):
    def __call__(
        self, keys: Sequence[str], args: Sequence[str | bytes | int]
    ) -> Awaitable[Any]: ...


class RedisClient(Protocol):
    """What ``RedisIdempotencyStore`` needs of a ``redis.asyncio`` client."""

    def register_script(self, script: str) -> _Script: ...


# A record is a hash: "fingerprint" always, "token" while held, "head" and
# "body" once completed.
_BEGIN: Final = """
local found = redis.call('HMGET', KEYS[1], 'fingerprint', 'head', 'body')
if not found[1] then
    redis.call('HSET', KEYS[1], 'fingerprint', ARGV[1], 'token', ARGV[2])
    redis.call('PEXPIRE', KEYS[1], ARGV[3])
    return {'begun'}
end
if found[1] ~= ARGV[1] then
    return {'mismatch'}
end
if not found[2] then
    return {'in_flight'}
end
return {'replay', found[2], found[3]}
"""
_COMPLETE: Final = """
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[1] then
    return 0
end
redis.call('HDEL', KEYS[1], 'token')
redis.call('HSET', KEYS[1], 'head', ARGV[2], 'body', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
"""
_RELEASE: Final = """
if redis.call('HGET', KEYS[1], 'token') == ARGV[1] then
    redis.call('DEL', KEYS[1])
end
return 0
"""


class RedisIdempotencyStore:
    """Keep keys in Redis, shared by every process of an app.

        store = RedisIdempotencyStore(
            redis.asyncio.from_url(url, socket_timeout=1, socket_connect_timeout=1)
        )

    Each operation is one Lua script, so each is atomic however many
    processes share the server. Holds and responses expire by Redis's own
    ``PEXPIRE``: a hold after ``lock_ttl``, a response after ``ttl``. Each
    key is a Redis hash, where a kept response is its status and headers as
    orjson beside its body as raw bytes.

    The client belongs to the app, which closes it. Give it socket timeouts:
    without them a Redis that hangs makes every request with a key hang too.
    Any Redis error, a refused connection among them, is raised as
    ``IdempotencyStoreError``.

    Args:
        client: A ``redis.asyncio.Redis`` (or cluster) client; it must not
            decode responses.
        prefix: Put before every key, to keep them apart from the app's own.
    """

    def __init__(
        self, client: RedisClient, prefix: str = "hiccup:idempotency:"
    ) -> None:
        # redis is an optional extra, installed only by apps that use this
        # store; type checkers without it see the import as missing.
        from redis.exceptions import RedisError  # type: ignore[import-not-found, unused-ignore]  # noqa: PLC0415

        self.prefix = prefix
        self._errors: tuple[type[Exception], ...] = (RedisError, OSError)
        self._begin = client.register_script(_BEGIN)
        self._complete = client.register_script(_COMPLETE)
        self._release = client.register_script(_RELEASE)

    async def begin(self, key: str, fingerprint: str, lock_ttl: float) -> BeginResult:
        """Hold ``key`` if it is free, else say why not (see ``IdempotencyStore``)."""
        token = secrets.token_hex(16)
        args: list[str | bytes | int] = [fingerprint, token, _milliseconds(lock_ttl)]
        answer = await self._call(self._begin, key, args)
        match answer[0]:
            case b"begun":
                return Begun(token)
            case b"mismatch":
                return Mismatch()
            case b"in_flight":
                return InFlight()

        return Replay(_unpack(answer[1], answer[2]))

    async def complete(
        self, key: str, hold: Begun, response: StoredResponse, ttl: float
    ) -> bool:
        """Keep ``response`` if ``hold`` is current (see ``IdempotencyStore``)."""
        head = orjson.dumps(
            {
                "status": response.status,
                "headers": [
                    [name.decode("latin-1"), value.decode("latin-1")]
                    for name, value in response.headers
                ],
            }
        )
        args: list[str | bytes | int] = [
            hold.token,
            head,
            response.body,
            _milliseconds(ttl),
        ]

        return bool(await self._call(self._complete, key, args))

    async def release(self, key: str, hold: Begun) -> None:
        """Forget ``key`` if ``hold`` is current (see ``IdempotencyStore``)."""
        await self._call(self._release, key, [hold.token])

    async def _call(
        self, script: _Script, key: str, args: Sequence[str | bytes | int]
    ) -> Any:
        try:
            return await script([self.prefix + key], args)
        except self._errors as exc:
            raise IdempotencyStoreError(
                f"Redis failed to run an idempotency step: {exc}"
            ) from exc


def _milliseconds(seconds: float) -> int:
    return max(1, round(seconds * 1000))


def _unpack(head: bytes, body: bytes) -> StoredResponse:
    fields = orjson.loads(head)
    headers = tuple(
        (name.encode("latin-1"), value.encode("latin-1"))
        for name, value in fields["headers"]
    )

    return StoredResponse(fields["status"], headers, body)
