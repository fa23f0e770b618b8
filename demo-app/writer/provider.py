"""A model provider, simulated: it writes drafts word by word and fails as
the switches say.

Its failures are the ones real providers have, raised as the contract codes
an app would map them to: unavailable, overloaded, a blocked output, a
prompt too long for the context.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable

from hiccup import Code, Problem

from .faults import Faults

__all__ = [
    "LARGE",
    "SMALL",
    "ProviderError",
    "ProviderRefusal",
    "ProviderUnavailable",
    "SimulatedProvider",
    "template_draft",
]

LARGE = "writer-large"
SMALL = "writer-small"
#: The longest prompt, in words, that the models take.
CONTEXT_WORDS = 400
#: Seconds between two tokens of a draft.
TOKEN_GAP = 0.02


class ProviderError(Problem):
    """A failure of the provider."""


class ProviderUnavailable(ProviderError):
    """The provider cannot serve the call now; later, or another model, may."""


class ProviderRefusal(ProviderError):
    """The provider will not serve this prompt, whatever the model or the
    moment: the user must change it."""


def _opening(prompt: str) -> str:
    words = prompt.split()
    return " ".join(words[:8]) if words else "your idea"


def _draft(model: str, prompt: str) -> list[str]:
    subject = _opening(prompt)
    sentences = [
        f"Here is a first draft about {subject}.",
        "It opens with the point that matters most, then gives two reasons"
        " for it and one example a reader will recognise.",
        "It ends by saying what to do next.",
    ]
    if model == LARGE:
        sentences.insert(2, "Each paragraph keeps to one idea, in plain words.")

    return " ".join(sentences).split(" ")


def template_draft(prompt: str) -> list[str]:
    """Return the draft that needs no model: a fill-in template."""
    subject = _opening(prompt)
    return (
        f"Draft about {subject}: [opening point] [two reasons] [an example]"
        " [what to do next]"
    ).split(" ")


class SimulatedProvider:
    """Streams drafts for two models and fails as ``faults()`` says.

    Args:
        faults: returns the switches as they are now.
        random: draws in [0, 1) for the error rate.
    """

    def __init__(
        self,
        faults: Callable[[], Faults],
        random: Callable[[], float] = random.random,
    ) -> None:
        self._faults = faults
        self._random = random
        #: Calls made, by model: what tests count.
        self.calls: dict[str, int] = {LARGE: 0, SMALL: 0}

    async def stream(self, model: str, prompt: str) -> AsyncIterator[str]:
        """Yield the words of a draft, each after the last.

        Raises:
            ProviderUnavailable: the switches make this call fail, before the
                first word or, with ``mid_stream_error``, after the third.
            ProviderRefusal: the prompt is too long, or the output blocked.
        """
        self.calls[model] += 1
        faults = self._faults()
        if faults.latency_ms:
            await asyncio.sleep(faults.latency_ms / 1000)
        self._check(model, prompt, faults)
        for index, word in enumerate(_draft(model, prompt)):
            if index == 3 and faults.mid_stream_error:
                raise ProviderUnavailable(Code.MODEL_UNAVAILABLE, model=model)
            yield word
            await asyncio.sleep(TOKEN_GAP)

    def _check(self, model: str, prompt: str, faults: Faults) -> None:
        if faults.context_too_long or len(prompt.split()) > CONTEXT_WORDS:
            raise ProviderRefusal(Code.MODEL_CONTEXT_TOO_LONG)
        if faults.safety_block:
            raise ProviderRefusal(Code.MODEL_OUTPUT_BLOCKED)
        if faults.overloaded:
            raise ProviderUnavailable(Code.MODEL_OVERLOADED)
        if faults.outage and model == LARGE:
            raise ProviderUnavailable(Code.MODEL_UNAVAILABLE, model=model)
        if faults.error_rate and self._random() < faults.error_rate:
            raise ProviderUnavailable(Code.MODEL_UNAVAILABLE, model=model)
