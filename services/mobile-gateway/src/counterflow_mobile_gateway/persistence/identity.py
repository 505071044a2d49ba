"""Queries of the development identity provider: customers, refresh tokens and its
persisted signing key."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import RowMapping, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from counterflow_mobile_gateway.persistence.tables import customers, refresh_tokens, signing_keys


async def add_customer(session: AsyncSession, *, customer_id: str, username: str, password_hash: str, now: datetime) -> bool:
    """Insert a customer; ``False`` when the username (or id) is already taken."""
    stmt = (
        pg_insert(customers)
        .values(customer_id=customer_id, username=username, password_hash=password_hash, created_at=now)
        .on_conflict_do_nothing()
        .returning(customers.c.customer_id)
    )
    return (await session.execute(stmt)).first() is not None


async def customer_by_username(session: AsyncSession, *, username: str) -> RowMapping | None:
    """The customer called ``username`` (case-insensitive), or ``None``."""
    stmt = select(customers).where(func.lower(customers.c.username) == username.lower())
    return (await session.execute(stmt)).mappings().first()


async def add_refresh_token(session: AsyncSession, *, token_hash: str, customer_id: str, expires_at: datetime, now: datetime) -> None:
    """Store the hash of a new refresh token."""
    await session.execute(insert(refresh_tokens).values(token_hash=token_hash, customer_id=customer_id, expires_at=expires_at, created_at=now))


async def use_refresh_token(session: AsyncSession, *, token_hash: str, now: datetime) -> str | None:
    """Mark an unused, unexpired refresh token used and return its customer id; ``None``
    when it is unknown, expired or already used (a single atomic UPDATE, so two
    concurrent uses of one token cannot both succeed)."""
    stmt = (
        update(refresh_tokens)
        .where(refresh_tokens.c.token_hash == token_hash, refresh_tokens.c.used_at.is_(None), refresh_tokens.c.expires_at > now)
        .values(used_at=now)
        .returning(refresh_tokens.c.customer_id)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def stored_signing_key(session: AsyncSession, algorithm: str, generate: Callable[[], str], now: datetime) -> str:
    """The persisted signing key (PEM) of ``algorithm``, created with ``generate()`` the
    first time. ``INSERT .. ON CONFLICT DO NOTHING`` then a read: instances starting
    together all end up with the one key that won."""
    await session.execute(
        pg_insert(signing_keys).values(algorithm=algorithm, private_key_pem=generate(), created_at=now).on_conflict_do_nothing(index_elements=[signing_keys.c.algorithm])
    )
    return (await session.execute(select(signing_keys.c.private_key_pem).where(signing_keys.c.algorithm == algorithm))).scalar_one()
