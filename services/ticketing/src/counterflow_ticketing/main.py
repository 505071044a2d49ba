"""App factory of the ticketing service: ``uvicorn counterflow_ticketing.main:create_app --factory``."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request

from counterflow_shared.events.catalog import consumer_group
from counterflow_shared.runtime import ServiceSpec, create_service_app
from counterflow_shared.web.health import check_redis
from counterflow_ticketing.api.pages import kit
from counterflow_ticketing.api.pages import router as pages_router
from counterflow_ticketing.api.routes import routers
from counterflow_ticketing.events.handlers import handlers, read_model_guard, rebuild_read_models, seed, watch_read_models
from counterflow_ticketing.events.day_close import business_day_close_loop
from counterflow_ticketing.events.diversion_backstop import diversion_backstop_loop
from counterflow_ticketing.events.snapshots import load_snapshot_loop
from counterflow_ticketing.metrics import sample_branches
from counterflow_ticketing.persistence.rules_tables import rule_decisions
from counterflow_ticketing.persistence.tables import backbone
from counterflow_ticketing.settings import TicketingSettings, get_settings

PACKAGE_DIR = Path(__file__).parent

SPEC = ServiceSpec(
    name="ticketing",
    package_dir=PACKAGE_DIR,
    backbone_tables=backbone,
    consumers={consumer_group("ticketing"): handlers},
    background=(load_snapshot_loop, business_day_close_loop, diversion_backstop_loop, watch_read_models),
    retained_tables=(rule_decisions,),
    samplers=(sample_branches,),
)


async def _read_models_ready(request: Request) -> tuple[bool, str]:
    """``/readyz`` check: says when the Redis read models are being rebuilt."""
    return read_model_guard(request.app.state.runtime).readiness()


def create_app(settings: TicketingSettings | None = None, *, group_suffix: str = "") -> FastAPI:
    """Build the ticketing app (branches, counters, tickets, queues and wait estimates).

    At start-up the standard service types are seeded and the Redis read models are
    rebuilt from the compacted topics when Redis is empty; later losses (Redis flushed or
    restarted) are noticed and rebuilt while serving (``read_model_guard``). The pages
    (lobby console, calling display, teller workstation, rules) are served beside the API.
    """
    app = create_service_app(
        SPEC,
        settings or get_settings(),
        title="Counterflow ticketing",
        description="Branches, counters, tickets, queues and wait estimates.",
        routers=routers,
        on_startup=(seed, rebuild_read_models),
        group_suffix=group_suffix,
        extra_checks={"redis": check_redis, "read_models": _read_models_ready},  # read models and displays live in Redis
    )
    kit.install(app)
    app.include_router(pages_router)
    return app
