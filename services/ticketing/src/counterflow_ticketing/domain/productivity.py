"""Productivity per teller and per branch, by day and hour (issue 17): what Novo SGA users
have asked for, from the tickets and teller sessions ticketing already keeps.

Each figure is counted where its event happened, in the branch's local time:

* ``served``: tickets finished as served, by the teller who served them (finish hour);
* ``mean_wait_s`` / ``p90_wait_s``: issue to call of the tickets the teller called (call
  hour); p90 by linear interpolation, as PostgreSQL's ``percentile_cont``;
* ``mean_service_s``: start of service to finish of served tickets (finish hour);
* ``mean_walk_s``: call to start of service, the walk to the counter (start hour);
* ``idle_share``: 1 - busy / open, where open is the time the teller's session was open
  in the hour and busy the time from calling a customer to finishing with them (served
  or no-show); ``None`` without an open session;
* ``no_shows``: tickets the teller closed as no-show; ``transfers``: tickets the teller
  passed on (the lobby's own moves count for the branch only);
* ``feedback_count`` / ``mean_feedback``: customers' feedback (1..5) on the tickets the
  teller served (finish hour), :mod:`.feedback`.

Branch rows (``teller_id`` ``None``) add every teller up; the idle share of a branch is
the open-time-weighted share. Day rows (``hour`` ``None``) add the hours up. Seconds
everywhere; a period is at most :data:`MAX_DAYS` business days.
"""

from __future__ import annotations

import csv
import io
import statistics
from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from counterflow_shared.web.problems import invalid
from counterflow_ticketing.domain.context import Ctx
from counterflow_ticketing.domain.queue import require_branch
from counterflow_ticketing.persistence import productivity_repo

#: Longest period one request covers (business days), so a request stays bounded.
MAX_DAYS = 31
#: Business days a period may start on (a bank's records; keeps date arithmetic in range).
MIN_DAY, MAX_DAY = date(1900, 1, 1), date(2999, 12, 31)
#: Columns of a productivity row, in export order.
COLUMNS = ("business_date", "hour", "teller_id", "served", "mean_wait_s", "p90_wait_s", "mean_service_s", "mean_walk_s", "open_s", "idle_share", "no_shows", "transfers", "feedback_count", "mean_feedback")

Key = tuple[str, int | None, str | None]


def _p90(xs: list[float]) -> float:
    """The 90th percentile with linear interpolation between order statistics (Hyndman
    and Fan 1996, definition 7; the default of numpy and of spreadsheet PERCENTILE)."""
    return xs[0] if len(xs) == 1 else statistics.quantiles(xs, n=10, method="inclusive")[8]


class _Cell:
    """Raw material of one row (lists of seconds, counts)."""

    def __init__(self) -> None:
        self.waits: list[float] = []
        self.services: list[float] = []
        self.walks: list[float] = []
        self.feedback: list[float] = []
        self.served = self.no_shows = self.transfers = 0
        self.open_s = self.busy_s = 0.0

    def add(self, other: "_Cell") -> None:
        self.waits += other.waits
        self.services += other.services
        self.walks += other.walks
        self.feedback += other.feedback
        self.served += other.served
        self.no_shows += other.no_shows
        self.transfers += other.transfers
        self.open_s += other.open_s
        self.busy_s += other.busy_s

    def row(self, key: Key) -> dict[str, Any]:
        def mean(xs: list[float]) -> float | None:
            return round(statistics.fmean(xs), 1) if xs else None

        return {
            "business_date": key[0],
            "hour": key[1],
            "teller_id": key[2],
            "served": self.served,
            "mean_wait_s": mean(self.waits),
            "p90_wait_s": round(_p90(self.waits), 1) if self.waits else None,
            "mean_service_s": mean(self.services),
            "mean_walk_s": mean(self.walks),
            "open_s": round(self.open_s, 1),
            "idle_share": round(max(0.0, 1.0 - min(self.busy_s, self.open_s) / self.open_s), 4) if self.open_s > 0 else None,
            "no_shows": self.no_shows,
            "transfers": self.transfers,
            "feedback_count": len(self.feedback),
            "mean_feedback": round(statistics.fmean(self.feedback), 2) if self.feedback else None,
        }


def _hours(start: datetime, end: datetime, zone: ZoneInfo) -> list[tuple[str, int, float]]:
    """``(local date, local hour, seconds)`` of interval ``[start, end)`` split at local
    hour boundaries."""
    out = []
    at = start
    while at < end:
        local = at.astimezone(zone)
        boundary = (local.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)).astimezone(start.tzinfo)
        step_end = min(end, boundary)
        out.append((local.date().isoformat(), local.hour, (step_end - at).total_seconds()))
        at = step_end
    return out


