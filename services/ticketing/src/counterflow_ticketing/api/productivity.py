"""Productivity per teller and per branch, by day and hour (issue 17): ``GET
/v1/branches/{branch_id}/productivity`` (JSON) and ``.../productivity.csv`` (the export);
lobby manager, operations and analyst of the branch."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from counterflow_shared.web.auth import StaffPrincipal, staff_dependency
from counterflow_shared.web.problems import problem_responses
from counterflow_ticketing.api.deps import CtxDep, TxDep
from counterflow_ticketing.domain import productivity

router = APIRouter(prefix="/v1/branches/{branch_id}", tags=["productivity"])

Reader = Annotated[StaffPrincipal, Depends(staff_dependency("lobby_manager", "operations", "analyst"))]
From = Annotated[date, Query(alias="from", description="first business day (local), YYYY-MM-DD")]
To = Annotated[date, Query(alias="to", description="last business day (local), YYYY-MM-DD; at most 31 days after from")]
Teller = Annotated[str | None, Query(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:@-]+$", description="only this teller's rows (and the branch's)")]


@router.get("/productivity", summary="Productivity per teller and branch, by day and hour")
async def get_productivity(branch_id: str, staff: Reader, session: TxDep, ctx: CtxDep, first: From, last: To, teller_id: Teller = None) -> dict[str, Any]:
    """Rows per (business day, hour or the whole day, teller or the whole branch):
    served, mean and p90 wait, mean service and walk-to-counter time, open seconds, idle
    share, no-shows, transfers and the customers' feedback (count, mean score 1..5)
    (seconds; ``null`` = nothing to measure)."""
    staff.require_branch(branch_id)
    return await productivity.productivity(session, ctx, branch_id, first=first, last=last, teller_id=teller_id)


@router.get("/productivity.csv", summary="Productivity export (CSV)", response_class=Response, responses={200: {"content": {"text/csv": {}}}, **problem_responses(401, 403, s401="missing or invalid staff token", s403="the token does not cover this branch")})
async def export_productivity(branch_id: str, staff: Reader, session: TxDep, ctx: CtxDep, first: From, last: To, teller_id: Teller = None) -> Response:
    """The same rows as ``/productivity``, one CSV line each, with a header."""
    staff.require_branch(branch_id)
    doc = await productivity.productivity(session, ctx, branch_id, first=first, last=last, teller_id=teller_id)
    filename = f"productivity-{branch_id}-{doc['from']}-{doc['to']}.csv"
    return Response(productivity.to_csv(doc), media_type="text/csv; charset=utf-8", headers={"Content-Disposition": f'attachment; filename="{filename}"'})
