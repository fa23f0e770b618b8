"""The probes as ``install`` serves them: paths, status codes, bodies, who
sees what, and what the access log and the traces leave out."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import orjson
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)
from support import LogCapture, Sent, assert_valid, http_scope

import hiccup
from hiccup import TracingObserver
from hiccup.health import Health, Result, Status

TOKEN = "probe-secret-7f3a"
REMOTE = ("10.1.2.3", 41000)
NO_CLIENT = ("", 0)


class Switch:
    """A check whose answer the test sets."""

    def __init__(self, answer: Result | Status = Status.PASS) -> None:
        self.answer = answer
        self.calls = 0

    async def __call__(self) -> Result | Status:
        self.calls += 1
        return self.answer


def build(
    registry: Health,
    *,
    startup: Callable[[], Awaitable[None]] | None = None,
    **settings: Any,
) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if startup is not None:
            await startup()
        yield

    app = FastAPI(lifespan=lifespan)

    @app.middleware("http")
    async def login_required(request: Request, call_next: Any) -> Any:
        # An app's own gate must not stand between the probes and the
        # orchestrator.
        if request.headers.get("authorization") != "Bearer user":
            return JSONResponse({"detail": "log in"}, status_code=401)
        return await call_next(request)

    @app.get("/drafts")
    async def drafts() -> dict[str, str]:
        return {"ok": "yes"}

    options = {"service_name": "writer-api", "version": "1.4.2", **settings}
    return hiccup.install(app, hiccup.Settings(**options), health=registry)


def traced(app: FastAPI, provider: TracerProvider) -> FastAPI:
    """Trace the app's requests into ``provider``, as ``install`` does with
    tracing on."""
    settings = app.state.hiccup_settings
    build_stack = app.build_middleware_stack

    def build_traced() -> Any:
        stack = build_stack()
        stack.observers = (TracingObserver(settings, provider),)
        return stack

    app.build_middleware_stack = build_traced  # type: ignore[method-assign]
    return app


def logged(app: FastAPI, logs: LogCapture) -> FastAPI:
    """Send the app's lines to ``logs`` rather than standard output."""
    hiccup.configure_logging(app.state.hiccup_settings, stream=logs.stream)
    return app


@asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[None]:
    """Run the app's lifespan, as a server does, and wait for the first runs."""
    async with app.router.lifespan_context(app):
        health: Health | None = getattr(app.state, "hiccup_health", None)
        if health is not None:
            await health.refresh()
        yield


async def send(
    app: FastAPI,
    path: str,
    *,
    method: str = "GET",
    headers: tuple[tuple[bytes, bytes], ...] = (),
    query: bytes = b"",
    client: tuple[str, int] | None = None,
) -> Sent:
    scope = http_scope(method, path, headers, query)
    if client == NO_CLIENT:
        scope["client"] = None
    elif client is not None:
        scope["client"] = client
    messages: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def collect(message: dict[str, Any]) -> None:
        messages.append(message)

    await app(scope, receive, collect)
    start = next(m for m in messages if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in messages[1:])

    return Sent(start["status"], start["headers"], body, messages)


def probe(app: FastAPI, path: str, **options: Any) -> Sent:
    async def run() -> Sent:
        async with serving(app):
            return await send(app, path, **options)

    return asyncio.run(run())


@pytest.fixture
def health() -> Health:
    return Health()


@pytest.fixture
def db() -> Switch:
    return Switch()


@pytest.fixture
def cache() -> Switch:
    return Switch()


@pytest.fixture
def app(health: Health, db: Switch, cache: Switch) -> FastAPI:
    health.add("db", db, component="db", measurement="responseTime")
    health.add("cache", cache, critical=False)
    return build(health)


# Status codes and bodies


def test_every_probe_passes_once_the_app_has_started(app: FastAPI) -> None:
    for path in ("/livez", "/readyz", "/startupz"):
        sent = probe(app, path)

        assert sent.status == 200, path
        assert sent.json()["status"] == "pass", path
        assert sent.header("content-type") == "application/json"
        assert sent.header("cache-control") == "no-store"


