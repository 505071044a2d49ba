"""Operations API for channel rule sets (``/v1/rules``): propose, approve (maker-checker),
reject, list, show, diff, activate, rollback, audit, what-if, and diversion completion
rates per rule and branch. Staff bearer tokens; see
:mod:`counterflow_ticketing.domain.rules_governance` for who may do what."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from counterflow_shared.constraints import INT32_MAX, BankDateTime, Id, PositiveInt32, VersionPath
from counterflow_shared.rules.whatif import DEFAULT_SERVICE_TIME_S, Assumptions
from counterflow_shared.web.auth import StaffPrincipal, staff_dependency
from counterflow_shared.web.edge import body_limit
from counterflow_shared.web.problems import invalid, not_found
from counterflow_ticketing.api.deps import CtxDep, TxDep
from counterflow_ticketing.domain import rules_governance as gov
from counterflow_ticketing.domain.rules_diff import diff_documents
from counterflow_ticketing.domain.rules_outcomes import completion_rates
from counterflow_ticketing.domain.rules_whatif import what_if_for_version
from counterflow_ticketing.persistence import rules_repo

router = APIRouter(prefix="/v1/rules", tags=["channel rules"])

Maker = Annotated[StaffPrincipal, Depends(staff_dependency("operations", "approver"))]
Checker = Annotated[StaffPrincipal, Depends(staff_dependency("approver"))]
Reader = Annotated[StaffPrincipal, Depends(staff_dependency("operations", "approver", "analyst"))]
Operations = Annotated[StaffPrincipal, Depends(staff_dependency("operations", "approver", "analyst", "lobby_manager"))]


class ProposeIn(BaseModel):
    """A proposed rule set: ``document`` as JSON, or ``yaml`` text (exactly one)."""

    document: dict[str, Any] | None = None
    yaml: str | None = Field(default=None, max_length=1_000_000)
    comment: str | None = Field(default=None, max_length=2000)


class DecisionIn(BaseModel):
    """An approver's decision; ``activate`` false approves without activating yet."""

    comment: str | None = Field(default=None, max_length=2000)
    activate: bool = True


class RollbackIn(BaseModel):
    """``to_version``: default the version active before the current one."""

    to_version: PositiveInt32 | None = None


class WhatIfIn(BaseModel):
    """Recorded traffic: ``records`` (recorded DecisionInputs) or a window of this
    service's decision records (``since``/``until``, optional ``branch_id``); load model
    assumptions (seconds, counters per branch)."""

    records: list[dict[str, Any]] | None = Field(default=None, max_length=200_000)
    since: BankDateTime | None = None
    until: BankDateTime | None = None
    branch_id: Id | None = None
    against: PositiveInt32 | None = Field(default=None, description="compare with this version instead of the active one")
    counters: int = Field(default=3, ge=1, le=200)
    counters_by_branch: dict[Id, Annotated[int, Field(ge=1, le=200)]] = Field(default={}, max_length=10_000)
    service_time_s: dict[Id, Annotated[float, Field(gt=0, le=24 * 3600)]] = Field(default={}, max_length=64)
    default_accept: float = Field(default=0.3, ge=0, le=1)


@router.post("/sets", status_code=201, openapi_extra=body_limit(2 * 1024 * 1024), summary="Propose a new rule set version (maker)")
async def propose(body: ProposeIn, actor: Maker, session: TxDep, ctx: CtxDep) -> dict[str, Any]:
    """422 ``invalid-rule-set`` names every bad field (``body.document.rules[2].when.amount.max``) and its rule."""
    if (body.document is None) == (body.yaml is None):
        raise invalid("body.document", "give exactly one of document (JSON) or yaml (text)")
    return await gov.propose(session, actor=actor, document=body.document if body.document is not None else body.yaml, comment=body.comment, now=ctx.now)


@router.get("/sets", summary="List versions, newest first")
async def list_sets(actor: Reader, session: TxDep, status: str | None = Query(default=None, pattern="^(proposed|approved|rejected|active|retired)$")) -> dict[str, Any]:
    """Versions without their documents."""
    return {"versions": [gov.version_view(r, with_document=False) for r in await rules_repo.list_versions(session, status=status)]}


@router.get("/active", summary="The active version")
async def active(actor: Operations, session: TxDep) -> dict[str, Any]:
    """404 when no version was ever activated."""
    row = await rules_repo.active_version(session)
    if row is None:
        raise not_found("active rule set", "global")
    return gov.version_view(row)


