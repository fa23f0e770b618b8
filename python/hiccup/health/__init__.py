"""Health checks for liveness, readiness and startup probes.

    from hiccup.health import Group, Health, sqlalchemy_ping

    health = Health()
    health.add("db", sqlalchemy_ping(engine), measurement="responseTime")
    await health.start()
    health.report(Group.READY)

Checks run in the background on their own intervals and timeouts; reports
read their cached results, so a probe never waits for a dependency.
``hiccup.install(app, health=health)`` serves them as ``/livez``, ``/readyz``
and ``/startupz`` (``HealthEndpoints``), runs them with the app's lifespan
and drains on SIGTERM (``SigtermDrain``).
"""

from ._builtin import (
    asyncpg_ping,
    breakers_check,
    event_loop_lag,
    http_dependency,
    redis_ping,
    sqlalchemy_ping,
    startup_complete,
)
from ._checks import (
    Check,
    CheckFunction,
    Group,
    Health,
    Outcome,
    Report,
    Result,
    ResultHook,
    Status,
    overall_status,
)
from ._drain import SigtermDrain
from ._endpoints import PROBE_PATH_BY_GROUP, HealthEndpoints

__all__ = [
    "PROBE_PATH_BY_GROUP",
    "Check",
    "CheckFunction",
    "Group",
    "Health",
    "HealthEndpoints",
    "Outcome",
    "Report",
    "Result",
    "ResultHook",
    "SigtermDrain",
    "Status",
    "asyncpg_ping",
    "breakers_check",
    "event_loop_lag",
    "http_dependency",
    "overall_status",
    "redis_ping",
    "sqlalchemy_ping",
    "startup_complete",
]
