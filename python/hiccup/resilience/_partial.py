"""Partial results: a page of several parts shows the parts that worked.

A dashboard that needs four widgets should not fail because one of them
did. ``gather_partial`` runs named components concurrently under one
deadline and returns what succeeded together with one entry per failure,
each carrying a contract code so that the browser SDK can show that
widget's own words and a way to retry it.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from .._codes import CONTRACT
from .._logging import get_logger
from .._mapping import outcome_for_exception
from .._metrics import default_metrics
from ._fallback import mark_degraded

__all__ = ["ComponentError", "Partial", "gather_partial"]

T = TypeVar("T")

_log = get_logger("hiccup.resilience")
#: The code of a component the deadline cut short.
_TIMED_OUT = "UPSTREAM_TIMEOUT"


@dataclass(frozen=True, slots=True)
class ComponentError:
    """Why one component of a partial result is missing."""

    component: str
    code: str

    @property
    def status(self) -> int:
        """The HTTP status the code would answer with on its own."""
        return CONTRACT.codes[self.code].status

    def as_dict(self) -> dict[str, object]:
        """Return the entry of the ``errors`` list of a JSON body: the
        component, its code and status, and whether trying again may help."""
        retry = CONTRACT.codes[self.code].retry
        hint: dict[str, object] = {"auto": retry.auto, "user": retry.user}
        if retry.after_ms is not None:
            hint["after_ms"] = retry.after_ms

        return {
            "component": self.component,
            "code": self.code,
            "status": self.status,
            "retry": hint,
        }


@dataclass(frozen=True, slots=True)
class Partial(Generic[T]):
    """What ``gather_partial`` gathered: the results of the components that
    succeeded, and an error for each of the others, in the order given."""

    results: dict[str, T] = field(default_factory=dict)
    errors: list[ComponentError] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """Whether every component succeeded."""
        return not self.errors

    def as_dict(self) -> dict[str, object]:
        """Return ``{"results": ..., "errors": [...]}`` for a JSON body."""
        return {
            "results": dict(self.results),
            "errors": [error.as_dict() for error in self.errors],
        }


Component = Callable[[], Awaitable[T]] | Awaitable[T]


async def gather_partial(
    components: Mapping[str, Component[T]], *, deadline: float | None = None
) -> Partial[T]:
    """Run named components concurrently and return what succeeded.

        widgets = await gather_partial(
            {"usage": usage(user), "drafts": recent_drafts(user)}, deadline=2.0
        )
        return widgets.as_dict()

    A component that raises becomes an error with the contract code its
    exception maps to (a ``Problem``'s own code, ``DEPENDENCY_UNAVAILABLE``
    for an open circuit, ``INTERNAL`` for a bug); one still running at the
    deadline is cancelled and becomes ``UPSTREAM_TIMEOUT``. Each failure is
    logged, counted in ``hiccup_partial_failures_total`` and marks the
    response degraded. Cancelling the call cancels every component.

    Args:
        components: names (fixed strings: they label a counter and the
            ``X-Degraded`` header) to coroutines, or to functions making them.
        deadline: seconds for all of them together; None waits for all.
    """
    tasks = {
        name: asyncio.ensure_future(_start(component))
        for name, component in components.items()
    }
    late: set[asyncio.Future[T]] = set()
    try:
        if tasks:
            _, late = await asyncio.wait(tasks.values(), timeout=deadline)
    finally:
        for task in tasks.values():
            task.cancel()
    if late:
        # Let the late ones finish cancelling, so none outlives the call.
        await asyncio.wait(late)
    partial: Partial[T] = Partial()
    for name, task in tasks.items():
        if task in late:
            failure = None
        elif task.exception() is None:
            partial.results[name] = task.result()
            continue
        else:
            failure = task.exception()
        code = _TIMED_OUT if failure is None else outcome_for_exception(failure).code
        partial.errors.append(ComponentError(name, code))
        _failed(name, code, failure)

    return partial


async def _start(component: Component[T]) -> T:
    if inspect.isawaitable(component):
        return await component

    return await component()


def _failed(name: str, code: str, failure: BaseException | None) -> None:
    mark_degraded(name)
    fields: dict[str, Any] = {"component": name, "error.code": code}
    if failure is not None:
        fields["error.type"] = type(failure).__qualname__
    _log.warning("partial.component_failed", **fields)
    default_metrics().partial_failures.labels(name, code).inc()
