"""Fallbacks: answer with something less good rather than with an error.

When a dependency fails, a product can often still give the user
something: a smaller model's draft, yesterday's cached answer, a template.
``fallback`` tries a primary call and then each alternative in turn, and
marks the response as degraded so that clients, logs and dashboards can
tell a full answer from a makeshift one. The middleware names the degraded
components in an ``X-Degraded`` header; ``degraded()`` gives the same list
for a JSON body.
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar, cast

from .._logging import get_logger
from .._metrics import default_metrics
from .._middleware import current_exchange

__all__ = ["degraded", "failure_reason", "fallback", "mark_degraded", "with_fallback"]

T = TypeVar("T")
P = ParamSpec("P")

_log = get_logger("hiccup.resilience")
_COMPONENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def mark_degraded(component: str) -> None:
    """Record that ``component`` of the current response is degraded.

    Outside a request served by hiccup's middleware it does nothing. A
    component is listed once however often it is marked.

    Raises:
        ValueError: the name is not a token (letters, digits, ``-``, ``_``,
            ``.``) of at most 64 characters: it goes into a header.
    """
    if not _COMPONENT.fullmatch(component):
        raise ValueError(
            f"a degraded component is named by letters, digits, '-', '_' and '.'"
            f" (at most 64), not {component!r}"
        )
    exchange = current_exchange()
    if exchange is None:
        return
    if exchange.degraded is None:
        exchange.degraded = [component]
    elif component not in exchange.degraded:
        exchange.degraded.append(component)


def degraded() -> list[str]:
    """Return the components of the current response marked degraded so far,
    in the order they were marked: the ``degraded`` list of a JSON body."""
    exchange = current_exchange()
    if exchange is None or exchange.degraded is None:
        return []

    return list(exchange.degraded)


def failure_reason(exc: BaseException) -> str:
    """Return a bounded label for why a call failed.

    ``circuit_open``, ``budget`` (retries suppressed by the retry budget),
    ``retries`` (retries exhausted otherwise), ``timeout``, or ``error``.
    """
    # Imported here: the breaker and the retries import this package too.
    from ._breaker import CircuitOpen  # noqa: PLC0415
    from ._retry import RetriesExhausted  # noqa: PLC0415

    if isinstance(exc, CircuitOpen):
        return "circuit_open"
    if isinstance(exc, RetriesExhausted):
        return "budget" if exc.reason == "budget" else "retries"
    if isinstance(exc, TimeoutError):
        return "timeout"

    return "error"


def _used(component: str, alternative: str, exc: Exception) -> None:
    reason = failure_reason(exc)
    mark_degraded(component)
    _log.warning(
        "fallback.used",
        component=component,
        alternative=alternative,
        reason=reason,
        **{"error.type": type(exc).__qualname__},
    )
    default_metrics().fallbacks.labels(component, alternative, reason).inc()


async def fallback(
    primary: Callable[[], Awaitable[T]],
    *alternatives: tuple[str, Callable[[], Awaitable[T] | T]],
    component: str,
    on: type[Exception] | tuple[type[Exception], ...] = Exception,
) -> T:
    """Return what ``primary`` returns, or else what the first alternative
    that works returns, marking the response degraded.

        draft = await fallback(
            lambda: write(prompt, model="writer-large"),
            ("writer-small", lambda: write(prompt, model="writer-small")),
            ("template", lambda: template_draft(prompt)),
            component="writer",
        )

    Args:
        primary: the call to try first.
        alternatives: ``(name, call)`` pairs, tried in order; a call may be
            synchronous (a template, a cache lookup). The names label the
            ``hiccup_fallbacks_total`` counter, so they are fixed strings.
        component: what the response is degraded in, for ``X-Degraded``.
        on: the exceptions that move on to the next alternative; anything
            else, and cancellation, propagates at once.

    Raises:
        The exception of the last alternative, chained from the one before,
        when every one of them failed.
    """
    try:
        return await primary()
    except on as exc:
        failed: Exception = exc
    for name, alternative in alternatives:
        _used(component, name, failed)
        try:
            answer = alternative()
            if inspect.isawaitable(answer):
                return cast(T, await answer)
            return answer
        except on as exc:
            exc.__cause__ = exc.__cause__ or failed
            failed = exc
    raise failed


def with_fallback(
    alternative: Callable[P, Any],
    *,
    component: str,
    name: str = "fallback",
    on: type[Exception] | tuple[type[Exception], ...] = Exception,
) -> Callable[[Callable[P, T]], Callable[P, T]]:
    """Decorate a function so that when it fails, ``alternative`` is called
    with the same arguments and the response is marked degraded.

        @with_fallback(cached_summary, component="summary", name="cache")
        async def summary(draft_id: str) -> str: ...

    Sync and async functions both work; an async function's alternative may
    be sync or async. See ``fallback`` for ``component`` and ``on``; ``name``
    labels the counter.
    """

    def decorate(function: Callable[P, T]) -> Callable[P, T]:
        if inspect.iscoroutinefunction(function):

            @functools.wraps(function)
            async def run_async(*args: P.args, **kwargs: P.kwargs) -> Any:
                return await fallback(
                    lambda: function(*args, **kwargs),
                    (name, lambda: alternative(*args, **kwargs)),
                    component=component,
                    on=on,
                )

            return cast(Callable[P, T], run_async)

        @functools.wraps(function)
        def run(*args: P.args, **kwargs: P.kwargs) -> T:
            try:
                return function(*args, **kwargs)
            except on as exc:
                _used(component, name, exc)
                return cast(T, alternative(*args, **kwargs))

        return run

    return decorate
