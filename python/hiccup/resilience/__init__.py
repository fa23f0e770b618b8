"""Resilience for outbound calls: circuit breakers, retries under a budget,
fallbacks, partial results and idempotent POSTs."""

from typing import TYPE_CHECKING, Any

from ._breaker import (
    BreakerPolicy,
    CircuitBreaker,
    CircuitOpen,
    Permit,
    State,
    WindowCounts,
    breakers,
)
from ._budget import BudgetConfig, RetryBudget
from ._fallback import degraded, fallback, mark_degraded, with_fallback
from ._idempotency import (
    IdempotencyMiddleware,
    IdempotencyStore,
    MemoryIdempotencyStore,
    RedisIdempotencyStore,
)
from ._observe import track_attempts
from ._partial import ComponentError, Partial, gather_partial
from ._retry import (
    AttemptTimeout,
    RequestNotSent,
    RetriesExhausted,
    RetryPolicy,
    is_retryable,
    parse_retry_hint,
    retry,
    retry_sync,
    retrying,
)

if TYPE_CHECKING:
    from ._httpx import ResilientTransport, resilient_client

__all__ = [
    "AttemptTimeout",
    "BreakerPolicy",
    "BudgetConfig",
    "CircuitBreaker",
    "CircuitOpen",
    "ComponentError",
    "IdempotencyMiddleware",
    "IdempotencyStore",
    "MemoryIdempotencyStore",
    "Partial",
    "Permit",
    "RedisIdempotencyStore",
    "RequestNotSent",
    "ResilientTransport",
    "RetriesExhausted",
    "RetryBudget",
    "RetryPolicy",
    "State",
    "WindowCounts",
    "breakers",
    "degraded",
    "fallback",
    "gather_partial",
    "is_retryable",
    "mark_degraded",
    "parse_retry_hint",
    "resilient_client",
    "retry",
    "retry_sync",
    "retrying",
    "track_attempts",
    "with_fallback",
]


def __getattr__(name: str) -> Any:
    # The httpx client is imported on first use: httpx is the app's choice.
    if name in {"ResilientTransport", "resilient_client"}:
        from . import _httpx  # noqa: PLC0415

        return getattr(_httpx, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
