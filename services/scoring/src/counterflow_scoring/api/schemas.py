"""Request and response bodies of the scoring API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from counterflow_shared.events.payloads.common import Tier


class FactorOut(BaseModel):
    """One factor of a contribution score: raw value (``None`` when unknown), its unit,
    its weight and the score points it contributes (the points add up to the score)."""

    factor: str
    value: float | None
    unit: str
    meaning: str
    weight: float
    points: float


class CustomerScoreOut(BaseModel):
    """A customer's contribution score (points, 0 = book average), percentile (0..100,
    100 = best), tier, calibrated propensity per channel (probabilities in [0, 1]) and
    the explanation (factors, largest first)."""

    customer_id: str
    home_branch_id: str | None
    score: float
    percentile: float
    tier: Tier
    propensity: dict[str, float]
    explanation: list[FactorOut]
    model_version: str
    computed_at: datetime


class TierDistributionOut(BaseModel):
    """Customers per tier whose home branch is ``branch_id`` (every tier listed, 0 when
    none) and their total."""

    branch_id: str
    tiers: dict[Tier, int]
    customers: int


class ImportRequest(BaseModel):
    """Run the PKDD'99 import. ``data_dir``: folder holding the ``*.asc`` files on the
    server, absolute or relative to the configured import data root, and inside it
    (default: the configured PKDD'99 folder); ``rescore``: rescore the book afterwards."""

    data_dir: str | None = Field(default=None, min_length=1, max_length=500)
    rescore: bool = True


class TableImportOut(BaseModel):
    """Per table: rows in the file, written in this run, stored after it, skipped."""

    table: str
    file_rows: int
    written: int
    stored: int
    skipped: bool


class RescoreOut(BaseModel):
    """Whole-book rescore: customers scored, events published, tier sizes, reference
    date of the book, propensity model version per channel."""

    scored: int
    published: int
    tiers: dict[str, int]
    as_of: str
    models: dict[str, str]


class ImportOut(BaseModel):
    """Result of an import run (and of the rescore that followed, if asked)."""

    tables: list[TableImportOut]
    rescore: RescoreOut | None
