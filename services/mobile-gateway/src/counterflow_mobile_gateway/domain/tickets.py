"""Remote tickets (join a branch queue from the app) and the tickets the app follows.

Life cycle of a remote ticket here: ``pending`` (request event sent) -> ``waiting``
(ticketing issued a ticket: number, position, estimated wait) -> ``called`` ->
``serving`` -> ``served``; side exits ``rejected`` (ticketing refused), ``cancelled``,
``no_show``, ``diverted``. Tickets from appointment check-ins are followed the same way.

Queue movement: ticketing publishes a transition only for the ticket that moved. When a
ticket issued earlier in the same queue (branch + service type) leaves the waiting
state, every followed ticket behind it moves one place up and its estimated wait is
scaled by ``(p - 1) / p``; the next event about the ticket itself replaces both with
ticketing's own figures. (Priority tickets that overtake are only seen through that
next event: a documented approximation.)
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from counterflow_shared.events.payloads.branches import BranchProfile
from counterflow_shared.events.payloads.mobile import FeedbackGiven, RemoteTicketCancelled, RemoteTicketRequested
from counterflow_shared.events.payloads.tickets import (
    RemoteTicketRejected,
    TicketCalled,
    TicketCancelled,
    TicketDiverted,
    TicketIssued,
    TicketStatus,
    TicketTransition,
)
from counterflow_shared.rules import Decision
from counterflow_shared.web.problems import conflict, not_found
from counterflow_mobile_gateway.domain import branches
from counterflow_mobile_gateway.domain.appointments import appointment_view
from counterflow_mobile_gateway.domain.notifications import NotificationKind, issue
from counterflow_mobile_gateway.events.fanout import Push
from counterflow_mobile_gateway.persistence import appointments as appointment_repo
from counterflow_mobile_gateway.persistence import branches as branch_repo
from counterflow_mobile_gateway.persistence import tickets as repo
from counterflow_mobile_gateway.persistence.locks import lock_customer

if TYPE_CHECKING:
    from counterflow_shared.runtime import ServiceRuntime

_CANCELLABLE = ("pending", "waiting", "called")


def ticket_view(row: Any) -> dict[str, Any]:
    """JSON-ready form of a followed ticket (API and stream); times ISO 8601 UTC,
    ``estimated_wait_s`` and ``travel_time_s`` in seconds."""
    iso = lambda v: v.isoformat() if v else None  # noqa: E731
    return {
        "id": row["id"],
        "origin": row["origin"],
        "branch_id": row["branch_id"],
        "service_type": row["service_type"],
        "status": row["status"],
        "ticket_id": row["ticket_id"],
        "number": row["number"],
        "priority": row["priority"],
        "position": row["position"],
        "estimated_wait_s": row["estimated_wait_s"],
        "counter_id": row["counter_id"],
        "travel_time_s": row["travel_time_s"],
        "reject_reason": row["reject_reason"],
        "appointment_id": row["appointment_id"],
        "requested_at": iso(row["requested_at"]),
        "issued_at": iso(row["issued_at"]),
        "updated_at": iso(row["updated_at"]),
    }


async def request_remote_ticket(
    session: AsyncSession,
    runtime: "ServiceRuntime",
    *,
    customer_id: str,
    branch_id: str,
    service_type: str,
    travel_time_s: float | None,
    now: datetime,
    profile: BranchProfile | None = None,
    decision: Decision | None = None,
) -> dict[str, Any]:
    """Ask ticketing for a ticket in ``branch_id``'s ``service_type`` queue; the ticket
    is ``pending`` until ticketing answers. ``profile`` is the branch's already checked
    profile; ``decision`` the channel decision the request carries to ticketing (rule set
    version, rule id, priority boost, route; ``None``: a plain ticket, e.g. after the
    customer declined an offer).

    Raises:
        Problem: 404 unknown branch; 422 service not offered; 409 ``branch-inactive``;
            409 ``remote-ticket-limit`` when the customer already holds
            ``max_active_remote_tickets`` active remote tickets.
    """
    if profile is None:
        profile = await branches.profile_of(session, branch_id)
        branches.require_service(profile, service_type)
    await lock_customer(session, namespace="remote-tickets", customer_id=customer_id)
    limit = runtime.settings.max_active_remote_tickets
    active = await repo.count_active_remote(session, customer_id=customer_id)
    if active >= limit:
        raise conflict("remote-ticket-limit", f"at most {limit} active remote tickets per customer; cancel one first", limit=limit, active=active)
    request_id = str(uuid.uuid4())
    values = {
        "id": request_id,
        "origin": "remote",
        "customer_id": customer_id,
        "branch_id": branch_id,
        "service_type": service_type,
        "status": "pending",
        "travel_time_s": travel_time_s,
        "requested_at": now,
        "updated_at": now,
    }
    await repo.add_ticket(session, **values)
    await runtime.publish(
        session,
        RemoteTicketRequested(
            request_id=request_id,
            customer_id=customer_id,
            branch_id=branch_id,
            service_type=service_type,
            travel_time_s=travel_time_s,
            requested_at=now,
            **(
                {"rule_set_version": decision.rule_set_version, "rule_id": decision.rule_id, "priority_boost": max(0, decision.priority_boost), "route_to": decision.route_to}
                if decision is not None
                else {}
            ),
        ),
        time=now,
    )
    return ticket_view(await repo.get_ticket(session, id=request_id))


async def owned_ticket(session: AsyncSession, *, customer_id: str, id: str, for_update: bool = False) -> Any:  # noqa: A002
    """The followed ticket ``id`` if it belongs to ``customer_id``.

    Raises:
        Problem: 404 when it does not exist or belongs to someone else (the answer is
            the same, so ids of other customers' tickets cannot be probed).
    """
    row = await repo.get_ticket(session, id=id, for_update=for_update)
    if row is None or row["customer_id"] != customer_id:
        raise not_found("ticket", id)
    return row


async def cancel_ticket(session: AsyncSession, runtime: "ServiceRuntime", *, customer_id: str, id: str, now: datetime) -> dict[str, Any]:  # noqa: A002
    """Cancel one of the customer's remote tickets (pending, waiting or called).

    Raises:
        Problem: 404 not the customer's; 409 ``ticket-not-cancellable`` for appointment
            tickets and tickets already finished or cancelled.
    """
    row = await owned_ticket(session, customer_id=customer_id, id=id, for_update=True)
    if row["origin"] != "remote" or row["status"] not in _CANCELLABLE:
        raise conflict("ticket-not-cancellable", f"ticket {id} is {row['status']} ({row['origin']}); only active remote tickets can be cancelled here")
    updated = await repo.update_ticket(session, id=id, status="cancelled", position=None, updated_at=now)
    await runtime.publish(
        session,
        RemoteTicketCancelled(request_id=id, customer_id=customer_id, branch_id=row["branch_id"], ticket_id=row["ticket_id"], cancelled_at=now),
        time=now,
    )
    return ticket_view(updated)


async def give_feedback(session: AsyncSession, runtime: "ServiceRuntime", *, customer_id: str, id: str, score: int, comment: str | None, now: datetime) -> dict[str, Any]:  # noqa: A002
    """Send the customer's feedback (1..5, optional comment) on a served ticket to
    ticketing (``mobile.feedback.given``).

    Raises:
        Problem: 404 not the customer's; 409 ``ticket-not-served`` before service.
    """
    row = await owned_ticket(session, customer_id=customer_id, id=id)
    if row["status"] != "served" or not row["ticket_id"]:
        raise conflict("ticket-not-served", f"ticket {id} is {row['status']}; feedback is taken after service", current_status=row["status"])
    comment = (comment or "").strip() or None
    await runtime.publish(session, FeedbackGiven(ticket_id=row["ticket_id"], customer_id=customer_id, branch_id=row["branch_id"], score=score, comment=comment, given_at=now), time=now)
    return {"ticket": id, "score": score, "comment": comment, "status": "sent"}


async def on_remote_rejected(session: AsyncSession, runtime: "ServiceRuntime", event: RemoteTicketRejected, *, now: datetime) -> list[Push]:
    """Ticketing refused a remote request: the pending ticket becomes ``rejected`` and the
    customer is told why."""
    row = await repo.get_ticket(session, id=event.remote_request_id, for_update=True)
    if row is None or row["status"] != "pending":
        return []
    updated = await repo.update_ticket(session, id=row["id"], status="rejected", reject_reason=event.reason, updated_at=now)
    push = await issue(
        session,
        runtime,
        customer_id=row["customer_id"],
        kind=NotificationKind.REMOTE_TICKET_REJECTED,
        title="Could not join the queue",
        body=f"The branch could not give you a ticket: {event.reason}",
        data={"ticket": row["id"], "reason": event.reason},
        now=now,
    )
    return [Push(row["customer_id"], "ticket", ticket_view(updated)), push]


def _ticket_values(event: TicketTransition, now: datetime) -> dict[str, Any]:
    return {
        "status": str(event.status),
        "ticket_id": event.ticket_id,
        "number": event.number,
        "service_type": event.service_type,
        "priority": event.priority,
        "position": event.position if event.status == TicketStatus.WAITING else None,
        "estimated_wait_s": event.estimated_wait_s if event.status == TicketStatus.WAITING else None,
        "counter_id": event.counter_id,
        "issued_at": event.issued_at,
        "updated_at": now,
    }


async def on_ticket_event(session: AsyncSession, runtime: "ServiceRuntime", event: TicketTransition, *, now: datetime) -> list[Push]:
    """Apply one ``branch.ticket.*`` transition to the followed tickets; returns the live
    messages to send after commit (ticket updates and notifications)."""
    pushes: list[Push] = []
    row = await _followed_row(session, runtime, event, now=now, pushes=pushes)
    if row is not None:
        values = _ticket_values(event, now)
        flags, notes = await _notify(session, runtime, {**row, **values}, event, now=now)
        row = await repo.update_ticket(session, id=row["id"], **values, **flags)
        pushes.append(Push(row["customer_id"], "ticket", ticket_view(row)))
        pushes.extend(notes)
    if left_waiting(event):
        moved = await repo.move_up_behind(
            session, branch_id=event.branch_id, service_type=event.service_type, left_ticket_id=event.ticket_id, left_issued_at=event.issued_at, now=now
        )
        for other in moved:
            flags, notes = await _notify(session, runtime, other, None, now=now)
            if flags:
                other = await repo.update_ticket(session, id=other["id"], **flags)
            pushes.append(Push(other["customer_id"], "ticket", ticket_view(other)))
            pushes.extend(notes)
    return pushes


def left_waiting(event: TicketTransition) -> bool:
    """Whether this transition takes a ticket out of the waiting line: its first call, or
    a cancellation / diversion before any call (``call_count == 0``). Later steps
    (recall, serving, served, no-show) happen after the call and move nobody up again;
    a transfer moves the ticket to another queue whose old place the event does not name."""
    if isinstance(event, TicketCalled):
        return True
    return isinstance(event, (TicketCancelled, TicketDiverted)) and event.call_count == 0


async def _followed_row(session: AsyncSession, runtime: "ServiceRuntime", event: TicketTransition, *, now: datetime, pushes: list[Push]) -> Any | None:
    """The followed ticket this event is about, creating it for an appointment check-in."""
    if isinstance(event, TicketIssued) and event.remote_request_id:
        row = await repo.get_ticket(session, id=event.remote_request_id, for_update=True)
        if row is not None and row["status"] in ("cancelled", "rejected"):
            # The customer cancelled before ticketing answered: keep it cancelled and tell
            # ticketing again, now with the ticket id, so the issued ticket is withdrawn.
            await repo.update_ticket(session, id=row["id"], ticket_id=event.ticket_id, number=event.number, issued_at=event.issued_at, updated_at=now)
            await runtime.publish(
                session,
                RemoteTicketCancelled(request_id=row["id"], customer_id=row["customer_id"], branch_id=row["branch_id"], ticket_id=event.ticket_id, cancelled_at=now),
                time=now,
            )
            return None
        return row
    if isinstance(event, TicketIssued) and event.appointment_id:
        appointment = await appointment_repo.get_appointment(session, appointment_id=event.appointment_id, for_update=True)
        if appointment is None:
            return None
        updated = await appointment_repo.update_appointment(session, appointment_id=event.appointment_id, status="checked_in", ticket_id=event.ticket_id, updated_at=now)
        pushes.append(Push(appointment["customer_id"], "appointment", appointment_view(updated)))
        existing = await repo.pending_for_appointment(session, appointment_id=event.appointment_id)
        if existing is not None:
            return existing
        follow_id = str(uuid.uuid4())
        await repo.add_ticket(
            session,
            id=follow_id,
            origin="appointment",
            customer_id=appointment["customer_id"],
            branch_id=event.branch_id,
            service_type=event.service_type,
            status=str(event.status),
            appointment_id=event.appointment_id,
            requested_at=now,
            updated_at=now,
        )
        return await repo.get_ticket(session, id=follow_id)
    return await repo.get_by_ticket_id(session, ticket_id=event.ticket_id)


async def _turn_soon_position(session: AsyncSession, branch_id: str, default: int) -> int:
    """The queue position at which the branch's customers hear "your turn soon": the
    branch profile's ``notify_at_position`` (set by operations in ticketing), else
    ``default`` (setting ``turn_soon_position``). One primary-key read."""
    profile = await branch_repo.get_profile(session, branch_id=branch_id)
    return (profile or {}).get("notify_at_position") or default


async def _notify(session: AsyncSession, runtime: "ServiceRuntime", row: Any, event: TicketTransition | None, *, now: datetime) -> tuple[dict[str, Any], list[Push]]:
    """Notifications a ticket's new state (``row``: column -> value) calls for, each sent
    once: your turn soon, time to leave (estimated wait <= travel time + margin), called
    (once per call). Returns the flag columns to store with the state and the pushes."""
    s = runtime.settings
    notes: list[Push] = []
    flags: dict[str, Any] = {}
    cid = row["customer_id"]
    data = {"ticket": row["id"], "number": row["number"] or "", "branch_id": row["branch_id"]}
    wait, pos = row["estimated_wait_s"], row["position"]
    if row["status"] == "waiting":
        if not row["leave_notified"] and row["travel_time_s"] is not None and wait is not None and wait <= row["travel_time_s"] + s.leave_margin_s:
            minutes = max(0, round(wait / 60))
            notes.append(await issue(session, runtime, customer_id=cid, kind=NotificationKind.TIME_TO_LEAVE, title="Time to leave",
                                     body=f"Ticket {row['number']}: about {minutes} min until your turn, leave now to be there in time.", data=data, now=now))
            flags["leave_notified"] = True
        if not row["turn_soon_notified"] and ((pos is not None and pos <= await _turn_soon_position(session, row["branch_id"], s.turn_soon_position)) or (wait is not None and wait <= s.turn_soon_wait_s)):
            notes.append(await issue(session, runtime, customer_id=cid, kind=NotificationKind.TURN_SOON, title="Your turn soon",
                                     body=f"Ticket {row['number']} is number {pos} in the queue.", data=data, now=now))
            flags["turn_soon_notified"] = True
    calls = event.call_count if event is not None else 0
    if row["status"] == "called" and event is not None and row["calls_notified"] < max(calls, 1):
        counter = event.counter_id or ""
        shown = event.counter_name or f"counter {counter}"  # the name on the counter and the display (issue 17)
        notes.append(await issue(session, runtime, customer_id=cid, kind=NotificationKind.CALLED, title="You are called",
                                 body=f"Ticket {row['number']}: please go to {shown}.", data={**data, "counter_id": counter, **({"counter_name": event.counter_name} if event.counter_name else {})}, now=now))
        flags["calls_notified"] = max(calls, 1)
    return flags, notes


async def list_tickets(session: AsyncSession, *, customer_id: str) -> list[dict[str, Any]]:
    """The customer's followed tickets, newest first."""
    return [ticket_view(r) for r in await repo.list_for_customer(session, customer_id=customer_id)]


