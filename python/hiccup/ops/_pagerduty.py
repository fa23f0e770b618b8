"""PagerDuty's side of a page, as Terraform for the official provider.

Two weekly rotations, primary and secondary, and an escalation policy: the
primary is paged first; unacknowledged, the page goes to the secondary at 5
minutes and to the manager at 15; at 30 the policy starts over. The service
it belongs to has an Events API v2 integration, whose key Alertmanager
reads (``terraform output -raw routing_key``). Written as Terraform's JSON
syntax, which Terraform reads as it reads HCL.
"""

from __future__ import annotations

from typing import Any

from ._thresholds import Thresholds

__all__ = ["ESCALATION_MINUTES", "pagerduty_terraform"]

#: Minutes after the page at which each level's turn ends: secondary at 5,
#: manager at 15, and the policy loops at 30.
ESCALATION_MINUTES = (5, 15, 30)
_WEEK = 7 * 24 * 3600
_START = "2026-01-05T09:00:00Z"
_KEY = "${pagerduty_service_integration.alertmanager.integration_key}"


def _rotation(name: str, users: str) -> dict[str, Any]:
    return {
        "name": name,
        "time_zone": "${var.time_zone}",
        "layer": [
            {
                "name": "weekly",
                "start": _START,
                "rotation_virtual_start": _START,
                "rotation_turn_length_seconds": _WEEK,
                "users": f"${{var.{users}}}",
            }
        ],
    }


def pagerduty_terraform(thresholds: Thresholds) -> dict[str, Any]:
    """Return the Terraform configuration, in its JSON syntax."""
    first, second, third = ESCALATION_MINUTES
    targets = [
        {"type": "schedule_reference", "id": "${pagerduty_schedule.primary.id}"},
        {"type": "schedule_reference", "id": "${pagerduty_schedule.secondary.id}"},
        {"type": "user_reference", "id": "${var.manager}"},
    ]
    delays = [first, second - first, third - second]
    service = thresholds.service
    return {
        "terraform": {
            "required_providers": {
                "pagerduty": {"source": "PagerDuty/pagerduty", "version": ">= 3.0"}
            }
        },
        "variable": {
            "primary_users": {"type": "list(string)", "description": "User IDs"},
            "secondary_users": {"type": "list(string)", "description": "User IDs"},
            "manager": {"type": "string", "description": "The manager's user ID"},
            "time_zone": {"type": "string", "default": "Etc/UTC"},
        },
        "resource": {
            "pagerduty_schedule": {
                "primary": _rotation(f"{service} primary", "primary_users"),
                "secondary": _rotation(f"{service} secondary", "secondary_users"),
            },
            "pagerduty_escalation_policy": {
                "on_call": {
                    "name": f"{service} on call",
                    "num_loops": 2,
                    "rule": [
                        {"escalation_delay_in_minutes": delay, "target": [target]}
                        for delay, target in zip(delays, targets, strict=True)
                    ],
                }
            },
            "pagerduty_service": {
                "app": {
                    "name": service,
                    "escalation_policy": "${pagerduty_escalation_policy.on_call.id}",
                    "alert_creation": "create_alerts_and_incidents",
                }
            },
            "pagerduty_service_integration": {
                "alertmanager": {
                    "name": "Alertmanager",
                    "type": "events_api_v2_inbound_integration",
                    "service": "${pagerduty_service.app.id}",
                }
            },
        },
        "output": {
            "routing_key": {"value": _KEY, "sensitive": True},
        },
    }
