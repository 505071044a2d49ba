"""SQLAlchemy 2 async engine and session handling.

The request (or the consumer's event) owns the transaction: :func:`session_scope`
opens one session, commits at the end or rolls back on error. Domain code never calls
``commit()``; that is what lets the outbox rows commit with the state change.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase

from counterflow_shared.metrics.db import MeteredPool

#: Constraint names Alembic can reproduce (polar's convention).
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_metadata() -> MetaData:
    """A fresh :class:`MetaData` with the naming convention (one per service)."""
    return MetaData(naming_convention=NAMING_CONVENTION)


def make_base() -> type[DeclarativeBase]:
    """A declarative base class bound to a fresh metadata (one per service)."""

    class Base(DeclarativeBase):
        metadata = new_metadata()

    return Base


def create_engine(
    url: str,
    *,
    pool_size: int = 5,
    max_overflow: int = 0,
    pool_timeout_s: float = 1.0,
    pool_recycle_s: float = 1800.0,
    connect_timeout_s: float = 3.0,
    echo: bool = False,
    metrics_name: str = "",
) -> AsyncEngine:
    """Create the async engine for ``url`` (``postgresql+asyncpg://`` or ``sqlite+aiosqlite://``).

    PostgreSQL pools hold ``pool_size`` connections (plus ``max_overflow``), make a caller
    wait at most ``pool_timeout_s`` seconds for one (the HTTP layer turns that timeout into
    a 503 problem with ``Retry-After``) and replace connections older than
    ``pool_recycle_s`` seconds. There is no pre-ping: it would cost a round trip (three
    with its transaction) on every checkout; a connection broken by a database restart
    fails one request, is discarded by the pool and the client retries (ADR 0152).
    Opening a connection gives up after ``connect_timeout_s`` seconds (asyncpg's default
    is 60 s), so an unreachable database is a 503, not a hung request; a stopped or
    restarting one refuses at once. 3 s, not less: on a loaded 2-core machine a healthy
    connect (TLS attempt, auth) was measured over 0.8 s.
    With ``metrics_name`` the pool reports its connections and waits under that name
    (:mod:`counterflow_shared.metrics.db`).
    """
    kwargs: dict = {"echo": echo}
    if url.startswith("postgresql"):
        kwargs.update(pool_size=pool_size, max_overflow=max_overflow, pool_timeout=pool_timeout_s, pool_recycle=pool_recycle_s, connect_args={"timeout": connect_timeout_s})
        if metrics_name:
            kwargs["poolclass"] = MeteredPool
    engine = create_async_engine(url, **kwargs)
    if metrics_name and isinstance(engine.sync_engine.pool, MeteredPool):
        engine.sync_engine.pool.metrics_name = metrics_name
    return engine


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep attributes after commit (``expire_on_commit=False``)."""
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def session_scope(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """One unit of work: yields a session inside a transaction, commits on success,
    rolls back (and re-raises) on any exception."""
    async with factory() as session:
        async with session.begin():
            yield session
