"""Every SQL query of the scoring service (PostgreSQL; upserts use ``ON CONFLICT``)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from counterflow_scoring.persistence import tables as t

BOOK_TABLES: dict[str, Table] = {
    "districts": t.districts,
    "accounts": t.accounts,
    "clients": t.clients,
    "dispositions": t.dispositions,
    "standing_orders": t.standing_orders,
    "loans": t.loans,
    "cards": t.cards,
    "transactions": t.transactions,
}


# --- import -------------------------------------------------------------------------------


async def get_checkpoint(session: AsyncSession, *, dataset: str, table_name: str) -> dict[str, Any] | None:
    """The import checkpoint of ``table_name`` in ``dataset``, or ``None``."""
    row = (await session.execute(select(t.import_checkpoints).where(t.import_checkpoints.c.dataset == dataset, t.import_checkpoints.c.table_name == table_name))).mappings().first()
    return dict(row) if row else None


async def save_checkpoint(session: AsyncSession, *, dataset: str, table_name: str, fingerprint: str, rows_done: int, rows_total: int, completed_at: datetime | None) -> None:
    """Create or move the checkpoint of ``table_name``."""
    values = {"dataset": dataset, "table_name": table_name, "fingerprint": fingerprint, "rows_done": rows_done, "rows_total": rows_total, "completed_at": completed_at, "updated_at": func.now()}
    stmt = insert(t.import_checkpoints).values(values)
    await session.execute(stmt.on_conflict_do_update(index_elements=["dataset", "table_name"], set_={k: stmt.excluded[k] for k in ("fingerprint", "rows_done", "rows_total", "completed_at", "updated_at")}))


async def upsert_book_rows(session: AsyncSession, table_name: str, key: str, rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows`` into book table ``table_name``, replacing rows with the same ``key``
    (so a re-import of the same file changes nothing and a corrected file wins)."""
    if not rows:
        return
    table = BOOK_TABLES[table_name]
    stmt = insert(table)
    await session.execute(stmt.on_conflict_do_update(index_elements=[key], set_={c.name: stmt.excluded[c.name] for c in table.columns if c.name != key}), list(rows))


