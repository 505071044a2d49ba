"""App factory of the selfservice service: ``uvicorn counterflow_selfservice.main:create_app --factory``."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from counterflow_shared.events.catalog import consumer_group
from counterflow_shared.runtime import ServiceSpec, create_service_app
from counterflow_selfservice.api.pages import kit
from counterflow_selfservice.api.pages import router as pages_router
from counterflow_selfservice.api.routes import routers
from counterflow_selfservice.background import diversion_expiry, offline_watchdog
from counterflow_selfservice.metrics import sample_devices
from counterflow_selfservice.events.handlers import handlers
from counterflow_selfservice.persistence.tables import backbone
from counterflow_selfservice.settings import SelfServiceSettings, get_settings

PACKAGE_DIR = Path(__file__).parent

SPEC = ServiceSpec(
    name="selfservice",
    package_dir=PACKAGE_DIR,
    backbone_tables=backbone,
    consumers={consumer_group("selfservice"): handlers},
    background=(offline_watchdog, diversion_expiry),
    samplers=(sample_devices,),
)


def create_app(settings: SelfServiceSettings | None = None, *, group_suffix: str = "") -> FastAPI:
    """Build the selfservice app (ATMs, cash recyclers and kiosks) with its fleet page."""
    app = create_service_app(
        SPEC,
        settings or get_settings(),
        title="Counterflow selfservice",
        description="ATMs, cash recyclers and kiosks.",
        routers=routers,
        group_suffix=group_suffix,
    )
    kit.install(app)
    app.include_router(pages_router)
    return app
