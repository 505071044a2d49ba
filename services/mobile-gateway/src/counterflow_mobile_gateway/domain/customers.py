"""The development identity provider's customer logins and token grants (RFC 6749:
resource-owner password grant §4.3 and refresh grant §6). A bank's own identity
provider replaces all of this; only :class:`~.identity.TokenAuthority.verify` stays."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from counterflow_shared.web.auth import hash_secret, verify_secret
from counterflow_shared.web.problems import Problem, conflict
from counterflow_mobile_gateway.domain.identity import TokenAuthority, hash_refresh_token, new_refresh_token
from counterflow_mobile_gateway.persistence import identity as repo

#: Verified against when the username is unknown, so both failures take the same time.
_DUMMY_HASH = hash_secret("counterflow-no-such-customer")


def invalid_grant(detail: str) -> Problem:
    """400 with the OAuth 2.0 error code ``invalid_grant`` (RFC 6749 §5.2) as ``error``."""
    return Problem(400, "invalid-grant", "Invalid grant", detail, error="invalid_grant")


async def register(session: AsyncSession, *, username: str, password: str, customer_id: str | None, now: datetime) -> dict[str, str]:
    """Create a login; the password is stored as an Argon2id hash.

    Raises:
        Problem: 409 ``username-taken`` (or customer id taken).
    """
    cid = customer_id or f"c-{uuid.uuid4().hex[:16]}"
    password_hash = await asyncio.to_thread(hash_secret, password)
    if not await repo.add_customer(session, customer_id=cid, username=username, password_hash=password_hash, now=now):
        raise conflict("username-taken", "that username or customer id is already registered")
    return {"customer_id": cid, "username": username}


async def _tokens(session: AsyncSession, authority: TokenAuthority, *, customer_id: str, refresh_ttl_s: int, now: datetime) -> dict[str, Any]:
    refresh, refresh_hash = new_refresh_token()
    await repo.add_refresh_token(session, token_hash=refresh_hash, customer_id=customer_id, expires_at=now + timedelta(seconds=refresh_ttl_s), now=now)
    return {
        "access_token": authority.issue_access_token(customer_id, now=now),
        "token_type": "Bearer",
        "expires_in": authority.access_ttl_s,
        "refresh_token": refresh,
        "scope": "customer",
    }


async def password_grant(session: AsyncSession, authority: TokenAuthority, *, username: str, password: str, refresh_ttl_s: int, now: datetime) -> dict[str, Any]:
    """Tokens for a correct username and password.

    Raises:
        Problem: 400 ``invalid_grant`` for a wrong username or password (same answer for both).
    """
    row = await repo.customer_by_username(session, username=username)
    ok = await asyncio.to_thread(verify_secret, row["password_hash"] if row else _DUMMY_HASH, password)
    if row is None or not ok:
        raise invalid_grant("wrong username or password")
    return await _tokens(session, authority, customer_id=row["customer_id"], refresh_ttl_s=refresh_ttl_s, now=now)


async def refresh_grant(session: AsyncSession, authority: TokenAuthority, *, refresh_token: str, refresh_ttl_s: int, now: datetime) -> dict[str, Any]:
    """New tokens for an unused, unexpired refresh token, which is used up (rotation).

    Raises:
        Problem: 400 ``invalid_grant`` for an unknown, expired or already used token.
    """
    customer_id = await repo.use_refresh_token(session, token_hash=hash_refresh_token(refresh_token), now=now)
    if customer_id is None:
        raise invalid_grant("refresh token unknown, expired or already used")
    return await _tokens(session, authority, customer_id=customer_id, refresh_ttl_s=refresh_ttl_s, now=now)
