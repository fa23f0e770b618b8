"""An httpx client with a circuit breaker, retries and a retry budget per host.

``resilient_client()`` returns an ordinary ``httpx.AsyncClient`` whose
transport makes each request go through the host's breaker and retries it
under the host's budget, recording the attempts, the suppressed retries and
the budget in Prometheus and the resend count on each attempt's client span.
Code that uses the client does not change; code that calls a provider SDK
built on httpx passes it as the SDK's ``http_client``, with the SDK's own
retries turned off: retrying in two layers multiplies the attempts.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import httpx

from .._tracing import RESEND_COUNT
from ._breaker import BreakerPolicy, CircuitBreaker
from ._budget import BudgetConfig, RetryBudget
from ._observe import track_attempts
from ._retry import (
    RETRY_STATUSES,
    RetriesExhausted,
    RetryPolicy,
    parse_retry_hint,
    retry,
)

__all__ = ["ResilientTransport", "resilient_client"]


@dataclass(slots=True)
class _Host:
    """What one host's requests share: a breaker and a retry budget."""

    name: str
    breaker: CircuitBreaker
    budget: RetryBudget


class ResilientTransport(httpx.AsyncBaseTransport):
    """A transport that sends through another one, per host behind a
    breaker and with retries under a budget.

    A request whose breaker is open raises ``CircuitOpen`` without being
    sent. A response that is still worth retrying when no retry is allowed
    is returned as it is, as the client would have had it; an error that
    was worth retrying raises ``RetriesExhausted``, chained from it. 429s
    are retried after their Retry-After, and count against neither the
    breaker nor its open time; 5xx and errors count as failures, and a
    Retry-After on a 503 holds the breaker open at least that long.

    Args:
        transport: where requests go; httpx's own by default.
        retry_policy: attempts, waits and timeouts.
        breaker_policy: when each host's breaker opens.
        budget: the retry budget of each host.
        prefix: names breakers and budgets ``{prefix}:{host}``, in metrics,
            logs and readiness.
    """

    def __init__(
        self,
        transport: httpx.AsyncBaseTransport | None = None,
        *,
        retry_policy: RetryPolicy | None = None,
        breaker_policy: BreakerPolicy | None = None,
        budget: BudgetConfig | None = None,
        prefix: str = "http",
    ) -> None:
        self._transport = transport or httpx.AsyncHTTPTransport()
        self._retry_policy = retry_policy or RetryPolicy()
        self._breaker_policy = breaker_policy or BreakerPolicy()
        self._budget = budget or BudgetConfig()
        self._prefix = prefix
        self._hosts: dict[str, _Host] = {}
        self._lock = threading.Lock()

    def host(self, url: httpx.URL) -> _Host:
        """Return the breaker and budget of a URL's host, made on first use."""
        key = f"{url.host}:{url.port}" if url.port else url.host
        found = self._hosts.get(key)
        if found is not None:
            return found
        with self._lock:
            found = self._hosts.get(key)
            if found is None:
                name = f"{self._prefix}:{key}"
                found = _Host(
                    name,
                    CircuitBreaker(name, self._breaker_policy),
                    RetryBudget(self._budget, dependency=name),
                )
                self._hosts[key] = found

        return found

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        host = self.host(request.url)
        # A body read into memory can be sent again.
        await request.aread()
        attempts = 0

        async def attempt() -> httpx.Response:
            nonlocal attempts
            request.extensions = {**request.extensions, RESEND_COUNT: attempts}
            attempts += 1
            return await self._attempt(host, request)

        try:
            return await retry(
                attempt,
                self._retry_policy,
                budget=host.budget,
                **track_attempts(host.name, host.budget),
            )
        except RetriesExhausted as exc:
            if isinstance(exc.last_response, httpx.Response):
                return exc.last_response
            raise

    async def _attempt(self, host: _Host, request: httpx.Request) -> httpx.Response:
        permit = host.breaker.admit()
        clock = self._retry_policy.clock
        started = clock()
        try:
            response = await self._transport.handle_async_request(request)
        except Exception:
            permit.failure(duration=clock() - started)
            raise
        except BaseException:  # the caller gave up: not the host's fault
            permit.ignore()
            raise
        # The client sets it once the transport returns; the retries judge the
        # response by its request's method and headers before then.
        response.request = request
        status = response.status_code
        if status in RETRY_STATUSES or status >= 500:
            # It may be retried and dropped: read it now, and let go of the
            # connection.
            await response.aread()
        if status == 429:
            permit.ignore()
        elif status >= 500:
            permit.failure(
                retry_after=parse_retry_hint(response.headers),
                duration=clock() - started,
            )
        else:
            permit.success(duration=clock() - started)

        return response

    async def aclose(self) -> None:
        await self._transport.aclose()


def resilient_client(
    *,
    retry_policy: RetryPolicy | None = None,
    breaker_policy: BreakerPolicy | None = None,
    budget: BudgetConfig | None = None,
    prefix: str = "http",
    transport: httpx.AsyncBaseTransport | None = None,
    **client_options: Any,
) -> httpx.AsyncClient:
    """Return an ``httpx.AsyncClient`` whose requests go through a breaker,
    retries and a retry budget per host (see ``ResilientTransport``).

        client = hiccup.resilience.resilient_client(timeout=10.0)
        reply = await client.get("https://api.example/search", params=...)

    The client's own timeout bounds each attempt; the retry policy's
    deadline bounds the waits between them. Other keyword arguments go to
    ``httpx.AsyncClient``.
    """
    policy = retry_policy or RetryPolicy()
    wrapped = ResilientTransport(
        transport,
        retry_policy=policy,
        breaker_policy=breaker_policy,
        budget=budget,
        prefix=prefix,
    )

    return httpx.AsyncClient(transport=wrapped, **client_options)
