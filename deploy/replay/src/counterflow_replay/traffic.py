"""The day's branch traffic: PKDD'99 counter visits placed on one business day with the
call centre's arrival profile, service times and patience.

Volume (time compression): the PKDD'99 book is a sample of each branch's customers, far
too thin for a queue (1993 has about 40 counter visits a day across all 77 districts). The
replayed day of a branch is therefore EVERY counter visit of a window of ``window_days``
calendar days of 1993 folded onto one day: each real transaction appears exactly once,
with its real customer, account, service type and amount; the compression factor is the
window length (31 by default: December 1993, the month with the most accounts open).
Transactions are booked on every weekday in the book (weekends included), so calendar days
are the right unit.

Randomness: one seeded generator draws, per visit, its arrival moment, its service work,
its patience and the uniforms that decide an offer and a hand-off; per teller, its speed.
The three scenarios replay the same :class:`Day`, so they see identical arrivals.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, timedelta

import numpy as np
import pandas as pd

from counterflow_replay.berka import Book, counter_visits, open_accounts_per_branch
from counterflow_replay.callcentre import SLOT_S, CallCentreFit
from counterflow_replay.staffing import Staffing, staff_branch

#: Default window: December 1993, the last month of the complete 1993 file.
DEFAULT_WINDOW = (date(1993, 12, 1), date(1993, 12, 31))


@dataclass(frozen=True)
class Visit:
    """One customer at the branch door.

    Attributes:
        visit_id: ``v<trans_id>`` (the PKDD'99 transaction).
        branch_id / customer_id / service_type: as the platform names them.
        amount: CZK decimal string (major units).
        arrival_s: seconds after opening (simulated).
        work_s: service time at a teller of speed multiplier 1 (seconds).
        patience_s: how long the customer waits before leaving (seconds).
        accept_u / complete_u: uniforms in [0, 1) deciding the offer (accept when below
            the customer's propensity for the offered channel) and identical in every scenario.
    """

    visit_id: str
    branch_id: str
    customer_id: str
    service_type: str
    amount: str
    arrival_s: float
    work_s: float
    patience_s: float
    accept_u: float
    complete_u: float


@dataclass(frozen=True)
class Teller:
    """A teller at a counter: ``speed`` multiplies the service time (1.2 = 20 % slower)."""

    teller_id: str
    branch_id: str
    counter_id: str
    speed: float


@dataclass
class Day:
    """The replayed day.

    Attributes:
        visits: sorted by ``arrival_s``.
        tellers: per branch.
        staffing: per branch (see :mod:`counterflow_replay.staffing`).
        day_s: length of the replayed day (seconds).
        window: first and last PKDD'99 date folded onto the day.
        data: the ``summary.json`` ``data`` block.
    """

    visits: list[Visit]
    tellers: dict[str, list[Teller]]
    staffing: dict[str, Staffing]
    day_s: float
    window: tuple[date, date]
    data: dict[str, object] = field(default_factory=dict)

    @property
    def branches(self) -> list[str]:
        """Branch ids, busiest first."""
        return sorted(self.staffing, key=lambda b: (-self.staffing[b].visits, b))

    def describe(self) -> dict[str, object]:
        """JSON-able description (window, compression, staffing)."""
        return {
            "window": [self.window[0].isoformat(), self.window[1].isoformat()],
            "compression_days_per_day": (self.window[1] - self.window[0]).days + 1,
            "day_s": self.day_s,
            "staffing": {b: asdict(self.staffing[b]) for b in self.branches},
        }


def build_day(
    book: Book,
    fit: CallCentreFit,
    *,
    window: tuple[date, date] = DEFAULT_WINDOW,
    branches: int | list[str] | None = None,
    hours: float | None = None,
    seed: int = 1999,
) -> Day:
    """Fold the counter visits of ``window`` onto one day.

    Args:
        branches: the N busiest branches, an explicit list of branch ids, or ``None`` (all).
        hours: keep only the first ``hours`` of the day (the shortened replay of the tests);
            staffing is computed on the whole day either way.
        seed: the generator seed (same seed, same day).

    Raises:
        ValueError: the window holds no counter visit of the chosen branches.
    """
    rng = np.random.default_rng(seed)
    visits = counter_visits(book, first=window[0], last=window[1])
    counts = visits.groupby("branch_id").size().sort_values(ascending=False, kind="stable")
    if isinstance(branches, int):
        chosen = list(counts.index[:branches])
    elif branches is None:
        chosen = list(counts.index)
    else:
        chosen = [b for b in branches if b in counts.index]
    visits = visits[visits["branch_id"].isin(chosen)].reset_index(drop=True)
    if visits.empty:
        raise ValueError(f"no counter visit in {window[0]}..{window[1]} for branches {branches}")
    day_s = float(len(fit.slot_probability) * SLOT_S)
    n = len(visits)
    arrival = np.empty(n)
    for b, idx in visits.groupby("branch_id").indices.items():
        arrival[idx] = rng.permutation(fit.arrival_offsets(rng, len(idx)))
    work = np.empty(n)
    for st, idx in visits.groupby("service_type").indices.items():
        work[idx] = fit.service_of(str(st)).sample(rng, len(idx))
    patience = rng.exponential(fit.patience_mean_s, n)
    accept_u = rng.uniform(size=n)
    complete_u = rng.uniform(size=n)
    peak = float(fit.slot_probability.max())
    mean_service = float(np.mean([fit.service_of(s).mean_s for s in visits["service_type"]])) * float(fit.agent_speed.mean())
    staffing = {b: staff_branch(b, int(counts[b]), peak, SLOT_S, mean_service) for b in chosen}
    tellers: dict[str, list[Teller]] = {}
    for b in chosen:
        k = staffing[b].tellers
        speeds = rng.choice(fit.agent_speed, size=k, replace=k > len(fit.agent_speed))
        tellers[b] = [Teller(f"T-{b}-{i + 1}", b, f"{b}-C{i + 1}", float(s)) for i, s in enumerate(speeds)]
    out = [
        Visit(f"v{r.trans_id}", r.branch_id, r.customer_id, r.service_type, r.amount, float(arrival[i]), float(work[i]), float(patience[i]), float(accept_u[i]), float(complete_u[i]))
        for i, r in enumerate(visits.itertuples(index=False))
    ]
    if hours is not None:
        out = [v for v in out if v.arrival_s < hours * 3600]
        day_s = min(day_s, hours * 3600)
    out.sort(key=lambda v: (v.arrival_s, v.visit_id))
    accounts_open = open_accounts_per_branch(book, window[1])
    data = {
        "source": str(book.source),
        "customers": int(book.clients.shape[0]),
        "accounts": int(book.accounts.shape[0]),
        "branches": len(chosen),
        "transactions_read": int(book.trans.shape[0]),
        "days": (window[1] - window[0]).days + 1,
        "window": [window[0].isoformat(), window[1].isoformat()],
        "counter_visits_in_window": n,
        "visits_replayed": len(out),
        "accounts_open_in_replayed_branches": int(accounts_open.reindex(chosen).fillna(0).sum()),
    }
    return Day(out, tellers, staffing, day_s, window, data)


def daily_visits(book: Book) -> pd.Series:
    """Counter visits per calendar day of the book (for docs/replay.md)."""
    v = counter_visits(book)
    first, last = min(v["date"]), max(v["date"])
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    return v.groupby("date").size().reindex(days, fill_value=0)
