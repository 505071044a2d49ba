"""The "service defaults" every Counterflow service adds in one call (after dotnet
eShop's ServiceDefaults): engine and sessions, Redis, outbox relay, consumers, logging,
tracing, problem+json, health, and the FastAPI app around the service's routers.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Depends, FastAPI, Request
from redis.asyncio import BlockingConnectionPool, Redis
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from counterflow_shared.clock import Clock, ClockNotSet, make_clock
from counterflow_shared.events.catalog import ConsumerGroup
from counterflow_shared.events.consumer import ConsumerRuntime, Handler
from counterflow_shared.events.envelope import Envelope, new_event
from counterflow_shared.events.outbox import OutboxRelay, publish
from counterflow_shared.events.security import client_options
from counterflow_shared.metrics import backbone as backbone_metrics
from counterflow_shared.metrics.exposition import metrics_router, serve_worker_metrics
from counterflow_shared.metrics.http import HttpMetricsMiddleware
from counterflow_shared.metrics.sampling import Sampler, sample_metrics
from counterflow_shared.persistence.db import create_engine, session_factory
from counterflow_shared.persistence.migrations import head_revisions, known_revisions, wait_for_schema
from counterflow_shared.persistence.outage import OutageLog, is_database_outage
from counterflow_shared.persistence.retention import retention_loop
from counterflow_shared.settings import ServiceSettings
from counterflow_shared.telemetry import configure_logging, configure_tracing, instrument_app
from counterflow_shared.web.docs import install_offline_docs
from counterflow_shared.web.edge import EdgeGuard, document_edge
from counterflow_shared.web.health import Check, check_redis, health_router
from counterflow_shared.web.overload import InFlightLimit
from counterflow_shared.web.problems import document_problems, install_problem_handlers

log = structlog.get_logger(__name__)

#: Background loop of a service (e.g. a heartbeat watchdog): gets the runtime, runs until cancelled.
Background = Callable[["ServiceRuntime"], Awaitable[None]]


@dataclass
class ServiceSpec:
    """What a service tells the runtime about itself.

    Attributes:
        name: service name (``ticketing``...), CloudEvents source ``/counterflow/<name>``.
        package_dir: directory of the service package (holds ``migrations/``).
        backbone_tables: the service's ``outbox``/``processed_events``/``idempotency_keys``.
        consumers: consumer group -> factory of its handlers (called with the runtime).
        background: extra loops started with embedded workers.
        samplers: functions that set the service's business gauges from its stores, run
            every ``metrics_sample_interval_s`` with the workers (:mod:`counterflow_shared.metrics.sampling`).
        retained_tables: audit tables with a retention rule besides the backbone's
            (``rule_decisions``; see :mod:`counterflow_shared.persistence.retention`).
    """

    name: str
    package_dir: Path
    backbone_tables: Mapping[str, Table]
    consumers: Mapping[ConsumerGroup, Callable[["ServiceRuntime"], Mapping[str, Handler]]] = field(default_factory=dict)
    background: Sequence[Background] = ()
    samplers: Sequence[Sampler] = ()
    retained_tables: Sequence[Table] = ()


class ServiceRuntime:
    """Process-wide resources of one service. Create with :meth:`create`, then
    :meth:`start_workers` / :meth:`aclose`."""

    def __init__(self, spec: ServiceSpec, settings: ServiceSettings, *, group_suffix: str = "") -> None:
        self.spec = spec
        self.settings = settings
        self.engine: AsyncEngine = create_engine(
            settings.database_url,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            pool_timeout_s=settings.db_pool_timeout_s,
            pool_recycle_s=settings.db_pool_recycle_s,
            connect_timeout_s=settings.db_connect_timeout_s,
            metrics_name=spec.name,
        )
        self.sessions: async_sessionmaker[AsyncSession] = session_factory(self.engine)
        #: the same pool in autocommit mode: each statement is its own transaction, with no
        #: BEGIN / COMMIT round trips (the one-statement kiosk path, ADR 0150)
        self.autocommit: AsyncEngine = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        # a blocking pool: under a burst (e.g. 1,000 SSE clients) callers wait for a
        # connection instead of failing at once with MaxConnectionsError
        self.redis: Redis = Redis(
            connection_pool=BlockingConnectionPool.from_url(settings.redis_url, max_connections=settings.redis_max_connections, timeout=settings.redis_pool_timeout_s, decode_responses=True)
        )
        self.source = f"/counterflow/{spec.name}"
        self.migration_heads = head_revisions(spec.package_dir)
        self.known_revisions = known_revisions(spec.package_dir)
        self.relay: OutboxRelay | None = None
        self.consumers: list[ConsumerRuntime] = []
        self._group_suffix = group_suffix
        self._tasks: list[asyncio.Task] = []
        self._loop_tasks: list[asyncio.Task] = []
        #: this runtime's database outage log (one per database, so two runtimes in one
        #: process, as in tests, do not log each other's outages)
        self.outages = OutageLog()
        self.state: dict[str, Any] = {}
        #: the domain clock (``settings.clock``): every business "now" of the service
        self.clock: Clock = make_clock(settings.clock, self.redis, settings.clock_key)
        backbone_metrics.track(self)

    async def wait_for_schema(self) -> None:
        """Before the relay and consumers start: wait while the schema is behind this
        release (the migration Job runs beside the rollout, docs/operations.md "Upgrade and
        roll back"); one ``SELECT`` when it is not."""
        detail = await wait_for_schema(self.engine, self.migration_heads, self.known_revisions, log=lambda d: log.warning("workers.waiting_for_schema", detail=d))
        log.info("workers.schema_checked", detail=detail)

    def warn_if_simulated(self) -> None:
        """Log a loud warning when the domain clock is simulated (never in production)."""
        if self.clock.simulated:
            log.warning(
                "clock.simulated",
                service=self.spec.name,
                clock_key=self.settings.clock_key,
                detail=f"SIMULATED CLOCK: every domain time of {self.spec.name} comes from Redis key {self.settings.clock_key!r} (CF_CLOCK=redis); not for production",
            )

    @property
    def outbox(self) -> Table:
        """The service's outbox table."""
        return self.spec.backbone_tables["outbox"]

    @property
    def idempotency_keys(self) -> Table:
        """The service's Idempotency-Key table."""
        return self.spec.backbone_tables["idempotency_keys"]

    def event(self, payload: Any, **kwargs: Any) -> Envelope:
        """Wrap a catalog payload in an envelope with this service as source."""
        return new_event(payload, source=self.source, **kwargs)

    async def publish(self, session: AsyncSession, *payloads: Any, time: datetime | None = None) -> list[Envelope]:
        """Write events for ``payloads`` to the outbox in ``session``'s transaction.

        ``time`` is the envelope ``time`` of every new event: the domain instant of the
        operation that caused them (``None``: the real clock, for events no domain
        operation caused)."""
        envelopes = [p if isinstance(p, Envelope) else self.event(p, time=time) for p in payloads]
        await publish(session, self.outbox, envelopes, topic_prefix=self.settings.topic_prefix)
        return envelopes

    def build_workers(self) -> list[Any]:
        """The relay and one consumer runtime per consumer group."""
        s = self.settings
        self.relay = OutboxRelay(
            session_factory=self.sessions,
            outbox=self.outbox,
            bootstrap_servers=s.kafka_bootstrap_servers,
            kafka=client_options(s),
            client_id=f"{s.topic_prefix}{self.spec.name}-relay",
            poll_interval_s=s.relay_poll_interval_s,
            batch_size=s.relay_batch_size,
            request_timeout_s=s.kafka_request_timeout_s,
            service=self.spec.name,
            listen_url=s.database_url if s.database_url.startswith("postgresql") else None,
            sent_retention_s=s.outbox_sent_retention_s,
        )
        self.consumers = [
            ConsumerRuntime(
                group=group,
                handlers=factory(self),
                session_factory=self.sessions,
                processed_events=self.spec.backbone_tables["processed_events"],
                bootstrap_servers=s.kafka_bootstrap_servers,
                kafka=client_options(s),
                topic_prefix=s.topic_prefix,
                group_suffix=self._group_suffix,
                max_retries=s.consumer_max_retries,
                retry_backoff_s=s.consumer_retry_backoff_s,
                request_timeout_s=s.kafka_request_timeout_s,
                shutdown_grace_s=s.shutdown_grace_s,
                batch_size=s.consumer_batch_size,
            )
            for group, factory in self.spec.consumers.items()
        ]
        return [self.relay, *self.consumers]

    def start_workers(self) -> None:
        """Start relay, consumers and background loops as tasks of the running loop."""
        for worker in self.build_workers():
            worker.outages = self.outages
            self._tasks.append(asyncio.create_task(worker.run(), name=f"{self.spec.name}:{type(worker).__name__}"))
        for loop in (*self.spec.background, retention_loop, sample_metrics):
            self._loop_tasks.append(asyncio.create_task(self._guard(loop), name=f"{self.spec.name}:{loop.__name__}"))

    async def _guard(self, loop: Background) -> None:
        clock_warned = False
        while True:
            try:
                await loop(self)
                return
            except asyncio.CancelledError:
                raise
            except ClockNotSet as exc:  # the simulated clock's driver has not started yet
                if not clock_warned:
                    log.warning("background.waiting_for_clock", loop=loop.__name__, detail=exc.detail)
                    clock_warned = True
                await asyncio.sleep(1.0)
            except Exception as exc:  # noqa: BLE001 - a background loop restarts after a failure
                if is_database_outage(exc):
                    self.outages.failed(exc, f"background {loop.__name__}")  # logged once per outage
                else:
                    log.exception("background.failed", loop=loop.__name__)
                await asyncio.sleep(1.0)

    async def stop_workers(self) -> None:
        """Stop workers, letting in-flight events finish within ``shutdown_grace_s``."""
        workers = [w for w in [self.relay, *self.consumers] if w is not None]
        for w in workers:
            w.stop()
        # Background loops (sweepers, snapshots, watchers) hold no in-flight event: they
        # stop at once on the signal (an open transaction rolls back), instead of using up
        # the grace period that the relay and consumers need.
        for t in self._loop_tasks:
            t.cancel()
        if self._loop_tasks:
            await asyncio.wait(self._loop_tasks, timeout=1.0)
        self._loop_tasks.clear()
        if self._tasks:
            done, pending = await asyncio.wait(self._tasks, timeout=self.settings.shutdown_grace_s)
            for t in pending:
                t.cancel()
            if pending:
                await asyncio.wait(pending, timeout=1.0)
        self._tasks.clear()

    async def aclose(self) -> None:
        """Stop workers and release connections."""
        await self.stop_workers()
        await self.redis.aclose()
        await self.engine.dispose()


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's unit of work: committed when the endpoint returns, rolled back on error."""
    runtime: ServiceRuntime = request.app.state.runtime
    async with runtime.sessions() as session:
        async with session.begin():
            yield session
    if runtime.outages.since is not None:
        runtime.outages.ok()


async def get_runtime(request: Request) -> ServiceRuntime:
    """The service runtime of the app handling ``request`` (``async`` so that FastAPI
    does not hop to a worker thread for it, as it does for every plain ``def`` dependency)."""
    return request.app.state.runtime


#: ``scope="function"``: the transaction commits when the endpoint function returns, BEFORE
#: the response is sent, so a client never sees a 2xx for a change that failed to commit
#: and a follow-up request always sees it (FastAPI's default scope commits after sending).
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
RuntimeDep = Annotated[ServiceRuntime, Depends(get_runtime)]


def create_service_app(
    spec: ServiceSpec,
    settings: ServiceSettings,
    *,
    title: str,
    description: str,
    routers: Sequence[APIRouter],
    extra_checks: dict[str, Check] | None = None,
    on_startup: Sequence[Callable[[ServiceRuntime], Awaitable[None]]] = (),
    group_suffix: str = "",
) -> FastAPI:
    """Build the FastAPI app of a service with every default wired in.

    Routers are mounted as given (they carry their own ``/v1`` prefixes); ``/healthz``,
    ``/readyz``, ``/openapi.json`` and Swagger UI at ``/docs`` (vendored, no CDN) come
    for free.
    """
    configure_logging(service=spec.name, level=settings.log_level, json=settings.log_json)
    configure_tracing(service=spec.name, exporter=settings.otel_exporter, endpoint=settings.otel_endpoint)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = ServiceRuntime(spec, settings, group_suffix=group_suffix)
        app.state.runtime = runtime
        app.state.settings = settings
        instrument_app(app, runtime.engine, statements=settings.otel_exporter != "none")
        runtime.warn_if_simulated()
        if settings.embedded_workers:
            await runtime.wait_for_schema()
        for hook in on_startup:
            await hook(runtime)
        if settings.embedded_workers:
            runtime.start_workers()
        log.info("service.started", service=spec.name, embedded_workers=settings.embedded_workers)
        try:
            yield
        finally:
            await runtime.aclose()
            log.info("service.stopped", service=spec.name)

    # docs_enabled=False (the prod overlay): no /docs and no /openapi.json on any host; the
    # contract stays published in docs/api/ (make contract)
    docs = getattr(settings, "docs_enabled", True)
    app = FastAPI(title=title, description=description, version="1.0.0", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url="/openapi.json" if docs else None)
    app.state.settings = settings
    if docs:
        install_offline_docs(app)
    app.add_middleware(InFlightLimit, limit=settings.max_in_flight)
    install_problem_handlers(app)
    app.add_middleware(EdgeGuard, default_max_body_bytes=settings.http_max_body_bytes)
    app.add_middleware(HttpMetricsMiddleware)  # outermost of ours: edge refusals (413, 422) are counted and logged too
    if settings.clock == "redis":  # every domain "now" comes from Redis
        extra_checks = {"redis": check_redis, **(extra_checks or {})}
    app.include_router(health_router(extra_checks))
    app.include_router(metrics_router())
    for router in routers:
        app.include_router(router)
    document_edge(app)
    document_problems(app)
    return app


async def run_worker_process(spec: ServiceSpec, settings: ServiceSettings) -> None:
    """Entry point of a worker process (relay + consumers, no HTTP): runs until SIGTERM or
    SIGINT, then finishes in-flight events within ``shutdown_grace_s`` seconds."""
    configure_logging(service=f"{spec.name}-worker", level=settings.log_level, json=settings.log_json)
    configure_tracing(service=spec.name, exporter=settings.otel_exporter, endpoint=settings.otel_endpoint)
    serve_worker_metrics(settings.metrics_port)
    runtime = ServiceRuntime(spec, settings)
    runtime.warn_if_simulated()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    waiting = asyncio.ensure_future(runtime.wait_for_schema())
    stopped = asyncio.ensure_future(stop.wait())
    await asyncio.wait({waiting, stopped}, return_when=asyncio.FIRST_COMPLETED)
    if not waiting.done():
        waiting.cancel()
        await runtime.aclose()
        return
    stopped.cancel()
    runtime.start_workers()
    await stop.wait()
    await runtime.aclose()


def serve_http(app: FastAPI, settings: ServiceSettings) -> None:
    """Run ``app`` under uvicorn on the configured host and port. Uvicorn's own logging
    configuration is skipped (``log_config=None``): its loggers propagate to the root
    handler of :func:`~counterflow_shared.telemetry.configure_logging`, so they print the
    same JSON lines; the access log is the app's own ``http.request`` line (route
    template, status, duration, trace id), not uvicorn's."""
    import uvicorn

    uvicorn.run(app, host=settings.http_host, port=settings.http_port, log_config=None, log_level=settings.log_level.lower(), access_log=False)
