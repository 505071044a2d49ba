"""``customer.scores.v1`` (compacted, key ``customer_id``): tier and propensity."""

from __future__ import annotations

from pydantic import AwareDatetime

from counterflow_shared.events.payloads.common import Id, Payload, Tier


class CustomerScored(Payload):
    """A customer's contribution score, tier and propensity to accept each diversion
    channel (calibrated probabilities in [0, 1], keys ``self_service``, ``mobile``,
    ``appointment``). Published only on a tier change or a material propensity move."""

    customer_id: Id
    home_branch_id: Id | None = None
    score: float
    percentile: float
    tier: Tier
    propensity: dict[str, float]
    model_version: str
    computed_at: AwareDatetime
