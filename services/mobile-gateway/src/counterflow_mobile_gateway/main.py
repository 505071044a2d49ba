"""App factory of the mobile-gateway service: ``uvicorn counterflow_mobile_gateway.main:create_app --factory``."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

from fastapi import FastAPI, Request

from counterflow_shared.events.catalog import consumer_group
from counterflow_shared.runtime import ServiceRuntime, ServiceSpec, create_service_app
from counterflow_shared.web.health import check_redis
from counterflow_mobile_gateway.api.routes import routers
from counterflow_mobile_gateway.domain.channel import build_read_models, read_model_guard, watch_read_models
from counterflow_mobile_gateway.domain.identity import TokenAuthority, generate_private_key, private_key_pem
from counterflow_mobile_gateway.persistence import identity as identity_repo
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


def token_authority(settings: MobileGatewaySettings) -> TokenAuthority:
    """The customer token authority configured by ``settings``."""
    return TokenAuthority(
        issuer=settings.customer_jwt_issuer,
        audience=settings.customer_jwt_audience,
        algorithm=settings.customer_jwt_algorithm,
        private_key_pem=settings.customer_jwt_private_key_pem if settings.dev_idp_enabled else "",
        public_key_pem=settings.customer_jwt_public_key_pem,
        access_ttl_s=settings.access_token_ttl_s,
    )


async def _read_models_ready(request: Request) -> tuple[bool, str]:
    """``/readyz`` check: says when the Redis read models are being rebuilt."""
    return read_model_guard(request.app.state.runtime).readiness()


def needs_stored_key(settings: MobileGatewaySettings) -> bool:
    """Whether the development identity provider signs with no configured key: it then
    uses the key persisted in the gateway's database (ADR 0166), never a new key per
    start (which would invalidate every customer token on each restart)."""
    return settings.dev_idp_enabled and not settings.customer_jwt_private_key_pem and not settings.customer_jwt_public_key_pem


async def stored_authority(runtime: ServiceRuntime, settings: MobileGatewaySettings) -> TokenAuthority:
    """A :class:`TokenAuthority` on the persisted signing key (created on first start).

    The key's creation time is wall-clock time (an operational fact, like a log line), not
    the domain clock: under the replay's simulated clock (CF_CLOCK=redis) the clock is not
    set yet when the gateway starts."""
    async with runtime.sessions() as session, session.begin():
        pem = await identity_repo.stored_signing_key(session, settings.customer_jwt_algorithm, lambda: private_key_pem(generate_private_key(settings.customer_jwt_algorithm)), datetime.now(UTC))
    return token_authority(settings.model_copy(update={"customer_jwt_private_key_pem": pem}))


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
        description="The backend of the mobile and web bank: customer auth, branch info, remote tickets, appointments, hand-off drafts, notifications.",
        routers=routers,
        on_startup=(build_read_models,),
        group_suffix=group_suffix,
        extra_checks={"redis": check_redis, "read_models": _read_models_ready},  # read models and SSE live in Redis
    )
    app.state.authority = token_authority(settings)
    inner = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(app_: FastAPI) -> AsyncIterator[None]:
        async with inner(app_):
            if needs_stored_key(settings):
                app_.state.authority = await stored_authority(app_.state.runtime, settings)
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
