"""Writing a draft: the large model behind a breaker, retries under a
budget, and a fallback chain down to a template.

A stream cannot be retried once it has begun, so the protection covers
opening it: a call counts as made once its first word has arrived. After
that, the words stream straight to the user, and a failure among them ends
the stream with an error event.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from hiccup import current_model_call, model_call
from hiccup.resilience import (
    AttemptTimeout,
    BreakerPolicy,
    CircuitBreaker,
    CircuitOpen,
    RetriesExhausted,
    RetryBudget,
    RetryPolicy,
    degraded,
    fallback,
    retry,
    track_attempts,
)

from .faults import Faults
from .provider import (
    LARGE,
    SMALL,
    ProviderUnavailable,
    SimulatedProvider,
    template_draft,
)

__all__ = ["TEMPLATE", "Opened", "Writer"]

TEMPLATE = "template"
#: What moves the writer on to its next fallback: the model could not serve.
_FALL_BACK_ON = (ProviderUnavailable, CircuitOpen, RetriesExhausted, AttemptTimeout)


@dataclass
class Opened:
    """A draft whose first word has arrived, and the words still to come."""

    model: str
    first: str
    rest: AsyncIterator[str]
    degraded: list[str] = field(default_factory=list)


async def _words(words: list[str]) -> AsyncIterator[str]:
    for word in words:
        yield word


def _worth_retrying(outcome: object) -> bool:
    return isinstance(outcome, ProviderUnavailable | AttemptTimeout)


class Writer:
    """Opens drafts on the simulated provider, as a product would on a real one.

    Args:
        provider: the models.
        faults: the switches, for whether fallbacks are on.
        breaker_name: the large model's breaker; unique in the process.
    """

    def __init__(
        self,
        provider: SimulatedProvider,
        faults: Callable[[], Faults],
        breaker_name: str = LARGE,
    ) -> None:
        self.provider = provider
        self._faults = faults
        # A demo trips sooner than production would, so that QA sees it.
        self.breaker = CircuitBreaker(
            breaker_name, BreakerPolicy(minimum_calls=5, open_base=5.0)
        )
        self.budget = RetryBudget(dependency=LARGE)
        self.policy = RetryPolicy(max_attempts=3, deadline=8.0, attempt_timeout=5.0)
        self._first = {
            model: model_call("simulated", model, "chat")(self._first_word)
            for model in (LARGE, SMALL)
        }

    async def open(self, prompt: str) -> Opened:
        """Open a draft: the large model, else the small one, else a template.

        Raises:
            ProviderRefusal: the prompt cannot be written by any model.
            ProviderUnavailable, CircuitOpen, RetriesExhausted: the large model
                failed and fallbacks are off.
        """
        if not self._faults().fallbacks:
            return await self._large(prompt)
        opened = await fallback(
            lambda: self._large(prompt),
            (SMALL, lambda: self._opened(SMALL, prompt)),
            (TEMPLATE, lambda: self._template(prompt)),
            component="writer",
            on=_FALL_BACK_ON,
        )
        opened.degraded = degraded()

        return opened

    async def _large(self, prompt: str) -> Opened:
        async def attempt() -> Opened:
            permit = self.breaker.admit()
            try:
                opened = await self._opened(LARGE, prompt)
            except ProviderUnavailable:
                permit.failure()
                raise
            except BaseException:
                # A refused prompt or a caller that left: the model is fine.
                permit.ignore()
                raise
            permit.success()
            return opened

        return await retry(
            attempt,
            self.policy,
            budget=self.budget,
            classify=_worth_retrying,
            **track_attempts(LARGE, self.budget),
        )

    async def _opened(self, model: str, prompt: str) -> Opened:
        words = self.provider.stream(model, prompt)
        try:
            first = await self._first[model](words, prompt)
        except BaseException:
            await words.aclose()
            raise
        return Opened(model, first, words)

    @staticmethod
    async def _first_word(words: AsyncIterator[str], prompt: str) -> str:
        first = await anext(words)
        call = current_model_call()
        if call is not None:
            call.first_chunk()
            # The simulated model reads a word as a token.
            call.tokens(input=len(prompt.split()))
        return first

    @staticmethod
    def _template(prompt: str) -> Opened:
        first, *rest = template_draft(prompt)
        return Opened(TEMPLATE, first, _words(rest))
