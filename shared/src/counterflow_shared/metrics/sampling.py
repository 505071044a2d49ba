"""The periodic loop that samples the gauges read from the database: the outbox backlog
and each service's business gauges (``ServiceSpec.samplers``)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import structlog

from counterflow_shared.metrics.backbone import sample_outbox
from counterflow_shared.persistence.outage import is_database_outage

if TYPE_CHECKING:
    from counterflow_shared.runtime import ServiceRuntime

log = structlog.get_logger(__name__)

#: A sampler sets gauges from the service's stores; called every ``metrics_sample_interval_s``.
Sampler = Callable[["ServiceRuntime"], Awaitable[None]]


async def sample_metrics(runtime: ServiceRuntime) -> None:
    """Run the outbox sampler and the service's samplers every
    ``settings.metrics_sample_interval_s`` seconds until cancelled. A failing sampler is
    logged (a database outage once per outage) and retried next period; the others still
    run, and the gauges keep their last values."""
    samplers: list[Sampler] = [sample_outbox, *runtime.spec.samplers]
    while True:
        for sampler in samplers:
            try:
                await sampler(runtime)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - a gauge must never take the process down
                name = getattr(sampler, "__name__", repr(sampler))
                if is_database_outage(exc):
                    runtime.outages.failed(exc, f"metrics {name}")  # logged once per outage
                else:
                    log.warning("metrics.sample_failed", sampler=name, error=f"{type(exc).__name__}: {exc}")
        await asyncio.sleep(runtime.settings.metrics_sample_interval_s)
