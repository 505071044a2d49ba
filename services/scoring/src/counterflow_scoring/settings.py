"""Settings of the scoring service (environment prefix ``CF_SCORING_``)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from counterflow_shared.settings import ServiceSettings

#: ``../shared/data/berka`` next to the repository (the layout of the workspace).
DEFAULT_BERKA_DIR = Path(__file__).resolve().parents[5] / "shared" / "data" / "berka"

#: Default tier shares of the book, highest tier first; ``basic`` takes the rest.
#: Private top 2 %, VIP next 5 %, premium next 15 %, mass next 48 %, basic the last 30 %.
DEFAULT_TIER_SHARES: dict[str, float] = {"private": 0.02, "vip": 0.05, "premium": 0.15, "mass": 0.48}


class ScoringSettings(ServiceSettings):
    """scoring settings; every field of :class:`ServiceSettings` plus the service's own.

    Attributes:
        berka_data_dir: folder of the PKDD'99 ``*.asc`` files (import default).
        import_data_root: the only server folder (and its subfolders) the import API may
            read; a ``data_dir`` resolving outside it (``/etc``, ``../..``, a symlink
            leading out) is refused. Default: the shared data folder holding
            ``berka_data_dir``.
        import_chunk_rows: rows written per transaction (and per resume checkpoint).
        tier_shares: share of the book per tier, highest first (``private``, ``vip``,
            ``premium``, ``mass``); ``basic`` takes what is left. Each in (0, 1), sum < 1.
        score_as_of: reference date of tenure and age; ``None`` = the latest date in the
            imported book (1998-12-29 for PKDD'99), so a rescore is reproducible.
        material_propensity_move: absolute change of any channel's acceptance probability
            (probability units, 0..1) since the last published value that is worth an event.
        propensity_prior_strength: pseudo-count of the Beta prior around the model's
            probability; a customer's own accept/decline outcomes outweigh the population
            model after about this many offers.
        propensity_min_training_outcomes: accept/decline outcomes of a channel needed
            (with both answers present) before the learned model replaces the cold start.
    """

    model_config = SettingsConfigDict(env_prefix="CF_SCORING_", extra="ignore")

    service_name: str = "scoring"
    database_name: str = "counterflow_scoring"
    http_port: int = 8104
    berka_data_dir: Path = DEFAULT_BERKA_DIR
    import_data_root: Path = DEFAULT_BERKA_DIR.parent
    import_chunk_rows: int = Field(default=5000, ge=100)
    tier_shares: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_TIER_SHARES))
    score_as_of: date | None = None
    material_propensity_move: float = Field(default=0.05, gt=0, lt=1)
    propensity_prior_strength: float = Field(default=4.0, gt=0)
    propensity_min_training_outcomes: int = Field(default=200, ge=10)

    @field_validator("tier_shares")
    @classmethod
    def _check_shares(cls, shares: dict[str, float]) -> dict[str, float]:
        from counterflow_scoring.domain.tiers import validate_shares

        return validate_shares(shares)


def get_settings() -> ScoringSettings:
    """Read the settings from the environment."""
    return ScoringSettings()
