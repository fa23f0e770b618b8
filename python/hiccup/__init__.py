"""hiccup: failures in web products made observable and recoverable."""

from __future__ import annotations

from ._exceptions import HiccupError

__all__ = ["HiccupError", "__version__"]

__version__ = "0.1.0"