@router.get("/sets/{version}", summary="One version with its document")
async def show(version: VersionPath, actor: Reader, session: TxDep) -> dict[str, Any]:
    """The stored version (its document is immutable)."""
    return gov.version_view(await gov.require_version(session, version))


@router.get("/sets/{version}/diff", summary="What changed against another version (default: the active one)")
async def diff(version: VersionPath, actor: Reader, session: TxDep, against: int | None = Query(default=None, ge=1, le=INT32_MAX)) -> dict[str, Any]:
    """Rules added / removed / changed per field, settings, default, overrides."""
    row = await gov.require_version(session, version)
    base = await gov.require_version(session, against) if against is not None else await rules_repo.active_version(session)
    return {"version": version, "against": base.version if base else None, "changes": diff_documents(base.document if base else None, row.document)}


@router.get("/sets/{version}/audit", summary="Audit trail of a version")
async def audit(version: VersionPath, actor: Reader, session: TxDep) -> dict[str, Any]:
    """Who did what when, with the changes."""
    await gov.require_version(session, version)
    return {"version": version, "entries": await gov.audit_view(session, version)}


@router.get("/audit", summary="Audit trail of every version")
async def audit_all(actor: Reader, session: TxDep) -> dict[str, Any]:
    """Oldest first."""
    return {"entries": await gov.audit_view(session)}


@router.post("/sets/{version}/approve", summary="Approve (and activate) a proposed version (checker)")
async def approve(version: VersionPath, body: DecisionIn, actor: Checker, session: TxDep, ctx: CtxDep) -> dict[str, Any]:
    """403 ``maker-checker`` when the approver proposed it; 409 when it is not proposed."""
    return await gov.approve(session, ctx.publish, version=version, actor=actor, comment=body.comment, activate_now=body.activate, now=ctx.now)


@router.post("/sets/{version}/reject", summary="Reject a proposed version (checker)")
async def reject(version: VersionPath, body: DecisionIn, actor: Checker, session: TxDep, ctx: CtxDep) -> dict[str, Any]:
    """403 ``maker-checker`` when the approver proposed it; 409 when it is not proposed."""
    return await gov.reject(session, version=version, actor=actor, comment=body.comment, now=ctx.now)


@router.post("/sets/{version}/activate", summary="Activate an approved version")
async def activate(version: VersionPath, actor: Checker, session: TxDep, ctx: CtxDep) -> dict[str, Any]:
    """Publishes ``channel.ruleset.activated``; 409 unless the version is approved."""
    return await gov.activate(session, ctx.publish, version=version, actor=actor, now=ctx.now)


@router.post("/rollback", summary="Re-activate an earlier version")
async def rollback(body: RollbackIn, actor: Checker, session: TxDep, ctx: CtxDep) -> dict[str, Any]:
    """Publishes ``channel.ruleset.activated`` with ``rollback: true``."""
    return await gov.rollback(session, ctx.publish, actor=actor, to_version=body.to_version, now=ctx.now)


@router.post("/sets/{version}/what-if", openapi_extra=body_limit(64 * 1024 * 1024), summary="What this version would have done with recorded traffic, beside the active one")
async def what_if(version: VersionPath, body: WhatIfIn, actor: Reader, session: TxDep) -> dict[str, Any]:
    """Offers per rule, expected accepted (from propensity), expected counter load and
    waits, for both sets; deterministic."""
    assumptions = Assumptions(
        counters=body.counters,
        counters_by_branch=body.counters_by_branch,
        service_time_s={**DEFAULT_SERVICE_TIME_S, **body.service_time_s},
        default_accept=body.default_accept,
    )
    return await what_if_for_version(
        session, version=version, against=body.against, records=body.records, since=body.since, until=body.until, branch_id=body.branch_id, assumptions=assumptions
    )


@router.get("/completion-rates", summary="Diversion outcomes per rule and branch")
async def rates(
    actor: Operations,
    session: TxDep,
    ctx: CtxDep,
    since: Annotated[BankDateTime | None, Query(description="default: 7 days ago")] = None,
    until: Annotated[BankDateTime | None, Query(description="default: now")] = None,
    branch_id: Annotated[str | None, Query(max_length=64)] = None,
) -> dict[str, Any]:
    """Offered, accepted, declined, completed, expired and rates per (rule, branch)."""
    until_: datetime = until or ctx.now
    since_: datetime = since or until_ - timedelta(days=7)
    if until_ <= since_:
        raise invalid("query.until", "must be after since")
    if branch_id is not None:
        actor.require_branch(branch_id)
    return await completion_rates(session, since=since_, until=until_, branch_id=branch_id)
