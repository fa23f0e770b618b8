"""Settings, read from ``HICCUP_*`` environment variables or passed in code."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["DEFAULT_REDACTED_FIELDS", "Settings"]

#: Field names whose values never reach a log line or Sentry, matched without
#: regard to case, ``-`` or ``_``. ``Settings.redact_fields`` adds to these.
DEFAULT_REDACTED_FIELDS: tuple[str, ...] = (
    "access_token",
    "api_key",
    "apikey",
    "authorization",
    "client_secret",
    "cookie",
    "credentials",
    "id_token",
    "passwd",
    "password",
    "private_key",
    "proxy_authorization",
    "refresh_token",
    "secret",
    "session",
    "set_cookie",
    "token",
    "x_api_key",
)


class Settings(BaseSettings):
    """How hiccup behaves; every field can be set as ``HICCUP_<NAME>``.

    For example ``HICCUP_SERVICE_NAME=writer-api`` or
    ``HICCUP_REDACT_FIELDS='["ssn", "iban"]'``.
    """

    model_config = SettingsConfigDict(
        env_prefix="HICCUP_", extra="ignore", frozen=True, validate_default=True
    )

    service_name: str = Field(default="app", min_length=1, max_length=128)
    """Name of the service in every log line, span and Sentry event."""

    environment: str = Field(default="production", min_length=1, max_length=64)
    """Deployment environment, such as ``production`` or ``development``."""

    version: str = Field(default="0.0.0", min_length=1, max_length=128)
    """Version of the app being served (a release tag or commit)."""

    debug: bool = False
    """Add exception details to error responses. Never on in production."""

    request_id_header: str = Field(default="X-Request-ID", pattern=r"^[A-Za-z0-9-]+$")
    """Header that carries the request ID, in and out."""

    trust_request_id: bool = True
    """Accept a well-formed incoming request ID instead of always making one."""

    log_format: Literal["json", "console", "auto"] = "auto"
    """``json`` lines, a readable ``console`` format, or ``auto``: console
    when the environment is ``development`` or ``local``, JSON otherwise."""

    log_level: Literal["debug", "info", "warning", "error", "critical"] = "info"
    """Lowest level written."""

    redact_fields: tuple[str, ...] = ()
    """Extra field names to redact, beside ``DEFAULT_REDACTED_FIELDS``."""

    redact_emails: bool = True
    """Replace e-mail addresses in logged strings."""

    manage_logging: bool = True
    """Let ``install`` set up the process's logging: structlog, the standard
    library's and uvicorn's loggers. Off, the app's own setup is left as it
    is and hiccup's lines go through it."""

    max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=0)
    """Largest request body accepted, in bytes; larger ones get a 413.
    0 turns the limit off."""

    tracing: bool = True
    """Trace every request: a server span each, exported over OTLP when an
    endpoint is configured (the standard ``OTEL_EXPORTER_OTLP_*`` variables)
    and kept in an in-memory ring of recent traces otherwise."""

    trace_sample_ratio: float = Field(default=1.0, ge=0.0, le=1.0)
    """Share of new traces recorded, when ``OTEL_TRACES_SAMPLER`` does not say;
    a request whose caller sampled its trace follows the caller."""

    metrics: bool = True
    """Record Prometheus metrics and serve them at ``metrics_path``."""

    metrics_path: str = Field(default="/metrics", pattern=r"^/")
    """Path of the Prometheus endpoint."""

    untraced_paths: tuple[str, ...] = ("/healthz", "/livez", "/readyz", "/metrics")
    """Exact paths that get no span (probes and the metrics scrape)."""

    health: bool = True
    """Serve the probes ``/livez``, ``/readyz`` and ``/startupz``, and a path
    per check under each, such as ``/readyz/db``."""

    health_token: SecretStr | None = None
    """Bearer token that lets a caller see the checks' outputs and observed
    values. Without it (or loopback), a probe answers its status alone."""

    health_details_on_loopback: bool = True
    """Show the checks' details to callers on loopback that no proxy
    forwarded (no ``Forwarded`` or ``X-Forwarded-For`` header). Turn it off
    when a proxy on the same host forwards without saying so."""

    trace_probes: bool = False
    """Trace the health probes like any request."""

    log_probes: bool = False
    """Write an access line for each health probe."""

    console: bool = True
    """Serve the local console at ``/_hiccup`` (recent requests, log lines,
    traces, errors and live charts) when the environment is a developer's
    own or ``debug`` is on; never otherwise."""

    drain_seconds: float | None = Field(default=None, ge=0)
    """Seconds between SIGTERM and the server's own shutdown, during which
    ``/readyz`` fails and every request is still served, so that the load
    balancer stops sending traffic before connections close. None: 5 s, or
    0 in a development environment (where a reload sends SIGTERM). 0 leaves
    SIGTERM to the server."""

    sentry_dsn: str | None = None
    """Where Sentry events go (``SENTRY_DSN`` is read too). Unset, there is
    no Sentry."""

    client_reports_path: str | None = Field(default=None, pattern=r"^/")
    """Path of the endpoint that takes the browser SDK's batched records.
    Unset (the default), there is none."""

    @field_validator("redact_fields")
    @classmethod
    def _normalize(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(normalize_field_name(v) for v in value)

    @property
    def development(self) -> bool:
        """Whether the environment is a developer's own."""
        return self.environment.lower() in {"development", "dev", "local"}

    @property
    def console_enabled(self) -> bool:
        """Whether the local console is served."""
        return self.console and (self.debug or self.development)

    @property
    def drain_delay(self) -> float:
        """The seconds a SIGTERM drains for, defaults resolved."""
        if self.drain_seconds is not None:
            return self.drain_seconds

        return 0.0 if self.development else 5.0

    @property
    def console_logs(self) -> bool:
        """Whether logs are rendered for people rather than machines."""
        if self.log_format == "auto":
            return self.development

        return self.log_format == "console"


def normalize_field_name(name: str) -> str:
    """Return a field name lower-cased with ``-`` turned into ``_``."""
    return name.strip().lower().replace("-", "_")
