"""The ticketing service's pages: lobby console, calling display, teller workstation and
the channel rules pages. Rendered on the server with the layout kit
(:mod:`counterflow_shared.web.pages`); each page embeds its first state (the same JSON
the typed API returns) and its script keeps it live and acts through the public API
(``/v1/...``) with the session cookie and its CSRF token. Staff of one branch get a 403
page for another branch's pages; an unknown branch or counter is a 404 page."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from counterflow_shared.web.auth import StaffPrincipal
from counterflow_shared.web.pages import NavLink, PageKit, PageProblem
from counterflow_ticketing.api.deps import TxDep, get_ctx
from counterflow_ticketing.api.lobby_schemas import CounterStates, LobbyState, QueueOverview
from counterflow_ticketing.domain import lobby
from counterflow_ticketing.domain.catalog import STANDARD_SERVICE_TYPES
from counterflow_ticketing.domain import rules_governance as gov
from counterflow_ticketing.persistence import branches_repo, rules_repo

PAGES_DIR = Path(__file__).resolve().parent.parent / "pages"

NAV = (
    NavLink("Home", "/"),
    NavLink("Rules", "/rules", ("operations", "approver", "analyst")),
)

#: texts the pages' scripts show (translated into the page as JSON)
JS_STRINGS = (
    "waiting", "called", "serving", "open", "paused", "closed", "served", "online", "offline", "busy", "maintenance", "hardware_error", "out_of_service", "retired",
    "offered", "accepted", "declined", "completed", "expired", "Divert", "Transfer", "Cancel", "Raise priority", "Reason", "New priority", "Request failed", "Done",
    "Ticket issued", "Offer made", "Accept offer", "Decline offer", "No waiting ticket this counter can serve", "Called", "None", "walk-in, no priority",
    "tier", "appointment", "rule", "raised by", "Connected", "Reconnecting", "Now serving", "Counter", "urgent", "No tickets waiting", "No devices known", "No offers today",
    "cash out", "Cancel this ticket?", "Call", "walk-in", "Transfer to service type", "Not found", "unknown",
)
#: rule set statuses and service type names shown through ``_()``
OTHER_TEXTS = ("proposed", "approved", "rejected", "active", *(s.name for s in STANDARD_SERVICE_TYPES))

SERVICE_NAMES = tuple(s.name for s in STANDARD_SERVICE_TYPES)
#: what the scripts are given translated: their texts and the service type names
SCRIPT_TEXTS = (*JS_STRINGS, *SERVICE_NAMES)

kit = PageKit(PAGES_DIR, service="ticketing", nav=NAV, texts=(*JS_STRINGS, *OTHER_TEXTS, *(link.label for link in NAV)))


router = APIRouter(include_in_schema=False)

LobbyPage = Annotated[StaffPrincipal, Depends(kit.staff("lobby_manager", "operations"))]
TellerPage = Annotated[StaffPrincipal, Depends(kit.staff("teller", "lobby_manager"))]
RulesPage = Annotated[StaffPrincipal, Depends(kit.staff("operations", "approver", "analyst"))]
AnyStaffPage = Annotated[StaffPrincipal, Depends(kit.staff())]


async def _branch_or_404(session: Any, branch_id: str) -> Any:
    branch = await branches_repo.get_branch(session, branch_id)
    if branch is None or not branch.active:
        raise PageProblem(404, "Not found", f"no branch {branch_id}")
    return branch


def _json(model: Any) -> str:
    """Embed a typed state in a ``<script type="application/json">`` (no ``</`` inside)."""
    return model.model_dump_json().replace("</", "<\\/")


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, staff: AnyStaffPage, session: TxDep) -> HTMLResponse:
    """Links to the pages this staff member may open, per branch they cover."""
    branches = [b for b in await branches_repo.list_branches(session) if b.active and staff.may_act_on(b.branch_id)]
    per_branch = [{"branch": b, "counters": list(await branches_repo.list_counters(session, b.branch_id))} for b in branches[:50]]
    return kit.render(request, "home.html", staff=staff, branches=per_branch, selfservice_url=request.app.state.settings.selfservice_page_url)


@router.get("/branches/{branch_id}/lobby", response_class=HTMLResponse)
async def lobby_console(branch_id: str, request: Request, staff: LobbyPage, session: TxDep) -> HTMLResponse:
    """The lobby console of one branch."""
    kit.require_branch(staff, branch_id)
    branch = await _branch_or_404(session, branch_id)
    ctx = await get_ctx(request.app.state.runtime)
    state = LobbyState.model_validate(await lobby.lobby_state(session, ctx, branch_id))
    services = list(await branches_repo.get_branch_services(session, branch_id))
    return kit.render(request, "lobby.html", staff=staff, branch=branch, branch_language=branch.language, state_json=_json(state), services=services, js_strings=SCRIPT_TEXTS)


@router.get("/branches/{branch_id}/display", response_class=HTMLResponse)
async def calling_display(branch_id: str, request: Request, session: TxDep) -> HTMLResponse:
    """The calling display (public, like its stream: numbers and counters only)."""
    branch = await _branch_or_404(session, branch_id)
    return kit.render(request, "display.html", staff=None, branch=branch, branch_language=branch.language, js_strings=SCRIPT_TEXTS)


@router.get("/counters/{counter_id}/workstation", response_class=HTMLResponse)
async def workstation(counter_id: str, request: Request, staff: TellerPage, session: TxDep) -> HTMLResponse:
    """The teller workstation of one counter."""
    counter = await branches_repo.get_counter(session, counter_id)
    if counter is None:
        raise PageProblem(404, "Not found", f"no counter {counter_id}")
    kit.require_branch(staff, counter.branch_id)
    branch = await _branch_or_404(session, counter.branch_id)
    ctx = await get_ctx(request.app.state.runtime)
    counters = CounterStates.model_validate(await lobby.counter_states(session, ctx, counter.branch_id))
    queue_view = QueueOverview.model_validate(await lobby.overview(session, ctx, counter.branch_id))
    services = list(await branches_repo.get_branch_services(session, counter.branch_id))
    return kit.render(
        request, "workstation.html", staff=staff, branch=branch, counter=counter, branch_language=branch.language,
        counters_json=_json(counters), queue_json=_json(queue_view), services=services, js_strings=SCRIPT_TEXTS,
    )


@router.get("/rules", response_class=HTMLResponse)
async def rules_list(request: Request, staff: RulesPage, session: TxDep) -> HTMLResponse:
    """Rule set versions, the upload form (YAML) and rollback."""
    versions = [gov.version_view(r, with_document=False) for r in await rules_repo.list_versions(session)]
    return kit.render(request, "rules.html", staff=staff, versions=versions, js_strings=SCRIPT_TEXTS)


@router.get("/rules/{version}", response_class=HTMLResponse)
async def rules_version(version: int, request: Request, staff: RulesPage, session: TxDep) -> HTMLResponse:
    """One version: document, diff against another, what-if, approve / reject / activate."""
    row = await rules_repo.get_version(session, version)
    if row is None:
        raise PageProblem(404, "Not found", f"no rule set version {version}")
    view = gov.version_view(row)
    versions = [gov.version_view(r, with_document=False) for r in await rules_repo.list_versions(session)]
    active = await rules_repo.active_version(session)
    own = row.proposed_by == staff.subject
    return kit.render(
        request, "rule_version.html", staff=staff, v=view, versions=versions, active_version=active.version if active else None,
        document_json=json.dumps(view["document"], indent=2, ensure_ascii=False), own=own,
        may_decide=staff.role in ("approver", "admin") and not own, js_strings=SCRIPT_TEXTS,
    )
