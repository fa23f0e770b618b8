"""Drain on SIGTERM: fail readiness first, let the server stop later.

An orchestrator that stops a pod sends SIGTERM and, at about the same time,
starts taking the pod out of its load balancers. A server that stops
accepting connections on SIGTERM refuses the requests still on their way.
``SigtermDrain`` stands in front of the server's own handler: on SIGTERM it
makes readiness fail at once, keeps serving for ``seconds``, and then hands
the signal to the handler that was there before, so that the server shuts
down as it always does. A second SIGTERM while draining is handed on at
once.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from types import FrameType
from typing import Any

from .._logging import get_logger
from ._checks import Health

__all__ = ["SigtermDrain"]

_log = get_logger("hiccup.health")


class SigtermDrain:
    """Delays a SIGTERM by ``seconds`` while ``health`` drains.

    Install it on the event loop's thread once the server has set up its
    own signal handlers (in the app's lifespan, say); it does nothing off
    the main thread, where Python lets no code handle signals.
    """

    def __init__(self, health: Health, seconds: float) -> None:
        self.health = health
        self.seconds = seconds
        self._loop: asyncio.AbstractEventLoop | None = None
        self._previous: Any = None
        self._pending: asyncio.TimerHandle | None = None
        self._installed = False

    @property
    def installed(self) -> bool:
        """Whether SIGTERM is handled by this drain."""
        return self._installed

    def install(self) -> None:
        """Handle SIGTERM from now on."""
        if threading.current_thread() is not threading.main_thread():
            return
        self._loop = asyncio.get_running_loop()
        self._previous = signal.signal(signal.SIGTERM, self._handle)
        self._installed = True

    def uninstall(self) -> None:
        """Give SIGTERM back to the handler it had, if this one still has it."""
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None
        if not self._installed:
            return
        self._installed = False
        if signal.getsignal(signal.SIGTERM) == self._handle:
            signal.signal(signal.SIGTERM, self._previous)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        # A signal handler runs between two bytecodes of the main thread,
        # perhaps inside the loop's own bookkeeping: hand the work to the
        # loop the way another thread would.
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._received, signum)

    def _received(self, signum: int) -> None:
        if self._pending is not None:
            _log.info("health.drain_cut_short")
            self._forward(signum)
            return
        self.health.drain()
        _log.info("health.drain_started", seconds=self.seconds)
        assert self._loop is not None
        self._pending = self._loop.call_later(self.seconds, self._forward, signum)

    def _forward(self, signum: int) -> None:
        """Hand the signal to the handler that was there before."""
        previous = self._previous
        self.uninstall()
        if callable(previous):
            previous(signum, None)
        elif previous in (signal.SIG_DFL, None):
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.raise_signal(signum)
