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

from counterflow_replay import patience as walkin
from counterflow_replay.berka import Book, counter_visits, district_names, elderly_customers, last_complete_month, non_divertible_visits, open_accounts_per_branch
from counterflow_replay.callcentre import SLOT_S, CallCentreFit
from counterflow_replay.staffing import UTILISATION_TARGET, Staffing, staff_branch

#: The 1993 default (the rule :func:`berka.last_complete_month` picks it for the shared file).
DEFAULT_WINDOW = (date(1993, 12, 1), date(1993, 12, 31))
#: Mean service time (seconds) of the non-divertible business: ticketing's standard
#: catalog (``domain/catalog.py``: account opening 900 s, loan consultation 1,800 s, card
#: services 420 s). No public data gives branch service times of these; they are the
#: catalog's assumption. The draw keeps the call centre's log-normal shape (each draw is
#: the catalog mean times a fitted PS draw over the PS mean).
NON_DIVERTIBLE_MEAN_S = {"account_opening": 900.0, "loan_consultation": 1800.0, "card_services": 420.0}
#: Service types a rule may divert (the three cash and payment visits of trans.asc).
DIVERTIBLE = ("cash_withdrawal", "cash_deposit", "bill_payment")


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
        needs: needs the customer states at the kiosk (``elderly`` when aged
            :data:`berka.ELDERLY_AGE` or more on the replayed day).
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
    needs: tuple[str, ...] = ()

    @property
    def divertible(self) -> bool:
        """A service type a rule may send to a machine or the app (protections aside)."""
        return self.service_type in DIVERTIBLE


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
    names: dict[str, str] = field(default_factory=dict)
    patience: dict[str, object] = field(default_factory=dict)

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
            "utilisation_target": UTILISATION_TARGET,
            "walk_in_patience": self.patience,
            "staffing": {b: asdict(self.staffing[b]) for b in self.branches},
        }


