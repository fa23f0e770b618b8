"""The root of hiccup's own exception tree."""

from __future__ import annotations

__all__ = ["HiccupError"]


class HiccupError(Exception):
    """Base of every exception hiccup itself raises."""
