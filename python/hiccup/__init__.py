"""hiccup: failures in web products made observable and recoverable.

import hiccup
from hiccup import Code, Problem

app = hiccup.install(FastAPI())

@app.get("/drafts/{draft_id}")
async def draft(draft_id: str):
    raise Problem(Code.MODEL_TIMEOUT, model="writer-large")
"""

from __future__ import annotations

from . import context
from ._codes import CONTRACT, Code
from ._exceptions import HiccupError
from ._install import InstallError, install
from ._logging import Redactor, configure_logging, get_logger
from ._middleware import HiccupMiddleware
from ._openapi import problem_responses
from ._problem import FieldError, Problem, ProblemError
from ._settings import Settings

__all__ = [
    "CONTRACT",
    "Code",
    "FieldError",
    "HiccupError",
    "HiccupMiddleware",
    "InstallError",
    "Problem",
    "ProblemError",
    "Redactor",
    "Settings",
    "__version__",
    "configure_logging",
    "context",
    "get_logger",
    "install",
    "problem_responses",
]

__version__ = "0.1.0"
