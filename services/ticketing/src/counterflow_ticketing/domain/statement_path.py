"""What the kiosk request (:mod:`kiosk_request`) and the teller actions
(:mod:`teller_actions`) share on their read-and-write-statement path (ADRs 0150, 0156):
the outbox row of an event as statement parameters, and an ``Idempotency-Key`` write
that a concurrent twin may have won."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from fastapi.responses import JSONResponse
from sqlalchemy import TextClause
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from counterflow_shared.events.outbox import outbox_rows
from counterflow_shared.web.idempotency import reused_key
from counterflow_ticketing.domain.context import Ctx
from counterflow_ticketing.persistence.kiosk_statements import REPLAY

if TYPE_CHECKING:
    from counterflow_shared.runtime import ServiceRuntime


def event_values(runtime: "ServiceRuntime", ctx: Ctx, payload: Any) -> dict[str, Any]:
    """The outbox row of event ``payload`` (envelope time ``ctx.now``) as the statement
    parameters ``event_id``, ``topic``, ``event_key``, ``event_value`` (JSON text) and
    ``event_headers`` (JSON text)."""
    (row,) = outbox_rows([runtime.event(payload, time=ctx.now)], topic_prefix=runtime.settings.topic_prefix)
    return {"event_id": row["event_id"], "topic": row["topic"], "event_key": row["key"], "event_value": row["value"].decode(), "event_headers": json.dumps(row["headers"])}


def replayed(raw: str, fingerprint: str) -> JSONResponse:
    """The stored answer ``raw`` (``[request_hash, status, body]`` JSON text) of an
    Idempotency-Key, with ``Idempotent-Replayed: true``.

    Raises:
        Problem: 422 ``idempotency-key-reused`` when the key came with another body
            (``fingerprint``).
    """
    request_hash, status, body = json.loads(raw)
    if request_hash != fingerprint:
        raise reused_key()
    return JSONResponse(json.loads(body), status_code=status, headers={"Idempotent-Replayed": "true"})


async def write_once(conn: AsyncConnection, stmt: TextClause, values: dict[str, Any], *, scope: str, key: str | None, fingerprint: str) -> Any:
    """Run the write ``stmt`` that also stores the answer of ``key`` (if any): its one
    result row, or the stored answer (:func:`replayed`) when a concurrent twin with the
    same key committed first (the statement failed on the key's primary key and rolled
    back entirely)."""
    try:
        return (await conn.execute(stmt, values)).one()
    except IntegrityError as exc:
        if key is None or "idempotency_keys" not in str(exc.orig):
            raise
        raw = (await conn.execute(REPLAY, {"scope": scope, "key": key})).scalar_one()
        return replayed(raw, fingerprint)
