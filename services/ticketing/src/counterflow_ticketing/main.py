"""App factory of the ticketing service: ``uvicorn counterflow_ticketing.main:create_app --factory``."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from counterflow_shared.events.catalog import consumer_group
from counterflow_shared.runtime import ServiceSpec, create_service_app
from counterflow_ticketing.api.routes import routers
from counterflow_ticketing.events.handlers import handlers
from counterflow_ticketing.persistence.tables import backbone
from counterflow_ticketing.settings import TicketingSettings, get_settings

PACKAGE_DIR = Path(__file__).parent

SPEC = ServiceSpec(
    name="ticketing",
    package_dir=PACKAGE_DIR,
    backbone_tables=backbone,
    consumers={consumer_group("ticketing"): handlers},
)


def create_app(settings: TicketingSettings | None = None, *, group_suffix: str = "") -> FastAPI:
    """Build the ticketing app (branches, counters, tickets, queues and wait estimates)."""
    return create_service_app(
        SPEC,
        settings or get_settings(),
        title="Counterflow ticketing",
        description="Branches, counters, tickets, queues and wait estimates.",
        routers=routers,
        group_suffix=group_suffix,
    )
