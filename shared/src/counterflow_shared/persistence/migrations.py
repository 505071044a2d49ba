"""Alembic glue shared by every service's ``migrations/env.py``.

Each service keeps its own migration scripts (``<package>/migrations/versions``) and its
own ``alembic_version`` table in its own database. File names are date-and-slug
(``file_template`` in :func:`alembic_config`), autogenerate compares types.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import async_engine_from_config


def alembic_config(package_dir: Path, database_url: str) -> Config:
    """An Alembic :class:`Config` for the migrations folder under ``package_dir``."""
    cfg = Config()
    cfg.set_main_option("script_location", str(package_dir / "migrations"))
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    cfg.set_main_option("file_template", "%%(year)d_%%(month).2d_%%(day).2d_%%(hour).2d%%(minute).2d-%%(slug)s")
    return cfg


def head_revisions(package_dir: Path) -> frozenset[str]:
    """The head revision ids of the service's scripts (for readiness). Several heads are
    allowed: independent branches of work each add their own revision chain."""
    return frozenset(ScriptDirectory.from_config(alembic_config(package_dir, "sqlite://")).get_heads())


def upgrade_to_head(package_dir: Path, database_url: str) -> None:
    """Run ``alembic upgrade heads`` (blocking; from async code use ``asyncio.to_thread``)."""
    command.upgrade(alembic_config(package_dir, database_url), "heads")


def _do_run(connection: Connection, metadata: MetaData) -> None:
    context.configure(connection=connection, target_metadata=metadata, compare_type=True, render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


async def _run_async(metadata: MetaData) -> None:
    engine = async_engine_from_config(context.config.get_section(context.config.config_ini_section, {}), prefix="sqlalchemy.", poolclass=pool.NullPool)
    async with engine.connect() as connection:
        await connection.run_sync(_do_run, metadata)
    await engine.dispose()


def run_env(metadata: MetaData) -> None:
    """The whole body of a service's ``env.py``: offline SQL or online async upgrade."""
    if context.is_offline_mode():
        context.configure(url=context.config.get_main_option("sqlalchemy.url"), target_metadata=metadata, literal_binds=True, compare_type=True)
        with context.begin_transaction():
            context.run_migrations()
    else:
        asyncio.run(_run_async(metadata))
