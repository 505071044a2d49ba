"""Settings of the selfservice service (environment prefix ``CF_SELFSERVICE_``)."""

from pydantic_settings import SettingsConfigDict

from counterflow_shared.settings import ServiceSettings


class SelfServiceSettings(ServiceSettings):
    """selfservice settings; every field of :class:`ServiceSettings` plus the service's own."""

    model_config = SettingsConfigDict(env_prefix="CF_SELFSERVICE_", extra="ignore")

    service_name: str = "selfservice"
    database_name: str = "counterflow_selfservice"
    http_port: int = 8102


def get_settings() -> SelfServiceSettings:
    """Read the settings from the environment."""
    return SelfServiceSettings()
