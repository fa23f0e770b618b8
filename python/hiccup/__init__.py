"""hiccup: failures in web products made observable and recoverable.

import hiccup
from hiccup import Code, Problem

app = hiccup.install(FastAPI())

@app.get("/drafts/{draft_id}")
async def draft(draft_id: str):
    raise Problem(Code.MODEL_TIMEOUT, model="writer-large")
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import context
from ._codes import CONTRACT, Code
from ._events import (
    UndeclaredEventError,
    declare_events,
    declare_funnel,
    funnel_step,
    track,
)
from ._exceptions import HiccupError
from ._install import InstallError, install
from ._jobs import continue_trace, inject_trace
from ._logging import Redactor, configure_logging, get_logger
from ._metrics import Metrics, MetricsEndpoint, MetricsObserver, mark_process_dead
from ._middleware import HiccupMiddleware
from ._model import ModelCall, current_model_call, model_call
from ._openapi import problem_responses
from ._problem import FieldError, Problem, ProblemError
from ._queues import queue_metrics
from ._settings import Settings
from ._tracing import Tracing, TracingObserver, configure_tracing, recent_traces

if TYPE_CHECKING:
    from ._sentry import SentryObserver, configure_sentry

__all__ = [
    "CONTRACT",
    "Code",
    "FieldError",
    "HiccupError",
    "HiccupMiddleware",
    "InstallError",
    "Metrics",
    "MetricsEndpoint",
    "MetricsObserver",
    "ModelCall",
    "Problem",
    "ProblemError",
    "Redactor",
    "SentryObserver",
    "Settings",
    "Tracing",
    "TracingObserver",
    "UndeclaredEventError",
    "__version__",
    "configure_logging",
    "configure_sentry",
    "configure_tracing",
    "context",
    "continue_trace",
    "current_model_call",
    "declare_events",
    "declare_funnel",
    "funnel_step",
    "get_logger",
    "inject_trace",
    "install",
    "mark_process_dead",
    "model_call",
    "problem_responses",
    "queue_metrics",
    "recent_traces",
    "track",
]

__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    # sentry-sdk takes a while to import: only apps that report pay for it.
    if name in {"SentryObserver", "configure_sentry"}:
        from . import _sentry  # noqa: PLC0415

        return getattr(_sentry, name)
    raise AttributeError(f"module 'hiccup' has no attribute {name!r}")
