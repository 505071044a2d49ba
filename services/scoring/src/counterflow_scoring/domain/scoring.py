"""Scoring the book and keeping customers current: the service functions behind the
API, the CLI and the event handlers. They work inside the caller's transaction and never
commit; events go out through the transactional outbox (``publish``).

Publishing rule: ``customer.score.updated`` goes out for a customer only when the tier
differs from the last published tier or a channel propensity moved by at least
``material_propensity_move`` (default 0.05, i.e. 5 percentage points) from the last
published value, so rescoring the whole book without real change publishes nothing.
The score and percentile alone never trigger an event (they move a little with every
rescore of the book, and consumers act on tiers and propensities).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.ext.asyncio import AsyncSession

from counterflow_shared.events.payloads.scores import CustomerScored
from counterflow_scoring.domain import contribution, propensity
from counterflow_scoring.domain.tiers import assign_tiers, place
from counterflow_scoring.persistence import repositories as repo
from counterflow_scoring.settings import ScoringSettings

#: ``runtime.publish``: writes payloads to the outbox in the session's transaction.
Publish = Callable[..., Awaitable[Any]]
#: Live channel names counted in ``channel_usage``.
LIVE_CHANNELS = ("counter", "self_service", "mobile")
#: Stored profile inputs of the propensity model (``customer_scores.features``).
PROFILE_KEYS = ("age_years", "has_card", "has_loan", "book_self_service_uses", "book_counter_uses")


@dataclass
class RescoreReport:
    """Outcome of a whole-book rescore: customers scored, events published, tier sizes,
    the reference date and the propensity model version per channel."""

    scored: int
    published: int
    tiers: dict[str, int]
    as_of: str
    models: dict[str, str]


def _clean(value: Any) -> Any:
    if isinstance(value, (float, np.floating)):
        return None if math.isnan(value) else float(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    return value


def _usage_frame(rows: list[dict[str, Any]], index: pd.Index) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["customer_id", "channel", "uses"])
    pivot = frame.pivot_table(index="customer_id", columns="channel", values="uses", aggfunc="sum") if len(frame) else pd.DataFrame()
    return pivot.reindex(index=index, columns=list(LIVE_CHANNELS)).fillna(0.0)


def _profiles(stored: pd.DataFrame, usage: pd.DataFrame, percentile: pd.Series) -> pd.DataFrame:
    """Propensity inputs: stored book features plus live channel use."""
    return pd.DataFrame(
        {
            "age_years": stored["age_years"],
            "has_card": stored["has_card"],
            "has_loan": stored["has_loan"],
            "self_service_uses": stored["book_self_service_uses"].fillna(0) + usage["self_service"],
            "counter_uses": stored["book_counter_uses"].fillna(0) + usage["counter"],
            "mobile_uses": usage["mobile"],
            "percentile": percentile,
        },
        index=stored.index,
    )


def _outcome_counts(rows: list[dict[str, Any]], index: pd.Index) -> tuple[pd.DataFrame, pd.DataFrame]:
    frame = pd.DataFrame(rows, columns=["customer_id", "channel", "accepted", "occurred_at"])
    frame["accepted"] = frame["accepted"].astype(float)
    offers = frame.pivot_table(index="customer_id", columns="channel", values="accepted", aggfunc="count") if len(frame) else pd.DataFrame()
    accepted = frame.pivot_table(index="customer_id", columns="channel", values="accepted", aggfunc="sum") if len(frame) else pd.DataFrame()
    cols = list(propensity.CHANNELS)
    return offers.reindex(index=index, columns=cols).fillna(0.0), accepted.reindex(index=index, columns=cols).fillna(0.0)


def _propensities(models: dict[str, propensity.ChannelModel], profiles: pd.DataFrame, offers: pd.DataFrame, accepted: pd.DataFrame, strength: float) -> pd.DataFrame:
    x = propensity.feature_matrix(profiles)
    out = {}
    for channel in propensity.CHANNELS:
        p0 = models[channel].predict(x)
        out[channel] = np.round(propensity.personalise(p0, accepted[channel].to_numpy(), offers[channel].to_numpy(), strength), 4)
    return pd.DataFrame(out, index=profiles.index)


async def current_models(session: AsyncSession) -> dict[str, propensity.ChannelModel]:
    """The stored population model per channel, the cold start where none is stored."""
    stored = {m["channel"]: propensity.ChannelModel.from_params(m["channel"], m["version"], m["params"], m["training_outcomes"]) for m in await repo.load_models(session)}
    return {c: stored.get(c) or propensity.cold_start_model(c) for c in propensity.CHANNELS}


def model_version(models: dict[str, propensity.ChannelModel]) -> str:
    """One version string for the event: scorecard + each channel's propensity model."""
    return contribution.MODEL_VERSION + ";" + ";".join(f"{c}={models[c].version}" for c in propensity.CHANNELS)


