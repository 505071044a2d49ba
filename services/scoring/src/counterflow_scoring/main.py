"""App factory of the scoring service: ``uvicorn counterflow_scoring.main:create_app --factory``."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from counterflow_shared.events.catalog import consumer_group
from counterflow_shared.runtime import ServiceSpec, create_service_app
from counterflow_scoring.api.routes import routers
from counterflow_scoring.events.handlers import handlers
from counterflow_scoring.persistence.tables import backbone
from counterflow_scoring.settings import ScoringSettings, get_settings

PACKAGE_DIR = Path(__file__).parent

SPEC = ServiceSpec(
    name="scoring",
    package_dir=PACKAGE_DIR,
    backbone_tables=backbone,
    consumers={consumer_group("scoring"): handlers},
)


def create_app(settings: ScoringSettings | None = None, *, group_suffix: str = "") -> FastAPI:
    """Build the scoring app (customer contribution, tiers and channel propensity)."""
    return create_service_app(
        SPEC,
        settings or get_settings(),
        title="Counterflow scoring",
        description="Customer contribution, tiers and channel propensity.",
        routers=routers,
        group_suffix=group_suffix,
    )