def test_a_detailed_body_follows_the_health_draft(app: FastAPI, db: Switch) -> None:
    db.answer = Result(Status.PASS, observed_value=3.2, observed_unit="ms")

    body = probe(app, "/readyz").json()

    assert_valid("health", body)
    assert body["status"] == "pass"
    assert (body["serviceId"], body["releaseId"]) == ("writer-api", "1.4.2")
    assert sorted(body["checks"]) == ["cache", "db:responseTime", "startup"]
    [entry] = body["checks"]["db:responseTime"]
    assert entry["status"] == "pass"
    assert (entry["observedValue"], entry["observedUnit"]) == (3.2, "ms")
    assert entry["time"].endswith("Z")
    assert "output" not in entry
    assert "output" not in body


def test_a_critical_failure_is_a_503_with_its_output(app: FastAPI, db: Switch) -> None:
    db.answer = Result(Status.FAIL, output="connection refused")

    sent = probe(app, "/readyz")

    assert sent.status == 503
    body = sent.json()
    assert_valid("health", body)
    assert body["status"] == "fail"
    assert body["output"] == "failed: db"
    [entry] = body["checks"]["db:responseTime"]
    assert (entry["status"], entry["output"]) == ("fail", "connection refused")


def test_a_failure_that_is_not_critical_warns_with_a_200(
    app: FastAPI, cache: Switch
) -> None:
    cache.answer = Result(Status.FAIL, output="timeout")

    sent = probe(app, "/readyz")

    assert sent.status == 200
    assert sent.json()["status"] == "warn"
    assert sent.json()["output"] == "failed: cache"


def test_a_check_that_raises_fails_the_probe_and_never_answers_500(
    health: Health,
) -> None:
    async def broken() -> None:
        raise RuntimeError("pool closed")

    health.add("db", broken)
    sent = probe(build(health), "/readyz")

    assert sent.status == 503
    [entry] = sent.json()["checks"]["db"]
    assert entry["output"] == "RuntimeError: pool closed"


def test_health_json_is_served_to_a_caller_that_asks_for_it(app: FastAPI) -> None:
    accept = (b"accept", b"application/health+json")

    sent = probe(app, "/readyz", headers=(accept,))

    assert sent.header("content-type") == "application/health+json"
    assert sent.json()["status"] == "pass"


def test_liveness_never_asks_a_dependency(app: FastAPI, db: Switch) -> None:
    db.answer = Status.FAIL

    sent = probe(app, "/livez")

    assert sent.status == 200
    assert sorted(sent.json()["checks"]) == ["event_loop:lag"]


def test_the_probes_pass_by_the_apps_own_middleware(app: FastAPI) -> None:
    assert probe(app, "/drafts").status == 401
    assert probe(app, "/readyz").status == 200


# Startup


def test_readiness_and_startup_fail_until_the_lifespan_has_started(
    health: Health,
) -> None:
    release = asyncio.Event()
    seen: dict[str, int] = {}

    async def load_model() -> None:
        await release.wait()

    app = build(health, startup=load_model)

    async def run() -> None:
        async with app.router.lifespan_context(app):
            pass

    async def scenario() -> None:
        lifespan = asyncio.create_task(run())
        await asyncio.sleep(0.05)
        for path in ("/startupz", "/readyz", "/livez"):
            seen[path] = (await send(app, path)).status
        release.set()
        await lifespan

    asyncio.run(scenario())

    assert seen == {"/startupz": 503, "/readyz": 503, "/livez": 200}


# Who sees what


def test_a_remote_caller_gets_the_status_alone(app: FastAPI, db: Switch) -> None:
    db.answer = Result(Status.FAIL, output="connection refused")

    sent = probe(app, "/readyz", client=REMOTE)

    assert sent.status == 503
    assert sent.json() == {"status": "fail"}
    assert b"refused" not in sent.body