def _event(row: dict[str, Any]) -> CustomerScored:
    return CustomerScored(
        customer_id=row["customer_id"],
        home_branch_id=row["home_branch_id"],
        score=row["score"],
        percentile=row["percentile"],
        tier=row["tier"],
        propensity=row["propensity"],
        model_version=row["model_version"],
        computed_at=row["computed_at"],
    )


@dataclass
class _Scored:
    """Everything a rescore computes before it touches the database again."""

    rows: list[dict[str, Any]]
    models: dict[str, propensity.ChannelModel]
    tiers: dict[str, int]
    as_of: str


def _score_everyone(records: dict[str, list[dict[str, Any]]], known: list[str], usage_rows: list[dict[str, Any]], outcome_rows: list[dict[str, Any]], settings: ScoringSettings, now: datetime) -> _Scored:
    """The CPU part of a rescore (pure; run in a worker thread so the event loop keeps
    serving requests and consumer heartbeats)."""
    book = contribution.book_from_records(records)
    as_of = settings.score_as_of or book.as_of()
    features = contribution.customer_features(book, as_of)
    everyone = pd.Index(sorted(set(features.index) | set(known)), name="customer_id")
    features = features.reindex(everyone)
    scores, points = contribution.score_book(features)
    ranked = assign_tiers(scores, settings.tier_shares)
    stored = features.rename(columns={"self_service_uses": "book_self_service_uses", "counter_uses": "book_counter_uses"})
    usage = _usage_frame(usage_rows, everyone)
    profiles = _profiles(stored, usage, ranked["percentile"])
    models = _fit_models(outcome_rows, profiles, settings, now)
    offers, accepted = _outcome_counts(outcome_rows, everyone)
    props = _propensities(models, profiles, offers, accepted, settings.propensity_prior_strength)

    version = model_version(models)
    factor_names = [f.name for f in contribution.FACTORS]
    feature_records = stored[[*PROFILE_KEYS, *factor_names]].astype(float).to_dict("index")
    raw_records = features[factor_names].astype(float).to_dict("index")
    point_records = points.to_dict("index")
    prop_records = props.to_dict("index")
    homes = features["home_branch_id"].to_dict()
    score_values = scores.to_dict()
    percentiles = ranked["percentile"].to_dict()
    tiers = ranked["tier"].to_dict()
    rows = []
    for cid in everyone:
        home = homes.get(cid)
        rows.append(
            {
                "customer_id": cid,
                "home_branch_id": home if isinstance(home, str) else None,
                "score": round(float(score_values[cid]), 4),
                "percentile": round(float(percentiles[cid]), 4),
                "tier": tiers[cid],
                "factors": contribution.factor_points(point_records[cid], raw_records[cid]),
                "features": {k: _clean(v) for k, v in feature_records[cid].items()},
                "propensity": {c: float(prop_records[cid][c]) for c in propensity.CHANNELS},
                "model_version": version,
                "computed_at": now,
            }
        )
    return _Scored(rows, models, {str(k): int(v) for k, v in ranked["tier"].value_counts().items()}, as_of.isoformat())


