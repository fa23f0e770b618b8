"""What the process keeps for the local console: its last requests and lines.

The log pipeline and the console's observer append here only while the
console is on (``Settings.console_enabled``); both rings are bounded.
"""

from __future__ import annotations

from collections import deque
from collections.abc import MutableMapping
from typing import Any, Final

__all__ = ["MAX_LINES", "MAX_REQUESTS", "Records", "console_tap", "records"]

#: How many requests and log lines the console keeps.
MAX_REQUESTS: Final = 200
MAX_LINES: Final = 2000


class Records:
    """The last requests the middleware served and the last log lines."""

    def __init__(self) -> None:
        self.requests: deque[dict[str, object]] = deque(maxlen=MAX_REQUESTS)
        self.lines: deque[dict[str, object]] = deque(maxlen=MAX_LINES)


#: The process's records.
records = Records()


def console_tap(
    logger: object, method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """A log processor that keeps a copy of each line for the console.

    It goes after redaction, so the console shows what the log shows.
    """
    records.lines.append(dict(event_dict))
    return event_dict
