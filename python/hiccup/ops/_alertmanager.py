"""Alertmanager's routes: critical pages PagerDuty and tells #incidents,
warnings go to #alerts and the rest to #alerts-info.

Alerts are grouped by name and service, resolutions are sent too, and a
critical alert holds back the warnings of the same service: the people it
paged do not need them as well. The secrets are read from files, so that
the configuration itself can be committed.
"""

from __future__ import annotations

from typing import Any

from ._thresholds import Thresholds

__all__ = ["CHANNELS", "GROUP_BY", "RECEIVERS", "alertmanager_config"]

#: The Slack channel each severity goes to; critical pages PagerDuty too.
CHANNELS = {"critical": "#incidents", "warning": "#alerts", "info": "#alerts-info"}
#: What one notification is about: one alert of one service.
GROUP_BY = ("alertname", "service")

#: The receiver of each severity.
RECEIVERS = {
    "critical": "pagerduty-and-incidents",
    "warning": "slack-alerts",
    "info": "slack-alerts-info",
}
PAGERDUTY_KEY_FILE = "/etc/alertmanager/secrets/pagerduty-routing-key"
SLACK_URL_FILE = "/etc/alertmanager/secrets/slack-webhook-url"

_SLACK_TITLE = (
    '[{{ .Status | toUpper }}{{ if eq .Status "firing" }}:{{ .Alerts.Firing | len }}'
    "{{ end }}] {{ .CommonLabels.alertname }} on {{ .CommonLabels.service }}"
)
_SLACK_TEXT = (
    "{{ range .Alerts }}*{{ .Annotations.summary }}*\n{{ .Annotations.description }}\n"
    "Runbook: {{ .Annotations.runbook_url }}\n{{ end }}"
)


_PAGE = (
    "{{ .CommonLabels.alertname }} on {{ .CommonLabels.service }}:"
    " {{ .CommonAnnotations.summary }}"
)


def _slack(channel: str) -> dict[str, Any]:
    return {
        "channel": channel,
        "send_resolved": True,
        "title": _SLACK_TITLE,
        "text": _SLACK_TEXT,
    }


def alertmanager_config(thresholds: Thresholds) -> dict[str, Any]:
    """Return Alertmanager's configuration."""
    return {
        "global": {"resolve_timeout": "5m", "slack_api_url_file": SLACK_URL_FILE},
        "route": {
            "receiver": RECEIVERS["warning"],
            "group_by": list(GROUP_BY),
            "group_wait": "30s",
            "group_interval": "5m",
            "repeat_interval": "4h",
            "routes": [
                {"receiver": receiver, "matchers": [f'severity="{severity}"']}
                for severity, receiver in RECEIVERS.items()
            ],
        },
        "inhibit_rules": [
            {
                "source_matchers": ['severity="critical"'],
                "target_matchers": ['severity="warning"'],
                "equal": ["service"],
            }
        ],
        "receivers": [
            {
                "name": RECEIVERS["critical"],
                "pagerduty_configs": [
                    {
                        "routing_key_file": PAGERDUTY_KEY_FILE,
                        "send_resolved": True,
                        # Without it, every incident is sent as "error".
                        "severity": "{{ .CommonLabels.severity }}",
                        "description": _PAGE,
                        "details": {
                            "runbook": "{{ .CommonAnnotations.runbook_url }}",
                            "description": "{{ .CommonAnnotations.description }}",
                        },
                    }
                ],
                "slack_configs": [_slack(CHANNELS["critical"])],
            },
            *(
                {
                    "name": RECEIVERS[severity],
                    "slack_configs": [_slack(CHANNELS[severity])],
                }
                for severity in ("warning", "info")
            ),
        ],
    }
