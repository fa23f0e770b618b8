"""The paths hiccup serves itself: the health probes, which tracing and the
access log skip, and the local console, which nothing records."""

from __future__ import annotations

from typing import Final

__all__ = [
    "CHECK_PREFIXES",
    "CONSOLE_PATH",
    "CONSOLE_PREFIX",
    "LIVE_PATH",
    "PROBE_PATHS",
    "READY_PATH",
    "STARTUP_PATH",
]

LIVE_PATH: Final = "/livez"
READY_PATH: Final = "/readyz"
STARTUP_PATH: Final = "/startupz"
PROBE_PATHS: Final = frozenset({LIVE_PATH, READY_PATH, STARTUP_PATH})
# Each check of a probe has a path of its own under the probe's.
CHECK_PREFIXES: Final = tuple(f"{path}/" for path in sorted(PROBE_PATHS))
CONSOLE_PATH: Final = "/_hiccup"
CONSOLE_PREFIX: Final = f"{CONSOLE_PATH}/"