async def rescore_book(session: AsyncSession, publish: Publish, settings: ScoringSettings) -> RescoreReport:
    """Score every known customer, refit the propensity models, store everything and
    publish ``customer.score.updated`` for material changes only (module docstring).

    Customers known only from live events get the book-average contribution (every
    factor unknown) and no home branch.
    """
    await repo.lock_rescoring(session)
    now = datetime.now(UTC)
    records = await repo.load_book_records(session, contribution.BOOK_COLUMNS)
    known = await repo.customer_ids(session)
    usage_rows = await repo.channel_usage(session)
    outcome_rows = await repo.outcomes(session)
    scored = await asyncio.to_thread(_score_everyone, records, known, usage_rows, outcome_rows, settings, now)
    await repo.save_models(session, [{"channel": c, "version": m.version, "params": m.params(), "trained_at": now, "training_outcomes": m.training_outcomes} for c, m in scored.models.items()])

    previous = {r["customer_id"]: r for r in await repo.score_rows(session)}
    events = []
    for row in scored.rows:
        before = previous.get(row["customer_id"])
        published_tier = before["published_tier"] if before else None
        published_props = before["published_propensity"] if before else None
        if published_tier != row["tier"] or propensity.material_change(published_props, row["propensity"], settings.material_propensity_move):
            events.append(_event(row))
            row.update(published_tier=row["tier"], published_propensity=row["propensity"], published_at=now)
        else:
            row.update(published_tier=published_tier, published_propensity=published_props, published_at=before["published_at"] if before else None)
    await repo.upsert_scores(session, scored.rows)
    if events:
        await publish(session, *events)
    return RescoreReport(scored=len(scored.rows), published=len(events), tiers=scored.tiers, as_of=scored.as_of, models={c: m.version for c, m in scored.models.items()})


def _fit_models(outcome_rows: list[dict[str, Any]], profiles: pd.DataFrame, settings: ScoringSettings, now: datetime) -> dict[str, propensity.ChannelModel]:
    frame = pd.DataFrame(outcome_rows, columns=["customer_id", "channel", "accepted", "occurred_at"])
    frame = frame[frame["customer_id"].isin(profiles.index)]
    version = f"propensity-logit-{now:%Y%m%dT%H%M%S}"
    models = {}
    for channel in propensity.CHANNELS:
        part = frame[frame["channel"] == channel]
        x = propensity.feature_matrix(profiles.loc[part["customer_id"]]) if len(part) else np.empty((0, len(propensity.FEATURES)))
        models[channel] = propensity.fit_channel_model(channel, x, part["accepted"].astype(int).to_numpy(), min_outcomes=settings.propensity_min_training_outcomes, version=version)
    return models


