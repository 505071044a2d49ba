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


def create_engine(url: str, *, pool_size: int = 10, pool_timeout_s: float = 10.0, connect_timeout_s: float = 0.8, echo: bool = False) -> AsyncEngine:
    """Create the async engine for ``url`` (``postgresql+asyncpg://`` or ``sqlite+aiosqlite://``).

    PostgreSQL pools hold ``pool_size`` connections plus as many overflow ones, are
    pre-pinged (a database restart costs one failed checkout at most) and make a caller
    wait at most ``pool_timeout_s`` seconds for a connection; the HTTP layer turns that
    timeout into a 503 problem. Opening a connection gives up after ``connect_timeout_s``
    seconds (asyncpg's default is 60 s), so an unreachable database is a fast 503, not a
    hung request.
    """
    kwargs: dict = {"echo": echo, "pool_pre_ping": True}
    if url.startswith("postgresql"):
        kwargs.update(pool_size=pool_size, max_overflow=pool_size, pool_timeout=pool_timeout_s, connect_args={"timeout": connect_timeout_s})
    return create_async_engine(url, **kwargs)


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
