"""Error reporting from an app served by uvicorn, to an ingest on loopback."""

from __future__ import annotations

from pathlib import Path

import httpx2
import pytest
from sentry_ingest import SentryIngest
from servers import uvicorn_server


def test_under_uvicorn_each_failure_is_one_event(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with SentryIngest() as ingest:
        monkeypatch.setenv("SENTRY_DSN", ingest.dsn)
        with (
            uvicorn_server("sentry_app:create", tmp_path / "output.jsonl") as server,
            httpx2.Client(base_url=server.url, timeout=30) as client,
        ):
            boom = client.get("/boom", headers={"X-Request-ID": "boom-1"})
            ok = client.get("/ok")
            # The middleware raises a stream cut short again, and uvicorn
            # logs it: that must not be a second event.
            with (
                pytest.raises(httpx2.RemoteProtocolError),
                client.stream(
                    "GET", "/stream", headers={"X-Request-ID": "cut-1"}
                ) as response,
            ):
                b"".join(response.iter_bytes())
        # The server has stopped, and sent its queued events on the way out.
        events = ingest.events()

    assert (boom.status_code, ok.status_code) == (500, 200)
    assert sorted(
        (e["tags"]["request_id"], e["tags"]["route"], e["tags"]["error.code"])
        for e in events
    ) == [("boom-1", "/boom", "INTERNAL"), ("cut-1", "/stream", "INTERNAL")]
    assert {e["release"] for e in events} == {"1.4.2"}