async def upsert_imported_customers(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Make sure every imported client (``customer_id``, ``client_id``) is a customer."""
    if not rows:
        return
    stmt = insert(t.customers)
    await session.execute(stmt.on_conflict_do_update(index_elements=["customer_id"], set_={"client_id": stmt.excluded.client_id}), [{"customer_id": r["customer_id"], "client_id": r["client_id"]} for r in rows])


async def count_rows(session: AsyncSession, table_name: str) -> int:
    """Number of rows of book table ``table_name`` (or ``customers``)."""
    table = BOOK_TABLES[table_name] if table_name in BOOK_TABLES else t.customers
    return int((await session.execute(select(func.count()).select_from(table))).scalar_one())


async def load_book_records(session: AsyncSession, columns: dict[str, Iterable[str]]) -> dict[str, list[dict[str, Any]]]:
    """The given ``columns`` of every book table as row dicts."""
    out = {}
    for name, cols in columns.items():
        table = BOOK_TABLES[name]
        result = await session.execute(select(*[table.c[c] for c in cols]))
        out[name] = [dict(r) for r in result.mappings()]
    return out


# --- live profile -------------------------------------------------------------------------


async def touch_customer(session: AsyncSession, *, customer_id: str, at: datetime, home_branch_id: str | None = None) -> None:
    """Create the customer if unknown and move ``last_activity_at`` forward."""
    stmt = insert(t.customers).values(customer_id=customer_id, last_activity_at=at, home_branch_id=home_branch_id)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["customer_id"],
            set_={"last_activity_at": func.greatest(func.coalesce(t.customers.c.last_activity_at, stmt.excluded.last_activity_at), stmt.excluded.last_activity_at)},
        )
    )


async def add_channel_use(session: AsyncSession, *, customer_id: str, channel: str, at: datetime) -> None:
    """Count one use of ``channel`` by the customer."""
    stmt = insert(t.channel_usage).values(customer_id=customer_id, channel=channel, uses=1, last_used_at=at)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["customer_id", "channel"],
            set_={"uses": t.channel_usage.c.uses + 1, "last_used_at": func.greatest(t.channel_usage.c.last_used_at, stmt.excluded.last_used_at)},
        )
    )


async def record_outcome(session: AsyncSession, *, diversion_id: str, customer_id: str, channel: str, accepted: bool, at: datetime) -> None:
    """Store the answer to a diversion offer (a later answer to the same offer wins)."""
    stmt = insert(t.diversion_outcomes).values(diversion_id=diversion_id, customer_id=customer_id, channel=channel, accepted=accepted, occurred_at=at)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["diversion_id"],
            set_={"accepted": stmt.excluded.accepted, "channel": stmt.excluded.channel, "occurred_at": stmt.excluded.occurred_at},
            where=t.diversion_outcomes.c.occurred_at <= stmt.excluded.occurred_at,
        )
    )


async def customer_ids(session: AsyncSession) -> list[str]:
    """Every known customer id."""
    return list((await session.execute(select(t.customers.c.customer_id))).scalars())


async def channel_usage(session: AsyncSession, customer_id: str | None = None) -> list[dict[str, Any]]:
    """``customer_id``, ``channel``, ``uses`` rows (of one customer, or all)."""
    q = select(t.channel_usage.c.customer_id, t.channel_usage.c.channel, t.channel_usage.c.uses)
    if customer_id is not None:
        q = q.where(t.channel_usage.c.customer_id == customer_id)
    return [dict(r) for r in (await session.execute(q)).mappings()]


async def outcomes(session: AsyncSession, customer_id: str | None = None) -> list[dict[str, Any]]:
    """Diversion answers (``customer_id``, ``channel``, ``accepted``, ``occurred_at``)."""
    o = t.diversion_outcomes.c
    q = select(o.customer_id, o.channel, o.accepted, o.occurred_at).order_by(o.occurred_at, o.diversion_id)
    if customer_id is not None:
        q = q.where(o.customer_id == customer_id)
    return [dict(r) for r in (await session.execute(q)).mappings()]


async def outcome_counts(session: AsyncSession, customer_id: str) -> dict[str, tuple[int, int]]:
    """Per channel: ``(offers answered, offers accepted)`` by the customer."""
    o = t.diversion_outcomes.c
    q = select(o.channel, func.count(), func.count().filter(o.accepted)).where(o.customer_id == customer_id).group_by(o.channel)
    return {channel: (int(n), int(a)) for channel, n, a in await session.execute(q)}


# --- scores and models --------------------------------------------------------------------


async def score_rows(session: AsyncSession, customer_id: str | None = None, *, for_update: bool = False) -> list[dict[str, Any]]:
    """Stored score rows (of one customer, or all)."""
    q = select(t.customer_scores)
    if customer_id is not None:
        q = q.where(t.customer_scores.c.customer_id == customer_id)
    if for_update:
        q = q.with_for_update()
    return [dict(r) for r in (await session.execute(q)).mappings()]


async def scores_above(session: AsyncSession, score: float) -> tuple[int, int]:
    """``(scored customers, of them scoring above score)``: one aggregate over
    ``customer_scores`` (a new customer's place in the book)."""
    s = t.customer_scores.c
    n, above = (await session.execute(select(func.count(), func.count().filter(s.score > score)))).one()
    return int(n), int(above)


async def upsert_scores(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Write score rows (every column of ``customer_scores`` except the published ones
    unless given)."""
    if not rows:
        return
    stmt = insert(t.customer_scores)
    columns = [c for c in rows[0] if c != "customer_id"]
    await session.execute(stmt.on_conflict_do_update(index_elements=["customer_id"], set_={c: stmt.excluded[c] for c in columns}), list(rows))


async def update_propensity(session: AsyncSession, *, customer_id: str, propensity: dict[str, float], published: bool, at: datetime) -> None:
    """Store a customer's new propensity (and mark it published when an event went out)."""
    values: dict[str, Any] = {"propensity": propensity}
    if published:
        values.update(published_propensity=propensity, published_at=at, published_tier=t.customer_scores.c.tier)
    await session.execute(update(t.customer_scores).where(t.customer_scores.c.customer_id == customer_id).values(**values))


async def save_models(session: AsyncSession, models: Sequence[dict[str, Any]]) -> None:
    """Replace the stored population propensity models (``channel``, ``version``,
    ``params``, ``trained_at``, ``training_outcomes``)."""
    if not models:
        return
    stmt = insert(t.propensity_models)
    await session.execute(stmt.on_conflict_do_update(index_elements=["channel"], set_={c: stmt.excluded[c] for c in ("version", "params", "trained_at", "training_outcomes")}), list(models))


async def load_models(session: AsyncSession) -> list[dict[str, Any]]:
    """The stored population propensity models."""
    return [dict(r) for r in (await session.execute(select(t.propensity_models))).mappings()]


async def tier_distribution(session: AsyncSession, branch_id: str) -> dict[str, int]:
    """Customers per tier whose home branch is ``branch_id``."""
    s = t.customer_scores.c
    rows = await session.execute(select(s.tier, func.count()).where(s.home_branch_id == branch_id).group_by(s.tier))
    return {tier: int(n) for tier, n in rows}


#: Advisory lock key of scoring (whole-book rescore exclusive, one-customer refresh shared).
SCORING_LOCK = 0x5C0_12E


async def lock_rescoring(session: AsyncSession) -> None:
    """Take the scoring lock exclusively for this transaction: waits for in-flight
    customer refreshes and holds new ones until the rescore commits, so a rescore never
    overwrites a propensity computed from answers it did not see."""
    await session.execute(select(func.pg_advisory_xact_lock(SCORING_LOCK)))


async def lock_refreshing(session: AsyncSession) -> None:
    """Take the scoring lock shared for this transaction (refreshes run side by side)."""
    await session.execute(select(func.pg_advisory_xact_lock_shared(SCORING_LOCK)))


async def record_outcomes(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Store many diversion answers at once (``diversion_id``, ``customer_id``,
    ``channel``, ``accepted``, ``occurred_at``); existing diversions are left as they are.
    For back-fills and replays; live answers go through :func:`record_outcome`."""
    if rows:
        await session.execute(insert(t.diversion_outcomes).on_conflict_do_nothing(index_elements=["diversion_id"]), list(rows))
