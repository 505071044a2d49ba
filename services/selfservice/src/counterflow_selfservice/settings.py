"""Settings of the selfservice service (environment prefix ``CF_SELFSERVICE_``)."""

from decimal import Decimal

from pydantic_settings import SettingsConfigDict

from counterflow_shared.settings import ServiceSettings


class SelfServiceSettings(ServiceSettings):
    """selfservice settings; every field of :class:`ServiceSettings` plus the service's own.

    Attributes:
        heartbeat_timeout_s: a device whose last heartbeat is older than this is marked
            offline by the watchdog (seconds). 90 s = three missed beats at the 30 s
            interval devices are configured with.
        watchdog_interval_s: how often the offline watchdog and the diversion expiry run
            (seconds); a device goes offline at most ``heartbeat_timeout_s +
            watchdog_interval_s`` after its last heartbeat.
        max_clock_skew_s: a device time more than this in the future is refused (seconds).
        max_report_age_s: a transaction or replenishment older than this is refused
            (seconds; devices store and forward for at most a week).
        diversion_window_s: how long an accepted diversion is expected at a device when
            the event carries no ``expires_at`` (seconds).
        mean_transaction_s: assumed service time of one customer at a device, used for
            the expected wait (seconds). 90 s is a planning assumption for a cash
            withdrawal at an ATM, to be replaced by measured durations.
        forecast_refit_s: the cash demand model of a device is refitted at most this
            often (seconds).
        default_typical_withdrawal: the "typical withdrawal" (major units) of a device
            with no withdrawal history yet; afterwards the median of its recent
            withdrawals is used.
        holiday_country / holiday_subdivision: whose public holidays the cash forecast
            knows (ISO 3166 code and subdivision of the ``holidays`` package); the
            default is the Czech Republic, where the reference bank's branches are.
    """

    model_config = SettingsConfigDict(env_prefix="CF_SELFSERVICE_", extra="ignore")
    #: the fleet page's live stream re-reads the branch's devices this often (seconds)
    fleet_refresh_s: float = 2.0
    #: where staff find the ticketing pages (the header's home link)
    ticketing_page_url: str = "http://127.0.0.1:8101"

    service_name: str = "selfservice"
    database_name: str = "counterflow_selfservice"
    http_port: int = 8102
    heartbeat_timeout_s: float = 90.0
    watchdog_interval_s: float = 5.0
    max_clock_skew_s: float = 300.0
    max_report_age_s: float = 7 * 24 * 3600.0
    diversion_window_s: float = 1800.0
    mean_transaction_s: float = 90.0
    forecast_refit_s: float = 3600.0
    default_typical_withdrawal: Decimal = Decimal("100")
    holiday_country: str = "CZ"
    holiday_subdivision: str | None = None


def get_settings() -> SelfServiceSettings:
    """Read the settings from the environment."""
    return SelfServiceSettings()
