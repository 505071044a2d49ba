"""The selfservice service's page: the device fleet of a branch (status, faults, cash
units, forecast cash-out time, latest transactions), rendered with the layout kit and
kept live by ``/v1/branches/{branch_id}/devices/stream``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from counterflow_shared.web.auth import StaffPrincipal
from counterflow_shared.web.pages import NavLink, PageKit
from counterflow_selfservice.api.dependencies import CtxDep
from counterflow_selfservice.api.fleet import branch_fleet
from counterflow_selfservice.persistence import branches as branch_repo
from counterflow_selfservice.persistence import devices as device_repo

PAGES_DIR = Path(__file__).resolve().parent.parent / "pages"

JS_STRINGS = ("online", "offline", "busy", "maintenance", "hardware_error", "out_of_service", "retired", "ok", "low", "empty", "full", "Connected", "Reconnecting", "refused", "succeeded", "No devices in this branch", "No transactions yet", "none")
NAV = (NavLink("Fleet", "/"),)

kit = PageKit(PAGES_DIR, service="selfservice", nav=NAV, texts=(*JS_STRINGS, *(link.label for link in NAV)))
router = APIRouter(include_in_schema=False)
StaffPage = Annotated[StaffPrincipal, Depends(kit.staff())]


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, staff: StaffPage, ctx: CtxDep) -> HTMLResponse:
    """The branches with devices that this staff member covers."""
    branches = sorted({d.branch_id for d in await device_repo.list_devices(ctx.session, branch_ids=None if "*" in staff.branches else list(staff.branches), limit=5000)})
    return kit.render(request, "fleet_home.html", staff=staff, branches=branches, ticketing_url=ctx.settings.ticketing_page_url)


@router.get("/branches/{branch_id}/fleet", response_class=HTMLResponse)
async def fleet_page(branch_id: str, request: Request, staff: StaffPage, ctx: CtxDep) -> HTMLResponse:
    """The fleet of one branch (403 page for a branch the staff member does not cover), in
    the staff member's language (cookie), else the branch's default (from ticketing's
    ``branch.directory.v1``), else the browser's."""
    kit.require_branch(staff, branch_id)
    state = await branch_fleet(ctx, branch_id, 30)
    branch = await branch_repo.get_branch(ctx.session, branch_id)  # ticketing's directory, by event
    return kit.render(request, "fleet.html", staff=staff, branch_id=branch_id, branch_name=None if branch is None else branch.name, branch_language=None if branch is None else branch.language, state_json=state.model_dump_json().replace("</", "<\\/"), ticketing_url=ctx.settings.ticketing_page_url, js_strings=JS_STRINGS)
