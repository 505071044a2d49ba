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
from collections.abc import Callable

from sqlalchemy import MetaData, pool, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.ext.asyncio import AsyncEngine, async_engine_from_config


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


def known_revisions(package_dir: Path) -> frozenset[str]:
    """Every revision id in the service's scripts (heads and their ancestors)."""
    return frozenset(rev.revision for rev in ScriptDirectory.from_config(alembic_config(package_dir, "sqlite://")).walk_revisions())


def schema_compatibility(database: frozenset[str], heads: frozenset[str], known: frozenset[str]) -> tuple[bool, str]:
    """Whether code whose scripts end at ``heads`` (and contain ``known``) may run on a
    database stamped ``database`` (its ``alembic_version`` rows).

    - equal to ``heads``: at head, compatible;
    - any revision the code does not know: a newer release migrated it (the Job of a
      rolling upgrade runs before the new pods). Migrations are expand/contract
      (docs/operations.md, "Upgrade and roll back"), so the previous release runs on the
      next schema: compatible, and the old pods keep serving until the rollout replaces them;
    - only known revisions, but not the heads (or none at all): behind, incompatible: the
      code may need a column that is not there yet.

    Returns:
        ``(compatible, detail)``; ``detail`` names the revisions for ``/readyz``.
    """
    if database == heads:
        return True, f"revision {', '.join(sorted(database))}"
    unknown = database - known
    if unknown:
        return True, f"schema ahead of this release (revision {', '.join(sorted(unknown))} is newer than {', '.join(sorted(heads))}; expand/contract keeps it compatible)"
    return False, f"migrations not at head (database {sorted(database)}, code {sorted(heads)}): run the migration Job"


async def wait_for_schema(engine: AsyncEngine, heads: frozenset[str], known: frozenset[str], *, interval_s: float = 2.0, log: Callable[[str], None] | None = None) -> str:
    """Wait while the database's schema is behind the code (:func:`schema_compatibility`),
    polling every ``interval_s`` seconds. Workers call this before they consume, so a pod
    of a new release never applies events to a schema its migration Job has not upgraded
    yet. A database with no ``alembic_version`` table is behind (the Job has not run).
    An unreachable database is not waited for: the consumers' own outage handling covers
    it, and blocking here would hide the outage from the logs and metrics.

    Returns:
        The detail of the state it went on with.
    """
    while True:
        try:
            async with engine.connect() as conn:
                database = frozenset((await conn.execute(text("SELECT version_num FROM alembic_version"))).scalars())
        except ProgrammingError:  # no alembic_version table: never migrated
            database = frozenset()
        except Exception as exc:  # noqa: BLE001 - an outage: not this function's to wait for
            return f"schema not checked (database unreachable: {type(exc).__name__})"
        ok, detail = schema_compatibility(database, heads, known)
        if ok:
            return detail
        if log is not None:
            log(detail)
        await asyncio.sleep(interval_s)


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
