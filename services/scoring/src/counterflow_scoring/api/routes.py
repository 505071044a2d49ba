"""Routers of the scoring service: staff read a customer's score and a branch's tier
distribution; operations run the PKDD'99 import and whole-book rescores."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Depends, Path as PathParam

from counterflow_shared.events.payloads.common import Tier
from counterflow_shared.runtime import RuntimeDep, SessionDep
from counterflow_shared.web.auth import StaffPrincipal, staff_dependency
from counterflow_shared.web.problems import invalid, not_found, problem_responses
from counterflow_scoring.api.schemas import CustomerScoreOut, ImportOut, ImportRequest, RescoreOut, TierDistributionOut
from counterflow_scoring.domain import scoring
from counterflow_scoring.domain.contribution import explanation
from counterflow_scoring.domain.importing import check_data_dir, data_dir_under, import_berka
from counterflow_scoring.persistence import repositories as repo

Staff = Annotated[StaffPrincipal, Depends(staff_dependency())]
Operations = Annotated[StaffPrincipal, Depends(staff_dependency("operations"))]
IdPath = Annotated[str, PathParam(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]

_AUTH = problem_responses(401, 403, s401="missing or invalid staff token", s403="the token's role or branches do not cover this")
customers = APIRouter(prefix="/v1", tags=["scores"], responses=_AUTH)
operations = APIRouter(prefix="/v1/operations", tags=["operations"], responses=_AUTH)


@customers.get("/customers/{customer_id}/score", response_model=CustomerScoreOut, responses=problem_responses(404, s404="no score for this customer"))
async def get_customer_score(customer_id: IdPath, session: SessionDep, staff: Staff) -> CustomerScoreOut:
    """A customer's score, tier, propensity and explanation (staff whose token covers
    the customer's home branch; head office ``*`` for customers without one)."""
    rows = await repo.score_rows(session, customer_id)
    if not rows:
        raise not_found("customer score", customer_id)
    row = rows[0]
    staff.require_branch(row["home_branch_id"] or "*")
    return CustomerScoreOut(**{k: row[k] for k in ("customer_id", "home_branch_id", "score", "percentile", "tier", "propensity", "model_version", "computed_at")}, explanation=explanation(row["factors"]))


@customers.get("/branches/{branch_id}/tiers", response_model=TierDistributionOut)
async def get_tier_distribution(branch_id: IdPath, session: SessionDep, staff: Staff) -> TierDistributionOut:
    """How many customers of ``branch_id`` (home branch) are in each tier."""
    staff.require_branch(branch_id)
    counts = await repo.tier_distribution(session, branch_id)
    tiers = {t: counts.get(t.value, 0) for t in Tier}
    return TierDistributionOut(branch_id=branch_id, tiers=tiers, customers=sum(tiers.values()))


@operations.post("/import-berka", response_model=ImportOut)
async def run_import(body: ImportRequest, session: SessionDep, runtime: RuntimeDep, staff: Operations) -> ImportOut:
    """Import the PKDD'99 book (idempotent, resumable; each chunk commits on its own) and,
    unless ``rescore`` is false, rescore the book in this request's transaction.

    ``data_dir`` must lie under the configured ``import_data_root`` (422 naming
    ``body.data_dir`` otherwise, and when files are missing or unreadable)."""
    settings = runtime.settings
    try:
        data_dir = data_dir_under(settings.import_data_root, body.data_dir) if body.data_dir else settings.berka_data_dir
    except ValueError as exc:
        raise invalid("body.data_dir", str(exc)) from exc
    missing = check_data_dir(data_dir)
    if missing:
        raise invalid("body.data_dir", f"PKDD'99 files missing under {data_dir}: {', '.join(missing)}")
    try:
        report = await import_berka(runtime.sessions, data_dir, chunk_rows=settings.import_chunk_rows)
    except ValueError as exc:
        raise invalid("body.data_dir", f"a file could not be read: {exc}") from exc
    rescored = await scoring.rescore_book(session, runtime.publish, settings) if body.rescore else None
    return ImportOut(tables=[asdict(t) for t in report.tables], rescore=RescoreOut(**asdict(rescored)) if rescored else None)


@operations.post("/rescore", response_model=RescoreOut)
async def run_rescore(session: SessionDep, runtime: RuntimeDep, staff: Operations) -> RescoreOut:
    """Rescore the whole book; events only for material changes."""
    return RescoreOut(**asdict(await scoring.rescore_book(session, runtime.publish, runtime.settings)))


routers: list[APIRouter] = [customers, operations]