async def refresh_customer(session: AsyncSession, publish: Publish, settings: ScoringSettings, customer_id: str) -> bool:
    """Recompute one customer's propensity from the stored profile, live channel use and
    own answers with the current models; publish when it moved materially.

    Plain numpy on one row (no data frames): this runs once per consumed event.

    A customer without a score (first seen in events) is scored on the spot
    (:func:`first_sight_score`) and so always published.

    Returns:
        ``True`` if an event was published.
    """
    await repo.lock_refreshing(session)
    rows = await repo.score_rows(session, customer_id, for_update=True)
    if not rows:
        await repo.upsert_scores(session, [await first_sight_score(session, settings, customer_id)])
        rows = await repo.score_rows(session, customer_id, for_update=True)
    row = rows[0]
    stored = row["features"]
    usage = {u["channel"]: u["uses"] for u in await repo.channel_usage(session, customer_id)}
    profile = {
        "age_years": [stored.get("age_years")],
        "has_card": [stored.get("has_card")],
        "has_loan": [stored.get("has_loan")],
        "self_service_uses": [(stored.get("book_self_service_uses") or 0.0) + usage.get("self_service", 0)],
        "counter_uses": [(stored.get("book_counter_uses") or 0.0) + usage.get("counter", 0)],
        "mobile_uses": [usage.get("mobile", 0)],
        "percentile": [row["percentile"]],
    }
    x = propensity.feature_matrix(profile)
    counts = await repo.outcome_counts(session, customer_id)
    models = await current_models(session)
    current = {}
    for channel in propensity.CHANNELS:
        offers, accepted = counts.get(channel, (0, 0))
        p = propensity.personalise(models[channel].predict(x), [accepted], [offers], settings.propensity_prior_strength)
        current[channel] = round(float(p[0]), 4)
    now = datetime.now(UTC)
    material = row["published_tier"] != row["tier"] or propensity.material_change(row["published_propensity"], current, settings.material_propensity_move)
    await repo.update_propensity(session, customer_id=customer_id, propensity=current, published=material, at=now)
    if material:
        await publish(session, _event({**row, "propensity": current, "model_version": model_version(models), "computed_at": now}))
    return material


#: Contribution score of a customer the book does not know: every factor unknown, so 0
#: points each (``contribution.score_book``): the book's average customer.
UNKNOWN_CUSTOMER_SCORE = 0.0


async def first_sight_score(session: AsyncSession, settings: ScoringSettings, customer_id: str) -> dict[str, Any]:
    """The score row of a customer first seen in live events (a new account, app
    activity, an answer to an offer), before any propensity: contribution
    :data:`UNKNOWN_CUSTOMER_SCORE` with every factor unknown, placed in the stored book
    by rank (:func:`tiers.place`: the percentile and tier a whole-book rescore would give
    it), no home branch, nothing published yet (so the caller's refresh publishes it).
    One aggregate statement over the stored scores."""
    n, above = await repo.scores_above(session, UNKNOWN_CUSTOMER_SCORE)
    percentile, tier = place(above, n + 1, settings.tier_shares)
    unknown = {f.name: None for f in contribution.FACTORS}
    return {
        "customer_id": customer_id,
        "home_branch_id": None,
        "score": UNKNOWN_CUSTOMER_SCORE,
        "percentile": round(percentile, 4),
        "tier": tier,
        "factors": contribution.factor_points({f.name: 0.0 for f in contribution.FACTORS}, unknown),
        "features": {**{k: None for k in PROFILE_KEYS}, **unknown},
        "propensity": {},
        "model_version": contribution.MODEL_VERSION,
        "computed_at": datetime.now(UTC),
        "published_tier": None,
        "published_propensity": None,
        "published_at": None,
    }


async def record_channel_use(session: AsyncSession, publish: Publish, settings: ScoringSettings, *, customer_id: str, channel: str, at: datetime) -> bool:
    """A customer used ``channel`` (``counter``, ``self_service``, ``mobile``): count it
    and refresh the propensity. Returns whether an event was published."""
    await repo.touch_customer(session, customer_id=customer_id, at=at)
    await repo.add_channel_use(session, customer_id=customer_id, channel=channel, at=at)
    return await refresh_customer(session, publish, settings, customer_id)


async def record_diversion_answer(session: AsyncSession, publish: Publish, settings: ScoringSettings, *, diversion_id: str, customer_id: str, channel: str, accepted: bool, at: datetime) -> bool:
    """A customer accepted or declined a diversion to ``channel`` (a propensity channel):
    store the answer and refresh the propensity. Returns whether an event was published."""
    await repo.touch_customer(session, customer_id=customer_id, at=at)
    await repo.record_outcome(session, diversion_id=diversion_id, customer_id=customer_id, channel=channel, accepted=accepted, at=at)
    return await refresh_customer(session, publish, settings, customer_id)
