"""Deadlines that cross the wire: how long the caller still waits.

A client that will stop waiting says so in ``X-Request-Deadline-Ms``: the
milliseconds it still gives the request, counted when it sent it. The
middleware turns that into an instant on this process's monotonic clock,
which ``hiccup.context.time_left()`` reads and which retries and model
calls made for the request keep within. A request whose caller gave it no
time at all is answered at once and never reaches the app.
"""

from __future__ import annotations

from typing import Final

__all__ = ["DEADLINE_HEADER", "MAX_DEADLINE_MS", "parse_deadline_ms"]

DEADLINE_HEADER: Final = "X-Request-Deadline-Ms"
#: The longest deadline taken at its word: a day. A longer one is cut to it.
MAX_DEADLINE_MS: Final = 86_400_000
# More digits than any deadline needs, and a bound on what int() is given.
_MAX_DIGITS: Final = 15
_SHOWN: Final = 32


def parse_deadline_ms(value: bytes) -> int:
    """Return the milliseconds a deadline header gives, at most a day.

    Raises:
        ValueError: the value is not a whole, non-negative number of
            milliseconds; the message quotes the start of it.
    """
    digits = value.strip(b" \t")
    if not digits.isdigit() or len(digits) > _MAX_DIGITS:
        shown = value[:_SHOWN].decode("latin-1")
        more = "..." if len(value) > _SHOWN else ""
        raise ValueError(
            f"{DEADLINE_HEADER} must be a whole number of milliseconds,"
            f" not {shown!r}{more}"
        )

    return min(int(digits), MAX_DEADLINE_MS)
