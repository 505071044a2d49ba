"""Transaction-scoped advisory locks (PostgreSQL ``pg_advisory_xact_lock``)."""

from __future__ import annotations

import hashlib

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession


def _lock_key(namespace: str, ident: str) -> int:
    """A signed 64-bit key from the first 8 bytes of SHA-256(namespace:ident)."""
    return int.from_bytes(hashlib.sha256(f"{namespace}:{ident}".encode()).digest()[:8], "big", signed=True)


async def lock_customer(session: AsyncSession, *, namespace: str, customer_id: str) -> None:
    """Hold a lock on ``(namespace, customer_id)`` until the transaction ends, so that
    checks such as "at most N active remote tickets" cannot race."""
    await session.execute(select(func.pg_advisory_xact_lock(_lock_key(namespace, customer_id))))
