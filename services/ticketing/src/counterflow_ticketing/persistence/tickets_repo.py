"""Queries on tickets, ticket sequences, service-time statistics, appointments and
diversion offers. Every SQL statement about the queue lives here."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, bindparam, case, func, select, text, tuple_, update
from sqlalchemy import insert as sa_insert
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession

from counterflow_ticketing.persistence.tables import (
    appointments,
    branches,
    diversions,
    ticket_transfers,
    tickets,
)

# Hot-path statements (issuing a ticket), built once: SQLAlchemy then reuses their cache
# key and compiled form instead of rebuilding them per request (bench/ticketing.py).
# The sequence upsert is text because the PostgreSQL ``INSERT .. ON CONFLICT`` construct
# produces no cache key and would be compiled on every call.
_NEXT_SEQUENCE = text(
    "INSERT INTO ticket_sequences (branch_id, business_date, prefix, last_number) VALUES (:branch_id, :day, :prefix, 1) "
    "ON CONFLICT (branch_id, business_date, prefix) DO UPDATE SET last_number = ticket_sequences.last_number + 1 "
    "RETURNING last_number"
).bindparams(bindparam("day", type_=Date))
_INSERT_TICKET = sa_insert(tickets).returning(*tickets.c)


def of_day(day: date) -> Any:
    """The business-day predicate: tickets of the branch-local business ``day``.

    Every queue query (position, wait estimate, call-next, load) carries it, so tickets
    of another day never count even before the end-of-day close
    (:mod:`counterflow_ticketing.domain.business_day`) has expired them. In hand-written
    SQL it is ``tickets.business_date = :day``.
    """
    return tickets.c.business_date == day


def call_order(urgent_before: datetime) -> tuple[Any, ...]:
    """Call order of waiting tickets (see :mod:`counterflow_ticketing.domain.priority`):
    urgent tickets (queued at or before ``urgent_before``) first, oldest first; then the
    others by earliest ``due_at``; ties by arrival order."""
    urgent = tickets.c.queued_at <= urgent_before
    return (case((urgent, 0), else_=1), case((urgent, tickets.c.queued_at), else_=tickets.c.due_at), tickets.c.arrival)


def call_key(t: Row, urgent_before: datetime) -> tuple[Any, ...]:
    """The :func:`call_order` key of ticket row ``t``."""
    urgent = t.queued_at <= urgent_before
    return (0 if urgent else 1, t.queued_at if urgent else t.due_at, t.arrival)


async def next_sequence(session: AsyncSession, branch_id: str, day: date, prefix: str) -> int:
    """Allocate the next ticket sequence of ``(branch, business day, prefix)``.

    One atomic ``INSERT .. ON CONFLICT DO UPDATE .. RETURNING`` in the caller's
    transaction: concurrent requests and several service instances serialise on the row
    until the allocating transaction ends, so a number is never given twice and a
    rolled-back request gives its number back (no gaps). Callers allocate as late as
    possible in their transaction to keep the row lock short. A cancelled ticket keeps
    its number.
    """
    return (await session.execute(_NEXT_SEQUENCE, {"branch_id": branch_id, "day": day, "prefix": prefix})).scalar_one()


async def insert_ticket(session: AsyncSession, values: dict[str, Any]) -> Row:
    """Insert a ticket row and return it."""
    return (await session.execute(_INSERT_TICKET, values)).one()


async def get_ticket(session: AsyncSession, ticket_id: str, *, lock: bool = False) -> Row | None:
    """One ticket or ``None``; ``lock`` waits for and takes its row lock."""
    stmt = select(tickets).where(tickets.c.ticket_id == ticket_id)
    if lock:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).first()


async def ticket_by_remote_request(session: AsyncSession, request_id: str) -> Row | None:
    """The ticket issued for mobile remote request ``request_id``, or ``None``."""
    return (await session.execute(select(tickets).where(tickets.c.remote_request_id == request_id))).first()


async def record_transfer(session: AsyncSession, *, ticket_id: str, branch_id: str, counter_id: str | None, teller_id: str | None, at: datetime) -> None:
    """Record one transfer of a ticket (who held it, when)."""
    await session.execute(sa_insert(ticket_transfers).values(transfer_id=str(uuid.uuid4()), ticket_id=ticket_id, branch_id=branch_id, counter_id=counter_id, teller_id=teller_id, at=at))


async def waiting_of_customer(session: AsyncSession, customer_id: str) -> list[Row]:
    """The customer's waiting tickets (any branch or day), locked for update, with their
    branch's ``max_wait_s`` (index ``ix_tickets_waiting_customer``; one statement)."""
    stmt = (
        select(*tickets.c, branches.c.max_wait_s)
        .join(branches, branches.c.branch_id == tickets.c.branch_id)
        .where(tickets.c.customer_id == customer_id, tickets.c.status == "waiting")
        .with_for_update(of=tickets)
    )
    return list((await session.execute(stmt)).all())


