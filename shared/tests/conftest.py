"""Fixtures for the shared library's own tests: a database holding the backbone tables."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text

from counterflow_shared.persistence.db import create_engine, make_base, session_factory
from counterflow_shared.persistence.tables import add_backbone_tables
from counterflow_testkit import create_database, drop_database


@pytest.fixture
async def backbone_db(infrastructure) -> AsyncIterator[tuple]:  # noqa: ANN001
    """(engine, sessionmaker, tables) on a fresh PostgreSQL database with the backbone tables."""
    name = f"cf_test_shared_{uuid.uuid4().hex[:8]}"
    url = create_database(name)
    base = make_base()
    tables = add_backbone_tables(base.metadata)
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(base.metadata.create_all)
        await conn.execute(text("CREATE TABLE things (id serial primary key, name text not null)"))
    try:
        yield engine, session_factory(engine), tables
    finally:
        await engine.dispose()
        drop_database(name)
