"""Settings of the mobile-gateway service (environment prefix ``CF_MOBILE_``)."""

from pydantic_settings import SettingsConfigDict

from counterflow_shared.settings import ServiceSettings


class MobileGatewaySettings(ServiceSettings):
    """mobile-gateway settings; every field of :class:`ServiceSettings` plus the service's own."""

    model_config = SettingsConfigDict(env_prefix="CF_MOBILE_", extra="ignore")

    service_name: str = "mobile-gateway"
    database_name: str = "counterflow_mobile"
    http_port: int = 8103


def get_settings() -> MobileGatewaySettings:
    """Read the settings from the environment."""
    return MobileGatewaySettings()