async def update_ticket(session: AsyncSession, ticket_id: str, values: dict[str, Any]) -> Row:
    """Update a ticket and return the new row."""
    stmt = update(tickets).where(tickets.c.ticket_id == ticket_id).values(**values).returning(*tickets.c)
    return (await session.execute(stmt)).one()


async def count_ahead(session: AsyncSession, ticket: Row, urgent_before: datetime) -> int:
    """Waiting tickets of the same branch, business day and skill before ``ticket`` in call order."""
    stmt = select(func.count()).where(
        tickets.c.branch_id == ticket.branch_id,
        of_day(ticket.business_date),
        tickets.c.status == "waiting",
        tickets.c.skill == ticket.skill,
        tuple_(*call_order(urgent_before)) < tuple_(*call_key(ticket, urgent_before)),
    )
    return int((await session.execute(stmt)).scalar_one())


async def waiting_by_service_type(session: AsyncSession, branch_id: str, day: date) -> dict[str, int]:
    """Waiting tickets of the branch on business ``day`` per service type."""
    stmt = (
        select(tickets.c.service_type, func.count())
        .where(tickets.c.branch_id == branch_id, of_day(day), tickets.c.status == "waiting")
        .group_by(tickets.c.service_type)
    )
    return {st: int(n) for st, n in (await session.execute(stmt)).all()}


async def busy_counters(session: AsyncSession, branch_id: str) -> set[str]:
    """Counters of the branch that have a ticket called or in service now."""
    stmt = select(tickets.c.counter_id).where(tickets.c.branch_id == branch_id, tickets.c.status.in_(("called", "serving")))
    return {c for (c,) in (await session.execute(stmt)).all() if c}


async def front_of_queue(session: AsyncSession, branch_id: str, skill: str, day: date) -> tuple[datetime | None, datetime | None]:
    """The earliest ``due_at`` and the earliest ``queued_at`` among waiting tickets of
    ``skill`` on business ``day`` (``(None, None)`` when none waits): both keys of
    :func:`call_order`, so a ticket put before both is called first."""
    stmt = select(func.min(tickets.c.due_at), func.min(tickets.c.queued_at)).where(tickets.c.branch_id == branch_id, of_day(day), tickets.c.status == "waiting", tickets.c.skill == skill)
    due, queued = (await session.execute(stmt)).one()
    return due, queued


async def leaving_stats(session: AsyncSession, branch_id: str, since: datetime, now: datetime) -> tuple[int, float, int]:
    """Tickets of the branch issued in ``[since, now]`` that left without service
    (no-show, cancelled, diverted), the total seconds all of them spent waiting until
    called, finished or ``now`` (the exposure), for the abandonment-rate estimate, and
    how many of them had priority (> 0), for the overtaking rate.
    ``now`` is the domain clock's instant (a simulated clock may stand before rows of an
    earlier run, which are then left out)."""
    left = func.count().filter(tickets.c.status.in_(("no_show", "cancelled", "diverted")))
    waited_until = func.coalesce(tickets.c.called_at, tickets.c.finished_at, now)
    exposure = func.coalesce(func.sum(func.extract("epoch", waited_until - tickets.c.issued_at)), 0)
    prioritised = func.count().filter(tickets.c.priority > 0)
    stmt = select(left, exposure, prioritised).where(tickets.c.branch_id == branch_id, tickets.c.issued_at >= since, tickets.c.issued_at <= now)
    n, seconds, high = (await session.execute(stmt)).one()
    return int(n), float(seconds or 0.0), int(high)


