"""The switches QA flips to make the writer fail, one way at a time.

They live in one ``Faults`` value on the app's state, read by the simulated
provider, the dashboard, the readiness check and the routes, and changed
through ``/qa/faults`` (the QA panel, tests and scripts all use that API).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["WIDGETS", "Faults", "FaultsUpdate"]

Widget = Literal["usage", "drafts", "models", "tips"]
#: The dashboard's widgets, in the order the page shows them.
WIDGETS: tuple[Widget, ...] = ("usage", "drafts", "models", "tips")


class Faults(BaseModel):
    """What is broken right now. The defaults break nothing."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    latency_ms: int = Field(default=0, ge=0, le=60_000)
    """Milliseconds the provider waits before its first token."""
    error_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    """Share of the provider's calls that fail as unavailable."""
    outage: bool = False
    """The large model is down: every call to it fails at once."""
    rate_limited: bool = False
    """The writer's own quota is spent: it answers 429 with Retry-After."""
    retry_after_s: int = Field(default=2, ge=1, le=120)
    """Seconds the 429 asks the caller to wait."""
    overloaded: bool = False
    """The provider is overloaded, for every model."""
    safety_block: bool = False
    """The provider's safety filter blocks the draft."""
    context_too_long: bool = False
    """The prompt does not fit the model's context."""
    drop_connection: bool = False
    """The writer's API drops the connection halfway through its answer."""
    mid_stream_error: bool = False
    """The provider fails after the first tokens of a draft."""
    slow_dependency: bool = False
    """The database answers readiness pings too slowly."""
    failing_widget: Widget | None = None
    """The dashboard widget whose source fails."""
    fallbacks: bool = True
    """Let the writer fall back to a smaller model and then a template;
    off, a provider failure reaches the user."""


class FaultsUpdate(Faults):
    """A change to some switches: the fields given, checked as ``Faults``."""
