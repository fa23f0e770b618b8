"""Operations as code: the alert rules, their tests and the runbooks, from
one definition that reads the names of the metrics the package emits.

    hiccup ops gen            # write ops/ from the definitions
    hiccup ops gen --check    # exit 1 when a file of ops/ has drifted

Every threshold is in ``Thresholds``. Rendering needs PyYAML (the ``ops``
extra).
"""

from ._generate import GeneratedFile, generate, render
from ._rules import Alert, Scenario, alerts, metric_names, recording_rules, rule_tests
from ._thresholds import BurnWindow, Thresholds

__all__ = [
    "Alert",
    "BurnWindow",
    "GeneratedFile",
    "Scenario",
    "Thresholds",
    "alerts",
    "generate",
    "metric_names",
    "recording_rules",
    "render",
    "rule_tests",
]
