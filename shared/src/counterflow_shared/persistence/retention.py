"""Retention of the backbone tables and of audit records (ADR 0153).

What is kept, and for how long, is stated in :class:`~counterflow_shared.settings.ServiceSettings`:

* sent ``outbox`` rows: ``outbox_sent_retention_s`` (default 0: the relay deletes them as
  soon as the broker acknowledged them; a positive value keeps them for inspection);
* ``processed_events``: ``processed_events_retention_s`` (default 8 days), longer than the
  topics' retention (Kafka's default is 7 days), so any redelivery still in the log is
  recognised as a duplicate;
* ``idempotency_keys``: ``idempotency_retention_s`` (default 48 h, at least the 24 h of
  the IETF Idempotency-Key draft);
* decision records (``rule_decisions``, audit data): ``decision_retention_days`` (default
  ten years), indexed on ``decided_at`` so the purge is a range delete.

:func:`purge` deletes in batches of :data:`BATCH` rows (short statements, no long lock);
:func:`retention_loop` runs it every ``retention_interval_s`` seconds in the worker.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import structlog
from sqlalchemy import Column, Table, delete, select
from sqlalchemy.ext.asyncio import AsyncEngine

if TYPE_CHECKING:
    from counterflow_shared.runtime import ServiceRuntime
    from counterflow_shared.settings import ServiceSettings

log = structlog.get_logger(__name__)

#: rows deleted per statement
BATCH = 5000


@dataclass(frozen=True)
class Rule:
    """Delete rows of ``table`` whose ``column`` (aware timestamp) is older than ``keep``;
    ``only_sent`` restricts the outbox rule to rows already sent."""

    table: Table
    column: Column
    keep: timedelta
    only_sent: bool = False


def rules_for(tables: dict[str, Table], settings: "ServiceSettings") -> list[Rule]:
    """The retention rules of a service's backbone ``tables`` (and its ``rule_decisions``
    table when ``tables`` has one) under ``settings``."""
    out = [
        Rule(tables["outbox"], tables["outbox"].c.sent_at, timedelta(seconds=settings.outbox_sent_retention_s), only_sent=True),
        Rule(tables["processed_events"], tables["processed_events"].c.processed_at, timedelta(seconds=settings.processed_events_retention_s)),
        Rule(tables["idempotency_keys"], tables["idempotency_keys"].c.created_at, timedelta(seconds=settings.idempotency_retention_s)),
    ]
    decisions = tables.get("rule_decisions")
    if decisions is not None:
        out.append(Rule(decisions, decisions.c.decided_at, timedelta(days=settings.decision_retention_days)))
    return out


async def purge(engine: AsyncEngine, rules: list[Rule], *, now: datetime) -> dict[str, int]:
    """Delete what ``rules`` no longer keep at ``now`` (aware); returns rows deleted per table."""
    deleted: dict[str, int] = {}
    for rule in rules:
        cutoff = now - rule.keep
        key = rule.table.primary_key.columns.values()
        victims = select(*key).where(rule.column < cutoff).limit(BATCH)
        if rule.only_sent:
            victims = victims.where(rule.column.is_not(None))
        total = 0
        while True:
            async with engine.begin() as conn:
                if len(key) == 1:
                    stmt = delete(rule.table).where(key[0].in_(victims.scalar_subquery()))
                else:
                    from sqlalchemy import tuple_

                    stmt = delete(rule.table).where(tuple_(*key).in_(victims))
                n = (await conn.execute(stmt)).rowcount or 0
            total += n
            if n < BATCH:
                break
        deleted[rule.table.name] = total
    return deleted


async def retention_loop(runtime: "ServiceRuntime") -> None:
    """Background loop of the worker: :func:`purge` every ``retention_interval_s`` seconds."""
    from datetime import UTC

    tables = dict(runtime.spec.backbone_tables)
    tables.update({t.name: t for t in runtime.spec.retained_tables})
    rules = rules_for(tables, runtime.settings)
    while True:
        deleted = await purge(runtime.engine, rules, now=datetime.now(UTC))
        if any(deleted.values()):
            log.info("retention.purged", **deleted)
        await asyncio.sleep(runtime.settings.retention_interval_s)
