"""Settings of the scoring service (environment prefix ``CF_SCORING_``)."""

from pydantic_settings import SettingsConfigDict

from counterflow_shared.settings import ServiceSettings


class ScoringSettings(ServiceSettings):
    """scoring settings; every field of :class:`ServiceSettings` plus the service's own."""

    model_config = SettingsConfigDict(env_prefix="CF_SCORING_", extra="ignore")

    service_name: str = "scoring"
    database_name: str = "counterflow_scoring"
    http_port: int = 8104


def get_settings() -> ScoringSettings:
    """Read the settings from the environment."""
    return ScoringSettings()