async def upsert_appointment(session: AsyncSession, values: dict[str, Any]) -> None:
    """Insert or update an appointment known from the mobile app."""
    stmt = insert(appointments).values(**values)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[appointments.c.appointment_id], set_={k: stmt.excluded[k] for k in values if k != "appointment_id"}
        )
    )


async def get_appointment(session: AsyncSession, appointment_id: str, *, lock: bool = False) -> Row | None:
    """One appointment or ``None``."""
    stmt = select(appointments).where(appointments.c.appointment_id == appointment_id)
    if lock:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).first()


async def mark_appointment_checked_in(session: AsyncSession, appointment_id: str, ticket_id: str) -> None:
    """Record the ticket an appointment was checked in with."""
    await session.execute(
        update(appointments).where(appointments.c.appointment_id == appointment_id).values(checked_in_ticket_id=ticket_id, status="checked_in")
    )


async def insert_diversion(session: AsyncSession, values: dict[str, Any]) -> None:
    """Record a diversion offer."""
    await session.execute(insert(diversions).values(**values))


async def insert_diversion_once(session: AsyncSession, values: dict[str, Any]) -> bool:
    """Record a diversion offer unless one with its id exists; returns whether it inserted."""
    stmt = insert(diversions).values(**values).on_conflict_do_nothing(index_elements=[diversions.c.diversion_id]).returning(diversions.c.diversion_id)
    return (await session.execute(stmt)).first() is not None


async def get_diversion(session: AsyncSession, diversion_id: str, *, lock: bool = False) -> Row | None:
    """One diversion or ``None``."""
    stmt = select(diversions).where(diversions.c.diversion_id == diversion_id)
    if lock:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).first()


async def abandoned_diversions(session: AsyncSession, *, before: datetime, limit: int = 200) -> Sequence[Row]:
    """Accepted diversions whose ``expires_at`` is before ``before`` (locked, skipping rows
    another instance holds), oldest first."""
    stmt = (
        select(diversions)
        .where(diversions.c.status == "accepted", diversions.c.expires_at < before)
        .order_by(diversions.c.expires_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return (await session.execute(stmt)).all()


async def update_diversion(session: AsyncSession, diversion_id: str, values: dict[str, Any]) -> Row:
    """Update a diversion and return the new row."""
    stmt = update(diversions).where(diversions.c.diversion_id == diversion_id).values(**values).returning(*diversions.c)
    return (await session.execute(stmt)).one()


async def active_branch_ids(session: AsyncSession) -> list[str]:
    """Branches with tickets waiting, called or in service (for load snapshots)."""
    stmt = select(tickets.c.branch_id).where(tickets.c.status.in_(("waiting", "called", "serving"))).distinct()
    return [b for (b,) in (await session.execute(stmt)).all()]


async def stale_branches(session: AsyncSession) -> list[tuple[str, date]]:
    """``(branch_id, earliest business date)`` of branches with waiting or called tickets
    (what the end-of-day close looks at; served by ``ix_tickets_branch_status``)."""
    stmt = select(tickets.c.branch_id, func.min(tickets.c.business_date)).where(tickets.c.status.in_(("waiting", "called"))).group_by(tickets.c.branch_id)
    return [(b, d) for b, d in (await session.execute(stmt)).all()]


async def expire_before(session: AsyncSession, branch_id: str, day: date, now: datetime) -> list[Row]:
    """Mark every waiting or called ticket of ``branch_id`` from a business date before
    ``day`` ``expired`` (``finished_at = now``) and return the updated rows, in number order.

    One ``UPDATE .. RETURNING``: two instances closing together serialise on the row
    locks, and the second finds the rows no longer waiting or called, so each ticket
    expires (and gets its event) once."""
    stmt = (
        update(tickets)
        .where(tickets.c.branch_id == branch_id, tickets.c.business_date < day, tickets.c.status.in_(("waiting", "called")))
        .values(status="expired", finished_at=now)
        .returning(*tickets.c)
    )
    return sorted((await session.execute(stmt)).all(), key=lambda r: (r.business_date, r.arrival))
