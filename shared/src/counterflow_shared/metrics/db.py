"""Database connection pool metrics (semconv ``db.client.connection.*``).

:class:`MeteredPool` is SQLAlchemy's asyncio queue pool timing each checkout: how many
callers wait (``db_client_connection_pending_requests``), how long
(``db_client_connection_wait_time_seconds``) and how many gave up
(``db_client_connection_timeouts_total``). Connections in use and idle are read from every
live pool at scrape time.
"""

from __future__ import annotations

import logging
import time
import weakref
from collections.abc import Iterator
from typing import Any

from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.pool import AsyncAdaptedQueuePool

PENDING = Gauge("db_client_connection_pending_requests", "Callers waiting for a pooled database connection (semconv db.client.connection.pending_requests).", ["db_client_connection_pool_name"])
WAIT_TIME = Histogram(
    "db_client_connection_wait_time_seconds",
    "Time to obtain a pooled database connection (semconv db.client.connection.wait_time).",
    ["db_client_connection_pool_name"],
    buckets=(0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 2.5, 5.0, 10.0),
)
TIMEOUTS = Counter("db_client_connection_timeouts", "Checkouts that gave up after the pool timeout (semconv db.client.connection.timeouts); each became a 503.", ["db_client_connection_pool_name"])

_pools: weakref.WeakSet[MeteredPool] = weakref.WeakSet()

# SQLAlchemy names a pool's logger after its class; ours is outside the "sqlalchemy"
# namespace, which SQLAlchemy keeps at WARNING: keep it there too (no "Pool disposed").
logging.getLogger(f"{__name__}.MeteredPool").setLevel(logging.WARNING)


class MeteredPool(AsyncAdaptedQueuePool):
    """An :class:`AsyncAdaptedQueuePool` that meters checkouts under ``metrics_name``."""

    metrics_name = "default"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _pools.add(self)

    def _do_get(self) -> Any:
        name = self.metrics_name
        started = time.perf_counter()
        PENDING.labels(name).inc()
        try:
            return super()._do_get()
        except PoolTimeout:
            TIMEOUTS.labels(name).inc()
            raise
        finally:
            PENDING.labels(name).dec()
            WAIT_TIME.labels(name).observe(time.perf_counter() - started)

    def recreate(self) -> MeteredPool:
        """A fresh pool (after ``dispose``) that keeps reporting under the same name."""
        new = super().recreate()  # built with self.__class__: a MeteredPool
        assert isinstance(new, MeteredPool)
        new.metrics_name = self.metrics_name
        return new


class PoolCollector:
    """``db_client_connection_count{state=used|idle}`` and ``db_client_connection_max``."""

    def collect(self) -> Iterator[Any]:
        """Yield the connection counts of every live :class:`MeteredPool` (summed by name)."""
        count = GaugeMetricFamily("db_client_connection_count", "Pooled database connections by state (semconv db.client.connection.count).", labels=["db_client_connection_pool_name", "db_client_connection_state"])
        maximum = GaugeMetricFamily("db_client_connection_max", "Most connections the pool may open (semconv db.client.connection.max).", labels=["db_client_connection_pool_name"])
        used: dict[str, int] = {}
        idle: dict[str, int] = {}
        most: dict[str, int] = {}
        for pool in list(_pools):
            name = pool.metrics_name
            used[name] = used.get(name, 0) + pool.checkedout()
            idle[name] = idle.get(name, 0) + pool.checkedin()
            most[name] = most.get(name, 0) + pool.size() + max(0, pool._max_overflow)  # noqa: SLF001 - no public accessor
        for name in used:
            count.add_metric([name, "used"], used[name])
            count.add_metric([name, "idle"], idle[name])
            maximum.add_metric([name], most[name])
        yield count
        yield maximum


REGISTRY.register(PoolCollector())