def test_a_caller_forwarded_to_loopback_is_remote(app: FastAPI) -> None:
    forwarded = (b"x-forwarded-for", b"203.0.113.9")

    sent = probe(app, "/readyz", headers=(forwarded,))

    assert sent.json() == {"status": "pass"}


def test_the_bearer_token_shows_the_details_to_a_remote_caller(
    health: Health, db: Switch
) -> None:
    health.add("db", db)
    app = build(health, health_token=TOKEN)
    bearer = (b"authorization", f"Bearer {TOKEN}".encode())

    sent = probe(app, "/readyz", headers=(bearer,), client=REMOTE)

    assert sorted(sent.json()["checks"]) == ["db", "startup"]


@pytest.mark.parametrize(
    "authorization",
    [b"Bearer wrong", b"Basic " + TOKEN.encode(), TOKEN.encode(), b"Bearer"],
)
def test_anything_but_the_token_shows_the_status_alone(
    health: Health, db: Switch, authorization: bytes
) -> None:
    health.add("db", db)
    app = build(health, health_token=TOKEN)

    sent = probe(
        app, "/readyz", headers=((b"authorization", authorization),), client=REMOTE
    )

    assert sent.json() == {"status": "pass"}


def test_loopback_can_be_refused_the_details(health: Health, db: Switch) -> None:
    health.add("db", db)
    app = build(health, health_details_on_loopback=False)

    assert probe(app, "/readyz").json() == {"status": "pass"}


# Verbose, exclude, one check


def test_verbose_lists_each_check_for_people(
    app: FastAPI, db: Switch, cache: Switch
) -> None:
    db.answer = Result(Status.FAIL, output="timeout")
    cache.answer = Result(Status.WARN, output="slow")

    sent = probe(app, "/readyz", query=b"verbose")

    assert sent.status == 503
    assert sent.header("content-type") == "text/plain; charset=utf-8"
    assert sent.body.decode() == (
        "[+]startup ok\n"
        "[-]db failed: timeout\n"
        "[+]cache warn: slow\n"
        "readyz check failed\n"
    )


def test_verbose_shows_a_remote_caller_the_verdict_alone(
    app: FastAPI, db: Switch
) -> None:
    db.answer = Result(Status.FAIL, output="timeout")

    sent = probe(app, "/readyz", query=b"verbose=1", client=REMOTE)

    assert sent.body.decode() == "readyz check failed\n"


def test_verbose_false_is_json(app: FastAPI) -> None:
    assert probe(app, "/readyz", query=b"verbose=false").json()["status"] == "pass"


def test_excluded_checks_are_left_out_and_listed(app: FastAPI, db: Switch) -> None:
    db.answer = Status.FAIL

    sent = probe(app, "/readyz", query=b"verbose&exclude=db&exclude=cache&exclude=nope")

    assert sent.status == 200
    assert sent.body.decode() == (
        "[+]startup ok\n[+]db excluded\n[+]cache excluded\nreadyz check passed\n"
    )


def test_one_check_has_a_path_of_its_own(app: FastAPI, db: Switch) -> None:
    db.answer = Result(Status.FAIL, output="timeout")

    failing = probe(app, "/readyz/db")
    passing = probe(app, "/readyz/cache")

    assert failing.status == 503
    assert sorted(failing.json()["checks"]) == ["db:responseTime"]
    assert passing.status == 200
    assert sorted(passing.json()["checks"]) == ["cache"]


@pytest.mark.parametrize(
    "path", ["/readyz/nope", "/livez/db", "/readyz/db/more", "/readyz/", "/readyzz"]
)
def test_a_path_that_names_no_check_of_the_probe_is_not_found(
    app: FastAPI, path: str
) -> None:
    sent = probe(app, path)

    assert sent.status in {401, 404}
    if path.startswith(("/readyz/", "/livez/")):
        assert sent.status == 404
        assert sent.json()["code"] == "NOT_FOUND"


