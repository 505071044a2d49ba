"""Settings of the ticketing service (environment prefix ``CF_TICKETING_``)."""

from pydantic_settings import SettingsConfigDict

from counterflow_shared.settings import ServiceSettings


class TicketingSettings(ServiceSettings):
    """ticketing settings; every field of :class:`ServiceSettings` plus the service's own."""

    model_config = SettingsConfigDict(env_prefix="CF_TICKETING_", extra="ignore")

    service_name: str = "ticketing"
    database_name: str = "counterflow_ticketing"
    http_port: int = 8101


def get_settings() -> TicketingSettings:
    """Read the settings from the environment."""
    return TicketingSettings()
