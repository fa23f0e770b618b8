from __future__ import annotations

from collections.abc import Iterator

import pytest
from otlp import Receiver, otlp_receiver
from servers import Server, uvicorn_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Serve ``served_app`` under uvicorn for the tests of one module."""
    output = tmp_path_factory.mktemp("server") / "output.jsonl"
    with uvicorn_server("served_app:create", output) as running:
        yield running


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    """An OTLP/HTTP receiver on loopback for the servers of one module."""
    with otlp_receiver() as running:
        yield running