def compute(rows: dict[str, list[dict[str, Any]]], zone: ZoneInfo, *, now: datetime, first: date, last: date) -> list[dict[str, Any]]:
    """The productivity rows of :func:`period_rows` data (pure), sorted by day, hour
    (day rows first) and teller (branch rows first); only days ``first``..``last``."""
    cells: dict[Key, _Cell] = defaultdict(_Cell)

    def at(instant: datetime, teller: str | None) -> _Cell:
        local = instant.astimezone(zone)
        return cells[(local.date().isoformat(), local.hour, teller)]

    for t in rows["tickets"]:
        teller = t["teller_id"]
        if teller is None or t["called_at"] is None:
            continue
        at(t["called_at"], teller).waits.append((t["called_at"] - t["issued_at"]).total_seconds())
        if t["serving_started_at"] is not None:
            at(t["serving_started_at"], teller).walks.append((t["serving_started_at"] - t["called_at"]).total_seconds())
        if t["status"] == "served" and t["finished_at"] is not None:
            cell = at(t["finished_at"], teller)
            cell.served += 1
            if t["serving_started_at"] is not None:
                cell.services.append((t["finished_at"] - t["serving_started_at"]).total_seconds())
            if t.get("feedback_score") is not None:
                cell.feedback.append(float(t["feedback_score"]))
        if t["status"] == "no_show":
            at(t["finished_at"] or t["called_at"], teller).no_shows += 1
        if t["status"] in ("served", "no_show") and t["finished_at"] is not None:
            for day, hour, seconds in _hours(t["called_at"], t["finished_at"], zone):
                cells[(day, hour, teller)].busy_s += seconds
    for s in rows["sessions"]:
        for day, hour, seconds in _hours(s["opened_at"], s["closed_at"] or now, zone):
            cells[(day, hour, s["teller_id"])].open_s += seconds
    for x in rows["transfers"]:
        at(x["at"], x["teller_id"]).transfers += 1

    days = {(first + timedelta(days=i)).isoformat() for i in range((last - first).days + 1)}
    totals: dict[Key, _Cell] = defaultdict(_Cell)
    for (day, hour, teller), cell in cells.items():
        if day not in days:
            continue
        for key in {(day, hour, teller), (day, hour, None), (day, None, teller), (day, None, None)}:
            totals[key].add(cell)
    order = sorted(totals, key=lambda k: (k[0], -1 if k[1] is None else k[1], "" if k[2] is None else "\x01" + k[2]))
    return [totals[k].row(k) for k in order]


async def productivity(session: AsyncSession, ctx: Ctx, branch_id: str, *, first: date, last: date, teller_id: str | None = None) -> dict[str, Any]:
    """Productivity of ``branch_id`` over business days ``first``..``last`` (local);
    ``teller_id`` keeps that teller's rows and the branch's.

    Raises:
        Problem: 404 branch; 422 ``query.from`` outside :data:`MIN_DAY`..:data:`MAX_DAY`,
            ``query.to`` before ``query.from`` or a period longer than :data:`MAX_DAYS` days.
    """
    if not MIN_DAY <= first <= MAX_DAY:
        raise invalid("query.from", f"must be between {MIN_DAY} and {MAX_DAY}")
    if last < first:
        raise invalid("query.to", "must not be before from")
    if (last - first).days + 1 > MAX_DAYS:
        raise invalid("query.to", f"a period covers at most {MAX_DAYS} days")
    branch = await require_branch(session, branch_id)
    zone = ZoneInfo(branch.time_zone)
    start = datetime.combine(first, datetime.min.time(), zone) - timedelta(hours=1)
    end = datetime.combine(last + timedelta(days=1), datetime.min.time(), zone) + timedelta(hours=1)
    rows = await productivity_repo.period_rows(session, branch_id, first=first, last=last, start=start, end=end)
    out = compute(rows, zone, now=ctx.now, first=first, last=last)
    if teller_id is not None:
        out = [r for r in out if r["teller_id"] in (None, teller_id)]
    return {"branch_id": branch_id, "from": first.isoformat(), "to": last.isoformat(), "time_zone": branch.time_zone, "rows": out}


def to_csv(doc: dict[str, Any]) -> str:
    """The export: one CSV line per row of :func:`productivity` (columns :data:`COLUMNS`
    plus ``branch_id``; empty cells for unknown values)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(("branch_id", *COLUMNS))
    for r in doc["rows"]:
        writer.writerow((doc["branch_id"], *("" if r[c] is None else r[c] for c in COLUMNS)))
    return buffer.getvalue()
