"""The probe service: app, consumer handlers, settings."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from fastapi import APIRouter
from opentelemetry import trace
from pydantic import BaseModel
from pydantic_settings import SettingsConfigDict
from sqlalchemy import Column, DateTime, Integer, String, Table, func, select, update
from sqlalchemy.dialects.postgresql import insert

from counterflow_shared.events.catalog import CUSTOMER_SCORES, ConsumerGroup
from counterflow_shared.events.payloads.common import Tier
from counterflow_shared.events.payloads.scores import CustomerScored
from counterflow_shared.persistence.db import make_base
from counterflow_shared.persistence.tables import add_backbone_tables
from counterflow_shared.runtime import RuntimeDep, ServiceSpec, SessionDep, create_service_app, run_worker_process
from counterflow_shared.settings import ServiceSettings

Base = make_base()
metadata = Base.metadata
backbone = add_backbone_tables(metadata)
notes = Table("notes", metadata, Column("id", Integer, primary_key=True), Column("customer_id", String(64), nullable=False), Column("created_at", DateTime(timezone=True), server_default=func.now()))
received = Table(
    "received",
    metadata,
    Column("event_id", String(64), primary_key=True),
    Column("customer_id", String(64), nullable=False),
    Column("trace_id", String(32), nullable=True),
    Column("received_at", DateTime(timezone=True), server_default=func.now()),
)
effects = Table("effects", metadata, Column("name", String(32), primary_key=True), Column("count", Integer, nullable=False))

PROBE_GROUP = ConsumerGroup("probe", "probe", (CUSTOMER_SCORES,), "backbone tests")


class ProbeSettings(ServiceSettings):
    """Probe settings (prefix ``CF_PROBE_``): ``role`` is producer, consumer or both;
    ``handler_delay_s`` slows each handled event (seconds)."""

    model_config = SettingsConfigDict(env_prefix="CF_PROBE_", extra="ignore")
    service_name: str = "probe"
    role: str = "both"
    handler_delay_s: float = 0.0


class NoteIn(BaseModel):
    """A note for ``customer_id``."""

    customer_id: str


router = APIRouter(prefix="/v1")


@router.post("/notes", status_code=201)
async def create_note(body: NoteIn, session: SessionDep, runtime: RuntimeDep) -> dict:
    """Insert a note and its event in one transaction."""
    note_id = (await session.execute(notes.insert().values(customer_id=body.customer_id).returning(notes.c.id))).scalar_one()
    [event] = await runtime.publish(session, scored(body.customer_id))
    return {"note_id": note_id, "event_id": event.id}


def scored(customer_id: str) -> CustomerScored:
    """A payload for ``customer_id`` (content is irrelevant to the backbone)."""
    return CustomerScored(customer_id=customer_id, score=1.0, percentile=0.5, tier=Tier.MASS, propensity={"mobile": 0.5}, model_version="probe", computed_at=datetime.now(UTC))


def handlers(runtime):  # noqa: ANN001, ANN201 - consumer handler factory
    """Record each event once in ``received`` and bump the ``effects`` counter."""
    delay = runtime.settings.handler_delay_s

    async def on_scored(session, envelope, payload):  # noqa: ANN001, ANN202
        if payload.customer_id.startswith("poison"):
            raise RuntimeError(f"cannot handle {payload.customer_id}")
        if delay:
            await asyncio.sleep(delay)
        ctx = trace.get_current_span().get_span_context()
        await session.execute(insert(received).values(event_id=envelope.id, customer_id=payload.customer_id, trace_id=format(ctx.trace_id, "032x")))
        await session.execute(insert(effects).values(name="handled", count=1).on_conflict_do_update(index_elements=["name"], set_={"count": effects.c.count + 1}))

    return {"customer.score.updated.v1": on_scored}


def spec(settings: ProbeSettings) -> ServiceSpec:
    """The probe's ServiceSpec for its role."""
    return ServiceSpec(
        name="probe",
        package_dir=Path(__file__).parent,
        backbone_tables=backbone,
        consumers={PROBE_GROUP: handlers} if settings.role in ("consumer", "both") else {},
    )


def create_app(settings: ProbeSettings | None = None):  # noqa: ANN201
    """The probe FastAPI app."""
    settings = settings or ProbeSettings()
    return create_service_app(spec(settings), settings, title="probe", description="backbone probe", routers=[router])


async def counts(session) -> tuple[int, int]:  # noqa: ANN001
    """(rows in received, handled effects)."""
    n = (await session.execute(select(func.count()).select_from(received))).scalar_one()
    e = (await session.execute(select(effects.c.count).where(effects.c.name == "handled"))).scalar_one_or_none() or 0
    return n, e


__all__ = ["create_app", "run_worker_process", "update"]