def build_day(
    book: Book,
    fit: CallCentreFit,
    *,
    window: tuple[date, date] | None = None,
    branches: int | list[str] | None = None,
    hours: float | None = None,
    seed: int = 1999,
    staffing_factor: float = 1.0,
    staffing_table: dict[str, int] | None = None,
    load: float = 1.0,
) -> Day:
    """Fold the counter visits of ``window`` onto one day.

    Args:
        window: first and last day (inclusive); default :func:`berka.last_complete_month`.
        branches: the N busiest branches, an explicit list of branch ids, or ``None`` (all).
        hours: keep only the first ``hours`` of the day (the shortened replay of the tests);
            staffing is computed on the whole day either way.
        seed: the generator seed (same seed, same day).
        staffing_factor / staffing_table: ``--staffing`` (see :mod:`counterflow_replay.staffing`).
        load: the what-if sweep's load level: ``round(load * n)`` visits of each branch
            are drawn from its real ones (with replacement above 1); staffing stays the one
            of load 1.

    Raises:
        ValueError: the window is not inside the days of trans.asc, holds no counter visit
            of the chosen branches, or ``load <= 0``.
    """
    if load <= 0:
        raise ValueError("load must be positive")
    window = window or last_complete_month(book)
    held = (min(book.trans["date"]), max(book.trans["date"]))
    if window[0] < held[0] or window[1] > held[1]:
        raise ValueError(f"window {window[0]}..{window[1]} is not inside the days trans.asc holds ({held[0]}..{held[1]})")
    rng = np.random.default_rng(seed)
    divertible = counter_visits(book, first=window[0], last=window[1])
    other = non_divertible_visits(book, first=window[0], last=window[1])
    visits = pd.concat([divertible, other], ignore_index=True)
    counts = visits.groupby("branch_id").size().sort_values(ascending=False, kind="stable")
    counts = counts.loc[sorted(counts.index, key=lambda b: (-counts[b], int(b[1:])))]
    if isinstance(branches, int):
        chosen = list(counts.index[:branches])
    elif branches is None:
        chosen = list(counts.index)
    else:
        chosen = [b for b in branches if b in counts.index]
    visits = visits[visits["branch_id"].isin(chosen)].sort_values("trans_id").reset_index(drop=True)
    if visits.empty:
        raise ValueError(f"no counter visit in {window[0]}..{window[1]} for branches {branches}")
    day_s = float(len(fit.slot_probability) * SLOT_S)
    ps_mean = {st: fit.service_of(st).mean_s for st in DIVERTIBLE}

    def mean_of(st: str) -> float:
        return ps_mean[st] if st in ps_mean else NON_DIVERTIBLE_MEAN_S[st]

    # staffing on the real day (load 1), whatever the sweep's level
    speed_mean = float(fit.agent_speed.mean())
    peak = float(fit.slot_probability.max())
    staffing_table = staffing_table or {}
    staffing: dict[str, Staffing] = {}
    for b in chosen:
        mine = visits[visits["branch_id"] == b]
        work = float(sum(mean_of(st) for st in mine["service_type"])) * speed_mean
        staffing[b] = staff_branch(b, len(mine), work, day_s, peak, SLOT_S, factor=staffing_factor, tellers=staffing_table.get(b))
    tellers: dict[str, list[Teller]] = {}
    for b in chosen:
        k = staffing[b].tellers
        speeds = rng.choice(fit.agent_speed, size=k, replace=k > len(fit.agent_speed))
        tellers[b] = [Teller(f"T-{b}-{i + 1}", b, f"{b}-C{i + 1}", float(s)) for i, s in enumerate(speeds)]
    if load != 1.0:  # the sweep: resample each branch's visits
        parts = []
        for b, idx in visits.groupby("branch_id").indices.items():
            m = max(1, round(load * len(idx)))
            pick = np.sort(rng.choice(idx, size=m, replace=m > len(idx)))
            part = visits.iloc[pick].copy()
            part["copy"] = part.groupby("trans_id").cumcount()
            parts.append(part)
        visits = pd.concat(parts, ignore_index=True)
    else:
        visits = visits.assign(copy=0)
    n = len(visits)
    arrival = np.empty(n)
    for b, idx in visits.groupby("branch_id").indices.items():
        arrival[idx] = rng.permutation(fit.arrival_offsets(rng, len(idx)))
    work = np.empty(n)
    for st, idx in visits.groupby("service_type").indices.items():
        if st in ps_mean:
            work[idx] = fit.service_of(str(st)).sample(rng, len(idx))
        else:
            ps = fit.service["PS"]
            work[idx] = ps.sample(rng, len(idx)) * NON_DIVERTIBLE_MEAN_S[str(st)] / ps.mean_s
    patience_fit = walkin.fit()
    patience = patience_fit.sample(rng, n)
    accept_u = rng.uniform(size=n)
    complete_u = rng.uniform(size=n)
    elderly = elderly_customers(book, window[0])
    out = [
        Visit(
            f"v{r.trans_id}" if r.copy == 0 else f"v{r.trans_id}-{r.copy}", r.branch_id, r.customer_id, r.service_type, r.amount,
            float(arrival[i]), float(work[i]), float(patience[i]), float(accept_u[i]), float(complete_u[i]),
            ("elderly",) if r.customer_id in elderly else (),
        )
        for i, r in enumerate(visits.itertuples(index=False))
    ]
    if hours is not None:
        out = [v for v in out if v.arrival_s < hours * 3600]
        day_s = min(day_s, hours * 3600)
    out.sort(key=lambda v: (v.arrival_s, v.visit_id))
    accounts_open = open_accounts_per_branch(book, window[1])
    names = district_names(book)
    kinds = pd.Series([v.service_type for v in out]).value_counts()
    data = {
        "source": book.source.name,
        "customers": int(book.clients.shape[0]),
        "accounts": int(book.accounts.shape[0]),
        "branches": len(chosen),
        "transactions_read": int(book.trans.shape[0]),
        "days": (window[1] - window[0]).days + 1,
        "window": [window[0].isoformat(), window[1].isoformat()],
        "window_rule": "the last complete calendar month of trans.asc unless --window is given",
        "counter_visits_in_window": n,
        "visits_replayed": len(out),
        "visits_by_service_type": {str(k): int(v) for k, v in kinds.items()},
        "divertible_visits": sum(v.divertible for v in out),
        "elderly_visits": sum("elderly" in v.needs for v in out),
        "load": load,
        "accounts_open_in_replayed_branches": int(accounts_open.reindex(chosen).fillna(0).sum()),
    }
    return Day(out, tellers, staffing, day_s, window, data, {b: names.get(b, b) for b in chosen}, patience_fit.summary())


def daily_visits(book: Book) -> pd.Series:
    """Counter visits per calendar day of the book (for docs/replay.md)."""
    v = counter_visits(book)
    first, last = min(v["date"]), max(v["date"])
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    return v.groupby("date").size().reindex(days, fill_value=0)
