"""Teller workstation API (``/v1/counters/{counter_id}``): session open / pause / resume /
close, call next, call a specific ticket, recall, start, finish, no-show, transfer. Staff
tokens with role ``teller`` or ``lobby_manager`` covering the counter's branch; a teller
acts only at the counter of their own open session (403 ``not-your-counter``). Every
POST honours ``Idempotency-Key``. Call next, call, recall, start, finish and no-show take
two PostgreSQL round trips (:mod:`counterflow_ticketing.domain.teller_actions`); session
changes and transfers run in one transaction of the general path."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter

from counterflow_shared.web.auth import StaffPrincipal
from counterflow_shared.web.problems import Problem, problem_responses
from counterflow_ticketing.api.deps import CtxDep, IdempotencyKey, RuntimeDep, TellerDep, TxDep, idempotent
from counterflow_ticketing.api.responses import TellerSession, TicketResult
from counterflow_ticketing.api.schemas import FinishIn, TransferIn
from counterflow_ticketing.domain import counters, queue, teller_actions
from counterflow_ticketing.domain.teller_actions import Action
from counterflow_ticketing.persistence import branches_repo

router = APIRouter(prefix="/v1/counters/{counter_id}", tags=["teller"])

_AUTH = {
    "s401": "missing or invalid staff token",
    "s403": "not a teller or lobby manager of the counter's branch, or (``not-your-counter``) another teller's open session",
    "s404": "unknown counter (or ticket)",
}
#: the errors of a teller action; 409 names what conflicts (``counter-not-open``, ``ticket-not-waiting``, ...)
_ERRORS = problem_responses(401, 403, 404, 409, s409="the counter's session or the ticket is not in a state that allows this", **_AUTH)


async def _authorised(session: Any, counter_id: str, staff: StaffPrincipal, *, opening: bool = False) -> None:
    """The counter exists in the staff member's branches, and a teller never acts at a
    counter whose live (open or paused) session is another teller's; a lobby manager may
    act at any counter of the branch. Without a live session the action itself answers
    (409 ``counter-not-open``; opening one: 409 ``counter-occupied``). One more read per
    teller action (the live session).

    Raises:
        Problem: 404 unknown counter; 403 ``forbidden-branch``; 403 ``not-your-counter``.
    """
    counter = await counters.counter_or_404(session, counter_id)
    staff.require_branch(counter.branch_id)
    if opening or staff.role != "teller":
        return
    live = await branches_repo.live_session_of_counter(session, counter_id)
    if live is not None and live.teller_id != staff.subject:
        raise Problem(403, "not-your-counter", "Not your counter", f"counter {counter_id} is {live.teller_id}'s open session; {staff.subject} acts only at the counter of their own", teller_id=live.teller_id)


async def _run(session: Any, staff: StaffPrincipal, counter_id: str, action: str, key: str | None, body: Any, compute: Callable[[], Awaitable[Any]], status: int = 200) -> Any:
    await _authorised(session, counter_id, staff, opening=action == "open")

    async def wrapped() -> tuple[int, Any]:
        result = await compute()
        return (status, result) if result is not None else (200, {"ticket": None, "detail": "no waiting ticket this counter can serve"})

    return await idempotent(session, scope=f"staff:{staff.subject}:{counter_id}:{action}", key=key, body=body, compute=wrapped)


@router.post(
    "/session/open",
    status_code=201,
    response_model=TellerSession,
    responses=problem_responses(401, 403, 404, 409, s409="``counter-occupied``: another session is live at the counter", **_AUTH),
    summary="Open a teller session at the counter",
)
async def open_session(counter_id: str, staff: TellerDep, session: TxDep, ctx: CtxDep, idempotency_key: IdempotencyKey = None) -> Any:
    """409 ``counter-occupied`` when another session is live at the counter."""
    return await _run(session, staff, counter_id, "open", idempotency_key, {}, lambda: counters.open_session(session, ctx, counter_id=counter_id, teller_id=staff.subject), 201)


def _status_route(path: str, status: str, summary: str) -> None:
    async def endpoint(counter_id: str, staff: TellerDep, session: TxDep, ctx: CtxDep, idempotency_key: IdempotencyKey = None) -> Any:
        return await _run(session, staff, counter_id, path, idempotency_key, {}, lambda: counters.set_status(session, ctx, counter_id=counter_id, status=status))

    endpoint.__name__ = f"session_{path}"
    router.post(f"/session/{path}", response_model=TellerSession, responses=_ERRORS, summary=summary)(endpoint)


_status_route("pause", "paused", "Pause the session (the counter stops taking calls)")
_status_route("resume", "open", "Resume a paused session")
_status_route("close", "closed", "Close the session")


@router.post("/call-next", response_model=TicketResult, responses=_ERRORS, summary="Call the next ticket this counter can serve")
async def call_next(counter_id: str, staff: TellerDep, runtime: RuntimeDep, idempotency_key: IdempotencyKey = None) -> Any:
    """Skills, then priority with ageing (earliest due first). ``{"ticket": null}`` when none waits."""
    return await teller_actions.act(runtime, staff=staff, counter_id=counter_id, action=Action("call-next"), idempotency_key=idempotency_key)


def _ticket_route(path: str, summary: str) -> None:
    async def endpoint(counter_id: str, ticket_id: str, staff: TellerDep, runtime: RuntimeDep, idempotency_key: IdempotencyKey = None) -> Any:
        return await teller_actions.act(runtime, staff=staff, counter_id=counter_id, action=Action(path, ticket_id), idempotency_key=idempotency_key)

    endpoint.__name__ = path.replace("-", "_")
    router.post(f"/tickets/{{ticket_id}}/{path}", response_model=TicketResult, responses=_ERRORS, summary=summary)(endpoint)


_ticket_route("call", "Call a specific waiting ticket (409 naming the counter that took it)")
_ticket_route("recall", "Call the ticket again")
_ticket_route("start", "The customer arrived: start serving")
_ticket_route("no-show", "No-show after the configured number of calls")


@router.post("/tickets/{ticket_id}/finish", response_model=TicketResult, responses=_ERRORS, summary="Finish service with an outcome")
async def finish(counter_id: str, ticket_id: str, body: FinishIn, staff: TellerDep, runtime: RuntimeDep, idempotency_key: IdempotencyKey = None) -> Any:
    """serving -> served; the service time feeds the learned means."""
    action = Action("finish", ticket_id, outcome=body.outcome, body=body.model_dump())
    return await teller_actions.act(runtime, staff=staff, counter_id=counter_id, action=action, idempotency_key=idempotency_key)


async def _wrap(aw: Awaitable[dict[str, Any]]) -> dict[str, Any]:
    return {"ticket": await aw}


@router.post("/tickets/{ticket_id}/transfer", response_model=TicketResult, responses=_ERRORS, summary="Transfer to another service or counter queue")
async def transfer(counter_id: str, ticket_id: str, body: TransferIn, staff: TellerDep, session: TxDep, ctx: CtxDep, idempotency_key: IdempotencyKey = None) -> Any:
    """To the back (default) or the front of the target queue; the number is kept."""
    counter = await counters.counter_or_404(session, counter_id)
    return await _run(
        session,
        staff,
        counter_id,
        f"transfer:{ticket_id}",
        idempotency_key,
        body.model_dump(),
        lambda: _wrap(queue.transfer(session, ctx, ticket_id=ticket_id, branch_id=counter.branch_id, service_type=body.service_type, to_counter_id=body.counter_id, front=body.position == "front", from_counter_id=counter_id)),
    )