def test_head_answers_the_status_and_length_without_a_body(
    app: FastAPI, db: Switch
) -> None:
    db.answer = Status.FAIL
    whole = probe(app, "/readyz")

    sent = probe(app, "/readyz", method="HEAD")

    assert sent.status == 503
    assert sent.body == b""
    assert sent.header("content-length") == str(len(whole.body))


def test_other_methods_are_not_allowed(app: FastAPI) -> None:
    sent = probe(app, "/readyz", method="POST")

    assert sent.status == 405
    assert sent.header("allow") == "GET, HEAD"
    assert sent.json()["code"] == "METHOD_NOT_ALLOWED"


def test_a_hanging_dependency_never_holds_up_a_probe(health: Health) -> None:
    started = asyncio.Event()

    async def hangs() -> None:
        started.set()
        await asyncio.Event().wait()

    health.add("db", hangs, timeout=5.0, interval=10.0)
    app = build(health)

    async def scenario() -> tuple[Sent, bool]:
        async with app.router.lifespan_context(app):
            await started.wait()
            # The check is still waiting on its dependency: the probe reads
            # that it has no result yet.
            sent = await send(app, "/readyz")
            return sent, health.latest("db") is None

    sent, unanswered = asyncio.run(scenario())

    assert unanswered
    assert sent.status == 503
    [entry] = sent.json()["checks"]["db"]
    assert entry["output"] == "not checked yet"


# Logs and traces


def test_probes_are_not_access_logged_by_default(
    app: FastAPI, logs: LogCapture
) -> None:
    probe(app, "/readyz")
    probe(app, "/readyz/db")
    probe(app, "/drafts", headers=((b"authorization", b"Bearer user"),))

    paths = [line["http.route"] for line in logs.events("http.request")]
    assert paths == ["/drafts"]


def test_probes_are_access_logged_when_asked(health: Health, logs: LogCapture) -> None:
    app = logged(build(health, log_probes=True), logs)

    probe(app, "/readyz")
    probe(app, "/livez/event_loop")

    routes = [line["http.route"] for line in logs.events("http.request")]
    assert routes == ["/readyz", "/livez/{name}"]


def test_probes_are_not_traced_by_default(
    health: Health, provider: TracerProvider, spans: InMemorySpanExporter
) -> None:
    app = traced(build(health), provider)

    probe(app, "/readyz")
    probe(app, "/startupz/startup")
    probe(app, "/drafts")

    assert [span.name for span in spans.get_finished_spans()] == ["GET"]


def test_probes_are_traced_when_asked(
    health: Health, provider: TracerProvider, spans: InMemorySpanExporter
) -> None:
    app = traced(build(health, trace_probes=True), provider)

    probe(app, "/readyz")

    assert [span.name for span in spans.get_finished_spans()] == ["GET /readyz"]


def test_without_health_the_probe_paths_are_the_apps(health: Health) -> None:
    app = build(health, health=False)

    sent = probe(app, "/readyz", headers=((b"authorization", b"Bearer user"),))

    assert sent.status == 404
    assert not hasattr(app.state, "hiccup_health")
    assert orjson.loads(sent.body)["code"] == "NOT_FOUND"


@pytest.mark.parametrize(
    ("client", "detailed"),
    [(("::1", 50000), True), (("testclient", 50000), False), (None, False)],
)
def test_only_a_loopback_address_counts_as_loopback(
    app: FastAPI, client: tuple[str, int] | None, detailed: bool
) -> None:
    # A server that knows no peer leaves the client out of the scope.
    body = probe(app, "/readyz", client=client or NO_CLIENT).json()

    assert ("checks" in body) is detailed


def test_a_check_named_apart_from_its_component_is_identified(
    health: Health,
) -> None:
    health.add("db-replica", Switch(), component="db", measurement="responseTime")
    health.add("db-primary", Switch(), component="db", measurement="responseTime")

    body = probe(build(health), "/readyz").json()

    assert_valid("health", body)
    ids = [entry["componentId"] for entry in body["checks"]["db:responseTime"]]
    assert ids == ["db-replica", "db-primary"]
