"""``Idempotency-Key`` handling for POST endpoints (IETF draft-ietf-httpapi-idempotency-key-header).

The key row is inserted in the request's own transaction. A concurrent duplicate blocks
on the primary key until the first request commits, then sees its stored response: one
effect, the same answer. The same key with a different body is a 422. Failed requests
(4xx/5xx raised as exceptions) roll back, so their key is free to retry.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi.responses import JSONResponse
from sqlalchemy import Table, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from counterflow_shared.web.problems import Problem

MAX_KEY_LENGTH = 200


def request_fingerprint(body: Any) -> str:
    """SHA-256 of the canonical JSON of ``body`` (key order does not matter)."""
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str, separators=(",", ":")).encode()).hexdigest()


def check_key(key: str) -> None:
    """Raise 422 naming ``header.Idempotency-Key`` unless it has 1..200 characters."""
    if not key or len(key) > MAX_KEY_LENGTH:
        raise Problem(422, "validation-error", "Request is invalid", f"header.Idempotency-Key: must be 1..{MAX_KEY_LENGTH} characters", errors=[{"field": "header.Idempotency-Key", "message": "bad length"}])


def reused_key() -> Problem:
    """The 422 ``idempotency-key-reused`` problem (same key, another body)."""
    return Problem(
        422,
        "idempotency-key-reused",
        "Idempotency-Key reused with a different request",
        "this Idempotency-Key was already used with a different request body",
        errors=[{"field": "header.Idempotency-Key", "message": "reused with a different body"}],
    )


async def run_idempotent(
    session: AsyncSession,
    table: Table,
    *,
    scope: str,
    key: str | None,
    body: Any,
    compute: Callable[[], Awaitable[tuple[int, Any]]],
) -> JSONResponse:
    """Run ``compute`` at most once per ``(scope, key)``.

    Args:
        table: the service's ``idempotency_keys`` table.
        scope: namespace (e.g. ``kiosk:<device>:tickets``) so keys of different callers never meet.
        key: the ``Idempotency-Key`` header, or ``None`` (then ``compute`` simply runs).
        body: the parsed request body (fingerprinted).
        compute: returns ``(status_code, json_body)``.

    Raises:
        Problem: 422 ``idempotency-key-reused`` when the key was used with another body;
            422 when the key is empty or longer than 200 characters.
    """
    if key is None:
        status, payload = await compute()
        return JSONResponse(payload, status_code=status)
    check_key(key)
    fingerprint = request_fingerprint(body)
    dialect = postgresql if session.bind.dialect.name == "postgresql" else sqlite
    inserted = (
        await session.execute(
            dialect.insert(table).values(scope=scope, key=key, request_hash=fingerprint).on_conflict_do_nothing().returning(table.c.key)
        )
    ).first()
    if inserted is None:
        row = (await session.execute(select(table).where(table.c.scope == scope, table.c.key == key))).one()
        if row.request_hash != fingerprint:
            raise reused_key()
        return JSONResponse(json.loads(row.response_body), status_code=row.status_code, headers={"Idempotent-Replayed": "true"})
    status, payload = await compute()
    await session.execute(
        update(table).where(table.c.scope == scope, table.c.key == key).values(status_code=status, response_body=json.dumps(payload, default=str).encode())
    )
    return JSONResponse(payload, status_code=status)
