"""Settings of the mobile-gateway service (environment prefix ``CF_MOBILE_``)."""

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from counterflow_shared.settings import ServiceSettings, platform_settings


class MobileGatewaySettings(ServiceSettings):
    """mobile-gateway settings; every field of :class:`ServiceSettings` plus the service's own.

    Customer authentication (bearer access tokens, RFC 6750, of the bank's OpenID Connect
    provider; the app signs in with authorization code + PKCE; ADR 0211):
        customer_jwks_url: the provider's JWKS (default: the development provider's file,
            :mod:`counterflow_shared.devidp`, like ``jwt_jwks_url`` of staff tokens).
        customer_jwt_issuer / customer_jwt_audience: required ``iss`` / ``aud``.

    Remote tickets and notifications:
        max_active_remote_tickets: remote tickets one customer may hold at once.
        turn_soon_position / turn_soon_wait_s: "your turn soon" once the ticket is at or
            ahead of this queue position, or its estimated wait (seconds) is at or below.
        leave_margin_s: "time to leave" once estimated wait <= travel time + this (seconds).
        appointment_reminder_lead_s: reminder this many seconds before an appointment.
        appointment_min_lead_s: earliest bookable slot is this far in the future (seconds).
        appointment_horizon_days: slots are offered this many days ahead.
        draft_ttl_s: lifetime of a hand-off draft when the diversion gives no ``expires_at``.
        sweep_interval_s: period of the draft-expiry / reminder loop (seconds).

    Notifications to SMS / e-mail gateways (signed webhook, :mod:`.domain.webhooks`):
        webhook_url / webhook_secret: where to POST notifications and the HMAC-SHA256
            key; both empty (default): no webhook.
        webhook_kinds: notification kinds sent to the webhook.
        webhook_max_attempts: attempts before a delivery is ``failed`` (6).
        webhook_backoff_s / webhook_backoff_max_s: first retry delay, doubling per
            attempt, and its cap (1 s / 300 s; 6 attempts span about 31 s).
        webhook_timeout_s: one attempt's HTTP timeout (seconds).
        webhook_poll_s: period of the delivery loop (seconds).

    Redis:
        redis_prefix: prefix of every Redis key and channel of this service (tests use
            their own so they never meet other runs).
        rate_limit_requests / rate_limit_window_s: customer API requests allowed per
            window (fixed window, seconds).
        sse_keepalive_s: seconds between SSE comment pings; sse_queue_size: events buffered
            per connected client before the oldest are dropped.
    """

    model_config = SettingsConfigDict(env_prefix="CF_MOBILE_", extra="ignore")

    service_name: str = "mobile-gateway"
    database_name: str = "counterflow_mobile"
    http_port: int = 8103

    customer_jwt_issuer: str = "counterflow-dev-customer-idp"
    customer_jwt_audience: str = "counterflow-mobile"
    customer_jwks_url: str = Field(default_factory=lambda: platform_settings().jwt_jwks_url)

    max_active_remote_tickets: int = 2
    turn_soon_position: int = 3
    turn_soon_wait_s: float = 300.0
    leave_margin_s: float = 120.0
    appointment_reminder_lead_s: float = 3600.0
    appointment_min_lead_s: float = 900.0
    appointment_horizon_days: int = 30
    draft_ttl_s: float = 24 * 3600.0
    sweep_interval_s: float = 5.0

    webhook_url: str = ""
    webhook_secret: str = Field(default="", repr=False)
    webhook_kinds: list[str] = Field(default_factory=lambda: ["turn_soon", "called", "time_to_leave", "appointment_reminder", "remote_ticket_rejected"])
    webhook_max_attempts: int = Field(default=6, ge=1, le=20)
    webhook_backoff_s: float = Field(default=1.0, gt=0)
    webhook_backoff_max_s: float = Field(default=300.0, gt=0)
    webhook_timeout_s: float = Field(default=5.0, gt=0)
    webhook_poll_s: float = Field(default=1.0, gt=0)

    redis_prefix: str = "mobile:"
    rate_limit_requests: int = 120
    rate_limit_window_s: int = 60
    sse_keepalive_s: float = 15.0
    sse_queue_size: int = 100


def get_settings() -> MobileGatewaySettings:
    """Read the settings from the environment."""
    return MobileGatewaySettings()
