"""Customer tiers from contribution ranks.

Differentiated service as retail banks practise it: the book is ranked by contribution
score and cut into tiers by configured shares (private top 2 %, VIP next 5 %, premium
next 15 %, mass next 48 %, basic the rest by default). Shares, not score thresholds, so
that the size of each tier (and so the load on VIP rooms and priority queues) stays what
the bank planned whatever the score's scale.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from counterflow_shared.events.payloads.common import Tier

#: Tiers in rank order, highest contribution first.
TIER_ORDER: tuple[Tier, ...] = (Tier.PRIVATE, Tier.VIP, Tier.PREMIUM, Tier.MASS, Tier.BASIC)


def validate_shares(shares: dict[str, float]) -> dict[str, float]:
    """Check configured tier shares: keys among the tiers above ``basic``, each in (0, 1),
    sum below 1 (``basic`` takes the rest). Returns them in tier order.

    Raises:
        ValueError: unknown tier, share out of range, or shares summing to 1 or more.
    """
    known = {t.value for t in TIER_ORDER[:-1]}
    unknown = set(shares) - known
    if unknown:
        raise ValueError(f"unknown tiers {sorted(unknown)}; configurable: {sorted(known)}")
    for name, share in shares.items():
        if not 0 < share < 1:
            raise ValueError(f"share of tier {name} must be in (0, 1), got {share}")
    if sum(shares.values()) >= 1:
        raise ValueError("tier shares must leave a positive share for basic")
    return {t.value: shares[t.value] for t in TIER_ORDER[:-1] if t.value in shares}


def assign_tiers(scores: pd.Series, shares: dict[str, float]) -> pd.DataFrame:
    """Rank ``scores`` (index: customer id) and cut the ranking by ``shares``.

    Ties are broken by customer id so that the result is deterministic and tier sizes are
    exactly ``round(share * n)`` (cumulative rounding, so sizes add up to ``n``).

    Returns:
        DataFrame indexed like ``scores`` with ``percentile`` (0..100, 100 = best; share
        of the book scoring at most this customer's score, as a percentage) and ``tier``.
    """
    n = len(scores)
    if n == 0:
        return pd.DataFrame({"percentile": pd.Series(dtype=float), "tier": pd.Series(dtype=object)})
    order = pd.DataFrame({"score": scores.to_numpy(dtype=float), "id": scores.index.astype(str)}, index=scores.index)
    order = order.sort_values(["score", "id"], ascending=[False, True], kind="mergesort")
    rank = np.arange(n)  # 0 = best
    bounds = np.round(np.cumsum([shares[t.value] for t in TIER_ORDER[:-1] if t.value in shares]) * n).astype(int)
    names = [t.value for t in TIER_ORDER[:-1] if t.value in shares]
    tier_idx = np.searchsorted(bounds, rank, side="right")
    tiers = np.array(names + [Tier.BASIC.value], dtype=object)[tier_idx]
    percentile = 100.0 * (n - rank) / n
    out = pd.DataFrame({"percentile": percentile, "tier": tiers}, index=order.index)
    return out.loc[scores.index]


def place(above: int, n: int, shares: dict[str, float]) -> tuple[float, str]:
    """``(percentile, tier)`` of one customer ranked among ``n`` customers (itself
    included) with ``above`` of them scoring higher: the same cut as :func:`assign_tiers`
    (cumulative rounding of ``share * n``), so a customer placed on first sight gets the
    tier the next whole-book rescore gives it (up to ties, which that breaks by id).

    Raises:
        ValueError: ``n < 1`` or ``above`` outside ``0..n-1``.
    """
    if n < 1 or not 0 <= above < n:
        raise ValueError(f"rank {above} of {n} is not a place in the book")
    names = [t.value for t in TIER_ORDER[:-1] if t.value in shares]
    bounds = np.round(np.cumsum([shares[name] for name in names]) * n).astype(int)
    tier = (names + [Tier.BASIC.value])[int(np.searchsorted(bounds, above, side="right"))]
    return 100.0 * (n - above) / n, tier
