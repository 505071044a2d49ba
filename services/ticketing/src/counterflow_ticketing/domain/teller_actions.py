"""Teller actions at the cost of two PostgreSQL round trips (ADR 0156): call next, call a
specific ticket, recall, start serving, finish, no-show.

Budget: **two PostgreSQL round trips** when nobody else changes the counter or the
ticket meanwhile: one read statement (the counter, its live session, the branch, the
ticket or call-next's candidates, the wait model, the stored answer of an
``Idempotency-Key``) and one write statement of data-modifying CTEs (the ticket, its
outbox row, the Idempotency-Key record, the wait model, the learned service times), both
on an autocommit connection (:mod:`counterflow_ticketing.persistence.teller_statements`).
A call adds one Redis round trip after the write (the calling display's stream). Counted
by ``services/ticketing/tests/test_teller_round_trips.py``.

The write is guarded optimistically (each row's ``xmin``): when another counter took the
ticket, or another action changed it or the counter's session between the read and the
write, the write changes nothing and the action reads again and decides on what it finds
(e.g. 409 ``ticket-taken``), at most :data:`ATTEMPTS` times; only such a race costs more
round trips. Call-next reads :data:`~counterflow_ticketing.persistence.teller_statements.CANDIDATES`
tickets ahead and takes the first nobody took meanwhile, so two counters calling at
once both get a ticket without a second read.

The rules are those of the transactional path they replace (:mod:`queue`): a teller acts
only at the counter of their own live session (a lobby manager at any counter of the
branch); a call needs an open session and a free counter and folds the ticket's wait into
the branch's wait model (:meth:`WaitModel.learn`); a finish folds the service time into
the teller's and the service type's learned means (:func:`estimation.updated_mean`,
computed in the write statement).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError

from counterflow_shared.events.payloads import tickets as tk
from counterflow_shared.web.auth import StaffPrincipal
from counterflow_shared.web.idempotency import check_key, request_fingerprint
from counterflow_shared.web.problems import Problem, conflict, not_found
from counterflow_ticketing.domain.context import Ctx, branch_load, ctx_for, readmodels_of
from counterflow_ticketing.domain.estimation import EWMA_HORIZON
from counterflow_ticketing.domain.queue import ticket_fields
from counterflow_ticketing.domain.routing import ROUTE_COUNTER_KINDS
from counterflow_ticketing.domain.statement_path import event_values, replayed, write_once
from counterflow_ticketing.domain.wait_model import QueueView, WaitModel
from counterflow_ticketing.events.publishers import ticket_transition
from counterflow_ticketing.persistence import teller_statements as sql
from counterflow_ticketing.persistence.kiosk_statements import REPLAY
from counterflow_ticketing.persistence.tables import tickets

if TYPE_CHECKING:
    from counterflow_shared.runtime import ServiceRuntime

#: read-decide-write rounds before giving up with a 503 (each lost round means another
#: counter or action changed the same counter or ticket in between)
ATTEMPTS = 5

#: the ``(route, counter kind)`` pairs of :data:`ROUTE_COUNTER_KINDS` as two parallel arrays
_RK_ROUTE = [r for r, kinds in sorted(ROUTE_COUNTER_KINDS.items()) for _ in sorted(kinds)]
_RK_KIND = [k for _, kinds in sorted(ROUTE_COUNTER_KINDS.items()) for k in sorted(kinds)]

_NONE = {"ticket": None, "detail": "no waiting ticket this counter can serve"}
_TICKET_COLUMNS = tuple(c.name for c in tickets.c)


@dataclass(frozen=True)
class Action:
    """One teller action: ``kind`` is ``call-next``, ``call``, ``recall``, ``start``,
    ``finish`` or ``no-show``; ``ticket_id`` names the ticket (all but call-next);
    ``outcome`` is the finish outcome; ``body`` the request body (fingerprinted for the
    ``Idempotency-Key``)."""

    kind: str
    ticket_id: str | None = None
    outcome: str | None = None
    body: dict[str, Any] | None = None

    @property
    def scope_name(self) -> str:
        """The action part of the Idempotency-Key scope (as the transactional path named it)."""
        return self.kind if self.ticket_id is None else f"{self.kind}:{self.ticket_id}"


@dataclass
class _Target:
    """One ticket the write may change: its new state, its event and the answer."""

    row: Any
    xmin: str
    changes: dict[str, Any]
    event: Any
    response: dict[str, Any]
    wait_state: dict[str, Any] | None = None


def _ticket_of(row: Any) -> Any:
    values = {name: getattr(row, name) for name in _TICKET_COLUMNS}
    if isinstance(values["wait_view"], str):
        values["wait_view"] = json.loads(values["wait_view"])
    return SimpleNamespace(**values)


def _authorise(first: Any, staff: StaffPrincipal, counter_id: str) -> None:
    """404 unknown counter; 403 ``forbidden-branch``; 403 ``not-your-counter`` (a teller
    at a counter whose live session is another teller's)."""
    if first.c_id is None:
        raise not_found("counter", counter_id)
    staff.require_branch(first.c_branch_id)
    if staff.role == "teller" and first.s_id is not None and first.s_teller_id != staff.subject:
        raise Problem(
            403, "not-your-counter", "Not your counter", f"counter {counter_id} is {first.s_teller_id}'s open session; {staff.subject} acts only at the counter of their own", teller_id=first.s_teller_id
        )


def _open_counter(first: Any, counter_id: str) -> None:
    """The checks of a call: 404 unknown or inactive counter or branch; 409
    ``counter-not-open`` / ``counter-busy``."""
    if not first.c_active:
        raise not_found("counter", counter_id)
    if first.s_id is None or first.s_status != "open":
        raise conflict("counter-not-open", f"counter {counter_id} has no open teller session", counter_id=counter_id)
    if first.busy:
        raise conflict("counter-busy", f"counter {counter_id} still has a called or serving ticket; finish, no-show or transfer it first", counter_id=counter_id)
    if not first.b_active:
        raise not_found("branch", first.c_branch_id)


def _the_ticket(rows: list[Any], ticket_id: str, branch_id: str) -> tuple[Any, str]:
    first = rows[0]
    if first.ticket_id is None or first.branch_id != branch_id:
        raise not_found("ticket", ticket_id)
    return _ticket_of(first), first.t_xmin


def _at_counter(t: Any, counter_id: str, statuses: tuple[str, ...]) -> None:
    if t.counter_id != counter_id or t.status not in statuses:
        raise conflict(
            "ticket-not-at-counter", f"ticket {t.number} is {t.status} at counter {t.counter_id or '-'}, expected {'/'.join(statuses)} at {counter_id}", current_status=t.status, counter_id=t.counter_id
        )


def _learned_wait(ctx: Ctx, first: Any, t: Any) -> dict[str, Any] | None:
    """The branch's wait model after learning the wait of ``t``, called now (``None``:
    nothing to learn, the ticket has no stored queue view of the current shape)."""
    if not t.wait_view:
        return None
    try:
        view = QueueView.from_json(t.wait_view)
    except (KeyError, TypeError, ValueError):
        return None
    model = WaitModel.from_json(None if first.wm_state is None else json.loads(first.wm_state))
    # the branch's SLA target of the ticket's service type (issue 17), not the service-wide one
    sla_s = branch_load(ctx, t.branch_id).sla_target_s(t.service_type, ctx.settings.sla_target_s)
    model.learn(view, max(0.0, (ctx.now - t.queued_at).total_seconds()), sla_s)
    return model.to_json()


def _target(ctx: Ctx, t: Any, xmin: str, changes: dict[str, Any], event_cls: type[tk.TicketTransition], *, counter_name: str | None = None, wait_state: dict[str, Any] | None = None) -> _Target:
    after = SimpleNamespace(**{**vars(t), **changes})
    return _Target(after, xmin, changes, ticket_transition(event_cls, after, at=ctx.now, counter_name=counter_name), {"ticket": ticket_fields(after, position=None, forecast=None)}, wait_state)


def _call_changes(ctx: Ctx, counter_id: str, teller_id: str) -> dict[str, Any]:
    return {"status": "called", "counter_id": counter_id, "teller_id": teller_id, "call_count": 1, "called_at": ctx.now, "target_counter_id": None}


def _plan(ctx: Ctx, action: Action, rows: list[Any], counter_id: str, staff: StaffPrincipal) -> list[_Target]:
    """The targets of ``action`` in preference order (empty: call-next found no ticket).

    Raises:
        Problem: the 404 / 409 of the action (see :mod:`counterflow_ticketing.api.teller`).
    """
    first = rows[0]
    kind, branch_id = action.kind, first.c_branch_id
    if kind == "call-next":
        _open_counter(first, counter_id)
        return [
            _target(ctx, t, r.t_xmin, _call_changes(ctx, counter_id, staff.subject), tk.TicketCalled, counter_name=first.c_name, wait_state=_learned_wait(ctx, first, t))
            for r in rows
            if r.ticket_id is not None
            for t in (_ticket_of(r),)
        ]
    assert action.ticket_id is not None
    if kind == "call":
        _open_counter(first, counter_id)
        t, xmin = _the_ticket(rows, action.ticket_id, branch_id)
        if t.status in ("called", "serving") and t.counter_id != counter_id:
            raise conflict("ticket-taken", f"ticket {t.number} was already called by counter {t.counter_id}", counter_id=t.counter_id, ticket_id=t.ticket_id)
        if t.status != "waiting":
            raise conflict("ticket-not-waiting", f"ticket {t.number} is {t.status}", current_status=t.status, ticket_id=t.ticket_id)
        skills = json.loads(first.c_skills) or []
        if t.skill not in skills:
            raise conflict("skill-mismatch", f"counter {counter_id} lacks skill {t.skill!r} for {t.service_type}", skill=t.skill)
        return [_target(ctx, t, xmin, _call_changes(ctx, counter_id, first.s_teller_id), tk.TicketCalled, counter_name=first.c_name, wait_state=_learned_wait(ctx, first, t))]
    t, xmin = _the_ticket(rows, action.ticket_id, branch_id)
    if kind == "recall":
        _at_counter(t, counter_id, ("called",))
        return [_target(ctx, t, xmin, {"call_count": t.call_count + 1}, tk.TicketRecalled, counter_name=first.c_name)]
    if kind == "start":
        _at_counter(t, counter_id, ("called",))
        return [_target(ctx, t, xmin, {"status": "serving", "serving_started_at": ctx.now}, tk.TicketServingStarted)]
    if kind == "finish":
        _at_counter(t, counter_id, ("serving",))
        return [_target(ctx, t, xmin, {"status": "served", "finished_at": ctx.now, "outcome": action.outcome}, tk.TicketServed)]
    if kind == "no-show":
        _at_counter(t, counter_id, ("called",))
        if not first.b_active:
            raise not_found("branch", branch_id)
        if t.call_count < first.b_no_show_after_calls:
            needed = first.b_no_show_after_calls
            raise conflict("too-few-calls", f"ticket {t.number} was called {t.call_count} time(s); a no-show needs {needed}", call_count=t.call_count, required=needed)
        return [_target(ctx, t, xmin, {"status": "no_show", "finished_at": ctx.now}, tk.TicketNoShow)]
    raise ValueError(f"unknown teller action {kind!r}")


_LIFECYCLE = ("status", "counter_id", "teller_id", "call_count", "called_at", "serving_started_at", "finished_at", "outcome", "target_counter_id")


def _target_json(runtime: "ServiceRuntime", ctx: Ctx, n: int, target: _Target) -> dict[str, Any]:
    doc: dict[str, Any] = {"n": n, "ticket_id": target.row.ticket_id, "xmin": target.xmin}
    for name in _LIFECYCLE:
        value = getattr(target.row, name)
        doc[name] = value.isoformat() if hasattr(value, "isoformat") else value
    doc.update(event_values(runtime, ctx, target.event))
    doc["response"] = json.dumps(target.response, default=str)
    doc["wait_state"] = None if target.wait_state is None else json.dumps(target.wait_state)
    return doc


async def act(runtime: "ServiceRuntime", *, staff: StaffPrincipal, counter_id: str, action: Action, idempotency_key: str | None) -> JSONResponse:
    """Carry out a teller action within the round-trip budget and answer it: 200
    ``{"ticket": {...}}`` (the ticket after the action), for call-next
    ``{"ticket": null, "detail": ...}`` when no waiting ticket is for this counter; the
    stored answer with ``Idempotent-Replayed: true`` when the ``Idempotency-Key`` was
    used before with the same body.

    Raises:
        Problem: 404 counter / ticket / branch; 403 ``forbidden-branch`` /
            ``not-your-counter``; 409 ``counter-not-open``, ``counter-busy``,
            ``ticket-taken``, ``ticket-not-waiting``, ``skill-mismatch``,
            ``ticket-not-at-counter``, ``too-few-calls``; 422 bad or reused
            ``Idempotency-Key``; 503 ``contended`` (``Retry-After: 1``) after
            :data:`ATTEMPTS` rounds lost to concurrent changes.
    """
    if idempotency_key is not None:
        check_key(idempotency_key)
    ctx = await ctx_for(runtime)
    scope = f"staff:{staff.subject}:{counter_id}:{action.scope_name}"
    fingerprint = request_fingerprint(action.body or {}) if idempotency_key is not None else ""
    params = {
        "counter_id": counter_id, "ticket_id": action.ticket_id, "next": action.kind == "call-next", "now": ctx.now, "guard_s": ctx.settings.ageing_guard_s,
        "scope": scope, "key": idempotency_key, "rk_route": _RK_ROUTE, "rk_kind": _RK_KIND, "k": sql.CANDIDATES,
    }  # fmt: skip
    for _ in range(ATTEMPTS):
        async with runtime.autocommit.connect() as conn:
            rows = (await conn.execute(sql.READ, params)).all()
        first = rows[0]
        _authorise(first, staff, counter_id)
        if first.replay is not None:
            return replayed(first.replay, fingerprint)
        targets = _plan(ctx, action, rows, counter_id, staff)
        answer = await _write(runtime, ctx, action, first, targets, scope, idempotency_key, fingerprint)
        if answer is not None:
            if runtime.outages.since is not None:
                runtime.outages.ok()  # the database answers again (as the session dependency reports it)
            return answer
    raise Problem(503, "contended", "Try again", f"counter {counter_id}: {ATTEMPTS} attempts lost to concurrent changes of the same counter or ticket", retry_after_s=1)


async def _write(
    runtime: "ServiceRuntime", ctx: Ctx, action: Action, first: Any, targets: list[_Target], scope: str, key: str | None, fingerprint: str
) -> JSONResponse | None:
    """Run the write; the answer, or ``None`` when a guard failed (read again)."""
    idem = {"scope": scope, "key": key, "request_hash": fingerprint}
    async with runtime.autocommit.connect() as conn:
        try:
            if not targets:  # call-next found nothing: only the answer of the key is stored
                if key is not None:
                    await conn.execute(sql.REMEMBER, {**idem, "response": json.dumps(_NONE)})
                return JSONResponse(_NONE)
            call = action.kind in ("call-next", "call")
            learn = action.kind == "finish"
            values: dict[str, Any] = {
                "targets": json.dumps([_target_json(runtime, ctx, n, t) for n, t in enumerate(targets)]),
                "branch_id": first.c_branch_id, "now": ctx.now, "wm_updated_at": first.wm_updated_at, **idem,
            }  # fmt: skip
            if call:
                values.update(session_id=first.s_id, session_xmin=first.s_xmin)
            if learn:
                t = targets[0].row
                values.update(service_type=t.service_type, seconds=max(0.0, (ctx.now - t.serving_started_at).total_seconds()), tellers=[t.teller_id or "", "*"], horizon=EWMA_HORIZON)
            stmt = sql.action_write(call=call, next_=action.kind == "call-next", idempotent=key is not None, learn=learn)
            result = await write_once(conn, stmt, values, scope=scope, key=key, fingerprint=fingerprint)
        except IntegrityError as exc:  # call-next's REMEMBER: a concurrent twin stored the answer first
            if key is None or "idempotency_keys" not in str(exc.orig):
                raise
            return replayed((await conn.execute(REPLAY, {"scope": scope, "key": key})).scalar_one(), fingerprint)
    if isinstance(result, JSONResponse):
        return result
    if result.n is None:
        return None
    target = targets[result.n]
    if action.kind in ("call-next", "call", "recall"):
        await _to_display(runtime, ctx, target.row, first.c_name, recall=action.kind == "recall")
    return JSONResponse(target.response)


async def _to_display(runtime: "ServiceRuntime", ctx: Ctx, t: Any, counter_name: str, *, recall: bool) -> None:
    """Append the call to the branch's calling-display stream (one Redis round trip)."""
    fields = {
        "ticket_id": t.ticket_id, "number": t.number, "counter_id": t.counter_id, "counter_name": counter_name, "call_count": str(t.call_count),
        "recall": str(recall).lower(), "at": ctx.now.isoformat(),
    }  # fmt: skip
    await readmodels_of(runtime).add_display_call(t.branch_id, fields, ctx.settings.display_stream_length)

