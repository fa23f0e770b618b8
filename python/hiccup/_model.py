"""Model calls: the metrics and the span of each call to a generative AI model.

    with hiccup.model_call("openai", "gpt-4o", "chat") as call:
        for chunk in client.stream(prompt):
            call.first_chunk()
            ...
        call.tokens(input=usage.prompt_tokens, output=usage.completion_tokens)

Names and attributes follow OpenTelemetry's generative AI conventions. The
span goes through the OpenTelemetry API alone; whatever SDK the app (or
hiccup's tracing) configured records it, and without one it costs nothing.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from contextvars import ContextVar, Token
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar, cast

from opentelemetry import context, trace
from opentelemetry.trace import Span, SpanKind, StatusCode

from ._context import time_left
from ._metrics import Metrics, default_metrics
from ._problem import Problem

if TYPE_CHECKING:
    from .resilience import CircuitBreaker, RetryBudget, RetryPolicy

__all__ = ["ModelCall", "current_model_call", "model_call"]

P = ParamSpec("P")
R = TypeVar("R")

_tracer = trace.get_tracer("hiccup")
_Tokens = tuple[Token["ModelCall | None"], Token[context.Context]]
_current: ContextVar[ModelCall | None] = ContextVar("hiccup_model_call", default=None)


class ModelCall:
    """One call to a model: a context manager, or a decorator for functions.

    As a context manager (``with`` or ``async with``) it times the block and
    makes the call current, so that ``current_model_call`` finds it and
    spans started inside are children of its span. As a decorator it does
    the same for every call of the function; a decorated generator (sync or
    async) is a stream: it is timed from its first step to its last, and its
    first item marks the first chunk.

    The call fails when the block raises (its ``error_type`` is the
    contract code of a ``Problem``, else the exception's class name) or
    when ``fail`` says so; a stream its consumer stops reading early has
    not failed. An instance times one call at a time.
    """

    __slots__ = (
        "_error_type",
        "_first_chunk",
        "_guard",
        "_input_tokens",
        "_metrics",
        "_output_tokens",
        "_span",
        "_started",
        "_tokens",
        "model",
        "operation",
        "provider",
    )

    def __init__(
        self,
        provider: str,
        model: str,
        operation: str,
        metrics: Metrics | None = None,
        guard: Guard | None = None,
    ) -> None:
        self._guard = guard
        self.provider = provider
        self.model = model
        self.operation = operation
        self._metrics = metrics
        self._started = 0.0
        self._first_chunk: float | None = None
        self._input_tokens: int | None = None
        self._output_tokens: int | None = None
        self._error_type: str | None = None
        self._span: Span = trace.INVALID_SPAN
        self._tokens: _Tokens | None = None

    def first_chunk(self) -> None:
        """Mark the first chunk of a streamed answer; later marks are ignored."""
        if self._first_chunk is not None:
            return
        self._first_chunk = elapsed = time.perf_counter() - self._started
        metrics = self._metrics or default_metrics()
        metrics.model_first_chunk.labels(
            self.provider, self.model, self.operation
        ).observe(elapsed)

    def tokens(self, *, input: int | None = None, output: int | None = None) -> None:
        """Add to the tokens the call used, as the provider reported them.

        They are recorded once the call ends, so a stream may report them
        chunk by chunk or all at once.
        """
        if input is not None:
            self._input_tokens = (self._input_tokens or 0) + input
        if output is not None:
            self._output_tokens = (self._output_tokens or 0) + output

    def fail(self, error_type: str) -> None:
        """Mark the call failed without an exception, such as a refused answer.

        Args:
            error_type: A short, bounded name for the failure; it is a label.
        """
        self._error_type = error_type

    def __enter__(self) -> ModelCall:
        guard = self._guard
        if guard is not None:
            if guard.retry is not None:
                raise TypeError(
                    "a with block runs once: to retry a model call, decorate the"
                    " function that makes it"
                )
            if guard.breaker is not None:
                guard.breaker.__enter__()
        self._begin()
        self._tokens = self._bind()

        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._tokens is not None:
            self._unbind(self._tokens)
            self._tokens = None
        self._end(exc)
        if self._guard is not None and self._guard.breaker is not None:
            self._guard.breaker.__exit__(kind, exc, traceback)

    async def __aenter__(self) -> ModelCall:
        return self.__enter__()

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.__exit__(kind, exc, traceback)

    def __call__(self, function: Callable[P, R]) -> Callable[P, R]:
        """Time every call of ``function``, which may be async or a generator."""
        wrap: Callable[[Any], Any]
        streams = inspect.isasyncgenfunction(function) or inspect.isgeneratorfunction(
            function
        )
        if streams and self._guard is not None:
            raise TypeError(
                "a stream cannot be retried or refused once it has begun: give"
                " the breaker and retry policy to a call that is not a stream"
            )
        if inspect.isasyncgenfunction(function):
            wrap = self._async_stream
        elif inspect.isgeneratorfunction(function):
            wrap = self._stream
        elif inspect.iscoroutinefunction(function):
            wrap = self._async_call
        else:
            wrap = self._call

        return cast(Callable[P, R], functools.wraps(function)(wrap(function)))

    def _fresh(self) -> ModelCall:
        return ModelCall(self.provider, self.model, self.operation, self._metrics)

    def _call(self, function: Callable[..., Any]) -> Callable[..., Any]:
        guard = self._guard

        def timed(*args: Any, **kwargs: Any) -> Any:
            def once() -> Any:
                with guard.admitted() if guard else nullcontext(), self._fresh():
                    return function(*args, **kwargs)

            if guard is None or guard.retry is None:
                return once()
            return guard.retry_sync(once)

        return timed

    def _async_call(self, function: Callable[..., Any]) -> Callable[..., Any]:
        guard = self._guard

        async def timed(*args: Any, **kwargs: Any) -> Any:
            async def once() -> Any:
                with guard.admitted() if guard else nullcontext():
                    async with self._fresh():
                        return await function(*args, **kwargs)

            if guard is None or guard.retry is None:
                return await _while_caller_waits(once)
            # The retries keep within the caller's time themselves.
            return await guard.retry_async(once)

        return timed

    def _stream(self, function: Callable[..., Any]) -> Callable[..., Any]:
        # A generator's body runs in its consumer's context, one step at a
        # time, so the call is made current for each step rather than
        # across the yields, where it would leak into the consumer.
        def timed(*args: Any, **kwargs: Any) -> Iterator[Any]:
            call = self._fresh()
            call._begin()
            items = function(*args, **kwargs)
            failure: BaseException | None = None
            try:
                while True:
                    tokens = call._bind()
                    try:
                        item = next(items)
                    except StopIteration:
                        return
                    finally:
                        call._unbind(tokens)
                    call.first_chunk()
                    yield item
            except BaseException as exc:
                failure = exc
                raise
            finally:
                items.close()
                call._end(failure)

        return timed

    def _async_stream(self, function: Callable[..., Any]) -> Callable[..., Any]:
        async def timed(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
            call = self._fresh()
            call._begin()
            items = function(*args, **kwargs)
            failure: BaseException | None = None
            try:
                while True:
                    tokens = call._bind()
                    try:
                        item = await anext(items)
                    except StopAsyncIteration:
                        return
                    finally:
                        call._unbind(tokens)
                    call.first_chunk()
                    yield item
            except BaseException as exc:
                failure = exc
                raise
            finally:
                await items.aclose()
                call._end(failure)

        return timed

    def _begin(self) -> None:
        self._first_chunk = self._input_tokens = self._output_tokens = None
        self._error_type = None
        self._span = _tracer.start_span(
            f"{self.operation} {self.model}",
            kind=SpanKind.CLIENT,
            attributes={
                "gen_ai.operation.name": self.operation,
                "gen_ai.provider.name": self.provider,
                "gen_ai.request.model": self.model,
            },
        )
        self._started = time.perf_counter()

    def _bind(self) -> _Tokens:
        span_context = trace.set_span_in_context(self._span)

        return _current.set(self), context.attach(span_context)

    def _unbind(self, tokens: _Tokens) -> None:
        call_token, span_token = tokens
        context.detach(span_token)
        _current.reset(call_token)

    def _end(self, exc: BaseException | None) -> None:
        duration = time.perf_counter() - self._started
        error_type = self._error_type
        if error_type is None and exc is not None and not _stopped(exc):
            error_type = _error_type_of(exc)
        metrics = self._metrics or default_metrics()
        labels = (self.provider, self.model, self.operation)
        metrics.model_duration.labels(*labels, error_type or "").observe(duration)
        span = self._span
        for kind, used in (
            ("input", self._input_tokens),
            ("output", self._output_tokens),
        ):
            if used is not None:
                metrics.model_tokens.labels(*labels, kind).observe(used)
                span.set_attribute(f"gen_ai.usage.{kind}_tokens", used)
        if error_type is not None:
            span.set_attribute("error.type", error_type)
            span.set_status(StatusCode.ERROR)
            if exc is not None:
                span.record_exception(exc)
        span.end()


def _stopped(exc: BaseException) -> bool:
    """Whether an exception only says the consumer stopped reading a stream."""
    return isinstance(exc, GeneratorExit)


def _error_type_of(exc: BaseException) -> str:
    if isinstance(exc, Problem):
        return str(exc.code)

    return type(exc).__qualname__


@dataclass(frozen=True, slots=True)
class Guard:
    """What protects each call of a decorated model function: a breaker that
    may refuse it, and retries under a budget."""

    dependency: str
    breaker: CircuitBreaker | None = None
    retry: RetryPolicy | None = None
    budget: RetryBudget | None = None

    def admitted(self) -> AbstractContextManager[None]:
        """Hold the breaker's permit across one attempt, if there is one."""
        return self.breaker if self.breaker is not None else nullcontext()

    def retry_sync(self, once: Callable[[], R]) -> R:
        from .resilience._observe import track_attempts  # noqa: PLC0415
        from .resilience._retry import retry_sync  # noqa: PLC0415

        assert self.retry is not None
        hooks = track_attempts(self.dependency, self.budget)
        return retry_sync(once, self.retry, budget=self.budget, **hooks)

    async def retry_async(self, once: Callable[[], Awaitable[R]]) -> R:
        from .resilience._observe import track_attempts  # noqa: PLC0415
        from .resilience._retry import retry  # noqa: PLC0415

        assert self.retry is not None
        hooks = track_attempts(self.dependency, self.budget)
        return await retry(once, self.retry, budget=self.budget, **hooks)


async def _while_caller_waits(once: Callable[[], Awaitable[R]]) -> R:
    """Await a call, cancelled when the request's caller stops waiting.

    Raises:
        TimeoutError: the caller's deadline passed before or during the call.
    """
    left = time_left()
    if left is None:
        return await once()
    if left <= 0:
        raise TimeoutError("the request's caller had stopped waiting")
    async with asyncio.timeout(left):
        return await once()


def model_call(
    provider: str,
    model: str,
    operation: str,
    *,
    metrics: Metrics | None = None,
    breaker: CircuitBreaker | None = None,
    retry: RetryPolicy | None = None,
    budget: RetryBudget | None = None,
) -> ModelCall:
    """Return a call to a model, to use with ``with`` or as a decorator.

        @model_call("openai", "gpt-4.1", "chat", breaker=breaker, retry=policy,
                    budget=budget)
        async def draft(prompt: str) -> str: ...

    Args:
        provider: Who serves the model, as OpenTelemetry names providers
            (``openai``, ``anthropic``, ``aws.bedrock``, ...).
        model: The model asked for, such as ``gpt-4o``.
        operation: What is asked (``chat``, ``embeddings``,
            ``text_completion``, ...).
        metrics: Where to record; the default metrics when not given.
        breaker: refuses calls while the model keeps failing, raising
            ``CircuitOpen``; each attempt holds one of its permits.
        retry: retries a decorated function's failed calls, each attempt
            timed and traced as a call of its own. A ``with`` block runs once,
            so it takes a breaker but no retries; neither applies to streams.
        budget: caps the retries, shared by every call to the model.

    A decorated async function is cancelled, with ``TimeoutError``, once
    the request's caller stops waiting (``hiccup.context.time_left()``).

    The three names are labels: pass names from the code, never from a
    request. With a provider SDK, turn its own retries off: two layers of
    retries multiply the attempts.
    """
    guard = None
    if breaker is not None or retry is not None or budget is not None:
        guard = Guard(f"{provider}:{model}", breaker, retry, budget)

    return ModelCall(provider, model, operation, metrics, guard)


def current_model_call() -> ModelCall | None:
    """Return the model call running now, such as inside a decorated function."""
    return _current.get()
