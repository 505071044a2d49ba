"""App factory of the mobile-gateway service: ``uvicorn counterflow_mobile_gateway.main:create_app --factory``."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import FastAPI, Request

from counterflow_shared.events.catalog import consumer_group
from counterflow_shared.runtime import ServiceSpec, create_service_app
from counterflow_shared.web.health import check_redis
from counterflow_mobile_gateway.api.routes import routers
from counterflow_mobile_gateway.domain.channel import build_read_models, read_model_guard, watch_read_models
from counterflow_mobile_gateway.domain.sweeper import sweeper
from counterflow_mobile_gateway.domain.webhooks import webhook_sender
from counterflow_mobile_gateway.events.fanout import fanout_of
from counterflow_mobile_gateway.events.handlers import handlers
from counterflow_mobile_gateway.persistence.tables import backbone, rule_decisions
from counterflow_mobile_gateway.settings import MobileGatewaySettings, get_settings

PACKAGE_DIR = Path(__file__).parent

SPEC = ServiceSpec(
    name="mobile-gateway",
    package_dir=PACKAGE_DIR,
    backbone_tables=backbone,
    consumers={consumer_group("mobile-gateway"): handlers},
    background=(sweeper, watch_read_models, webhook_sender),
    retained_tables=(rule_decisions,),
)


async def _read_models_ready(request: Request) -> tuple[bool, str]:
    """``/readyz`` check: says when the Redis read models are being rebuilt."""
    return read_model_guard(request.app.state.runtime).readiness()


def create_app(settings: MobileGatewaySettings | None = None, *, group_suffix: str = "") -> FastAPI:
    """Build the mobile-gateway app (the backend of the mobile and web bank).

    Besides the service defaults, the lifespan runs this instance's SSE fan-out hub
    (one Redis pub/sub subscription) while the app is up.
    """
    settings = settings or get_settings()
    app = create_service_app(
        SPEC,
        settings,
        title="Counterflow mobile-gateway",
        description="The backend of the mobile and web bank (customers sign in at the bank's OpenID Connect provider): branch info, remote tickets, appointments, hand-off drafts, notifications.",
        routers=routers,
        on_startup=(build_read_models,),
        group_suffix=group_suffix,
        extra_checks={"redis": check_redis, "read_models": _read_models_ready},  # read models and SSE live in Redis
    )
    inner = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(app_: FastAPI) -> AsyncIterator[None]:
        async with inner(app_):
            hub = fanout_of(app_.state.runtime)
            task = asyncio.create_task(hub.run(), name="mobile-gateway:fanout")
            try:
                await hub.wait_ready()
                yield
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    app.router.lifespan_context = lifespan
    return app
