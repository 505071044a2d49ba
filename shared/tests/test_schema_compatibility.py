"""Which schema a release may run on (rolling upgrades with a migration Job), and the
workers' wait while the schema is behind. Real PostgreSQL for the wait."""

from __future__ import annotations

import asyncio

from sqlalchemy import text

from counterflow_shared.persistence.db import create_engine
from counterflow_shared.persistence.migrations import schema_compatibility, wait_for_schema

HEADS = frozenset({"c3"})
KNOWN = frozenset({"a1", "b2", "c3"})


def test_at_head_is_compatible() -> None:
    ok, detail = schema_compatibility(frozenset({"c3"}), HEADS, KNOWN)
    assert ok and "c3" in detail


def test_a_newer_release_schema_keeps_the_old_release_ready() -> None:
    """The migration Job of release N+1 has run; release N's pods keep serving."""
    ok, detail = schema_compatibility(frozenset({"d4"}), HEADS, KNOWN)
    assert ok and "ahead" in detail and "d4" in detail


def test_behind_or_never_migrated_is_not_compatible() -> None:
    for database in (frozenset({"b2"}), frozenset()):
        ok, detail = schema_compatibility(database, HEADS, KNOWN)
        assert not ok and "not at head" in detail


def test_several_heads_must_all_be_there() -> None:
    heads = frozenset({"c3", "x9"})
    assert not schema_compatibility(frozenset({"c3"}), heads, KNOWN | heads)[0]
    assert schema_compatibility(frozenset({"c3", "x9"}), heads, KNOWN | heads)[0]


async def test_workers_wait_while_behind_and_go_on_at_head(backbone_db) -> None:  # noqa: ANN001
    engine, _, _ = backbone_db
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY)"))
        await conn.execute(text("INSERT INTO alembic_version VALUES ('b2')"))
    said: list[str] = []
    waiting = asyncio.create_task(wait_for_schema(engine, HEADS, KNOWN, interval_s=0.05, log=said.append))
    await asyncio.sleep(0.5)
    assert not waiting.done(), "a worker must not consume on a schema behind its code"
    assert said and "not at head" in said[0]
    async with engine.begin() as conn:  # the migration Job finishes
        await conn.execute(text("UPDATE alembic_version SET version_num = 'c3'"))
    detail = await asyncio.wait_for(waiting, timeout=5)
    assert "c3" in detail


async def test_a_never_migrated_database_is_waited_for(backbone_db) -> None:  # noqa: ANN001
    engine, _, _ = backbone_db  # no alembic_version table at all
    waiting = asyncio.create_task(wait_for_schema(engine, HEADS, KNOWN, interval_s=0.05))
    await asyncio.sleep(0.3)
    assert not waiting.done()
    waiting.cancel()


async def test_an_unreachable_database_is_not_waited_for() -> None:
    """An outage is the consumers' own business (outage log, metrics), not a reason to hang."""
    engine = create_engine("postgresql+asyncpg://nobody:x@127.0.0.1:1/none")
    try:
        detail = await asyncio.wait_for(wait_for_schema(engine, HEADS, KNOWN, interval_s=0.05), timeout=10)
    finally:
        await engine.dispose()
    assert "not checked" in detail
