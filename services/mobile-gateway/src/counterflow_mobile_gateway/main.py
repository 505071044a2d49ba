"""App factory of the mobile-gateway service: ``uvicorn counterflow_mobile_gateway.main:create_app --factory``."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from counterflow_shared.events.catalog import consumer_group
from counterflow_shared.runtime import ServiceSpec, create_service_app
from counterflow_mobile_gateway.api.routes import routers
from counterflow_mobile_gateway.events.handlers import handlers
from counterflow_mobile_gateway.persistence.tables import backbone
from counterflow_mobile_gateway.settings import MobileGatewaySettings, get_settings

PACKAGE_DIR = Path(__file__).parent

SPEC = ServiceSpec(
    name="mobile-gateway",
    package_dir=PACKAGE_DIR,
    backbone_tables=backbone,
    consumers={consumer_group("mobile-gateway"): handlers},
)


def create_app(settings: MobileGatewaySettings | None = None, *, group_suffix: str = "") -> FastAPI:
    """Build the mobile-gateway app (the backend of the mobile and web bank)."""
    return create_service_app(
        SPEC,
        settings or get_settings(),
        title="Counterflow mobile-gateway",
        description="The backend of the mobile and web bank.",
        routers=routers,
        group_suffix=group_suffix,
    )
