from __future__ import annotations

import io
from collections.abc import Callable, Iterator

import pytest
from support import LogCapture

import hiccup


@pytest.fixture
def logs() -> Iterator[LogCapture]:
    """Configure hiccup's logging into memory, JSON lines, for one test."""
    capture = LogCapture()
    hiccup.configure_logging(
        hiccup.Settings(service_name="tests"), stream=capture.stream
    )
    yield capture
    hiccup.configure_logging(hiccup.Settings(service_name="tests"), stream=io.BytesIO())


@pytest.fixture
def make_logs() -> Iterator[Callable[[hiccup.Settings], LogCapture]]:
    """Return a factory configuring logging with given settings into memory."""

    def configure(settings: hiccup.Settings) -> LogCapture:
        capture = LogCapture()
        hiccup.configure_logging(settings, stream=capture.stream)
        return capture

    yield configure
    hiccup.configure_logging(hiccup.Settings(service_name="tests"), stream=io.BytesIO())
