"""The generated rules with windows a minute of load can fill, for the tests
that run them in a real Prometheus.

Everything else about them (the expressions, labels and annotations) is
what ops/ ships.
"""

from __future__ import annotations

from pathlib import Path

from hiccup.ops import BurnWindow, Thresholds
from hiccup.ops._generate import _yaml
from hiccup.ops._rules import alerts, recording_rules

#: Burn windows a minute of load can fill, and fire within seconds; ``app``
#: is the job name the test Prometheus scrapes as.
FAST = Thresholds(
    job="app",
    burn_windows=(BurnWindow(14.4, "1m", "20s", "critical", "5s"),),
    min_request_rate=0.5,
    breaker_open_for="5s",
)


def write_rules(directory: Path) -> Path:
    """Write the recording and alert rules of ``FAST`` in one group; return
    the file."""
    path = directory / "rules.yml"
    group = {
        "name": "hiccup",
        "rules": [*recording_rules(FAST), *(a.rule(FAST) for a in alerts(FAST))],
    }
    path.write_text(_yaml({"groups": [group]}))
    return path
