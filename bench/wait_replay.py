"""Walk-forward replay of the Anonymous Bank call-centre log through ticketing's own wait
estimator and learning (used by ``bench/models.py``; no estimator code lives here).

Data: ``../shared/data/anonymous_bank`` (Technion SEE lab, A. Mandelbaum; February 1-21
1999). Each day's events are replayed in time order and the call centre is read as one
branch with one skill:

* *arrival* of a caller (joined the queue, or reached an agent at once): the ticket's
  forecast is made by :meth:`counterflow_ticketing.domain.waits.CounterPool.view` and
  :meth:`counterflow_ticketing.domain.wait_model.WaitModel.forecast`, exactly what the
  service runs when it issues a ticket, from the state the service would have: open
  counters (agents), busy counters, the learned service times, the waiting tickets, the
  head-of-line and last-to-enter-service delays, the abandonment and overtaking rates of
  the last 4 hours (the service's load loop window);
* *call* (the caller left the queue for an agent): the wait model learns from the
  ticket's view at arrival and the wait it had (:meth:`WaitModel.learn`, as
  ``queue._mark_called`` does);
* *service end*: the teller's and the branch's learned service time take the talk time
  (:func:`counterflow_ticketing.domain.estimation.updated_mean`, as ``queue.finish`` does).

Learning carries over from day to day and never sees the future. The log does not say
which agents were logged in: an agent who was busy at the instant or ended a call in the
previous 10 minutes counts as an open counter (a branch knows its open sessions).
Priority 2 callers are the high-priority class (the service's priority > 0); a caller
of priority 2 has only priority-2 callers ahead of it, others have every waiting caller.
"""

from __future__ import annotations

import csv
from collections import defaultdict, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from counterflow_ticketing.domain.estimation import LearnedTime, abandon_rate, naive_wait_s, updated_mean
from counterflow_ticketing.domain.load import ABANDON_WINDOW
from counterflow_ticketing.domain.wait_model import WaitModel
from counterflow_ticketing.domain.waits import CounterPool
from counterflow_ticketing.persistence.queue_state_repo import OpenCounter

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "anonymous_bank" / "calls_1999_02_01-21.tsv"

#: An agent who ended a call this long ago or less counts as logged in (seconds).
STAFFED_WINDOW_S = 600.0
#: Catalog default service time used before anything is learned (the service's default).
DEFAULT_SERVICE_S = 300.0
#: Call-centre SLA: answered within 20 s, the "80/20" telephone service level (Gans,
#: Koole & Mandelbaum, "Telephone call centers: tutorial, review, and research
#: prospects", MSOM 5(2), 2003, §2.2).
SLA_S = 20.0
SKILL = SERVICE = "call"
WINDOW_S = ABANDON_WINDOW.total_seconds()


@dataclass
class Call:
    """One call of the log (times in seconds since midnight of ``day``)."""

    day: str
    priority: int
    arrival: float
    queue_exit: float
    served: bool
    ser_start: float
    ser_exit: float
    server: str
    waited: float


def _secs(hms: str) -> float:
    h, m, s = (int(x) for x in hms.split(":"))
    return h * 3600 + m * 60 + s


def load_calls(path: Path = DATA) -> list[Call]:
    """Parse the log. Kept: calls that reached the queue or an agent (AGENT, or HANG with
    a queue entry). Dropped: PHANTOM (unknown outcome) and hang-ups in the voice-response
    unit. Clamped: ``ser_start`` before the queue exit (a known 1-2 s defect) is set to
    the queue exit; ``NO_SERVER`` rows count as served without occupying an agent."""
    calls = []
    with path.open() as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            outcome = row["outcome"].strip()
            queued = row["q_start"] != "0:00:00"
            if outcome == "PHANTOM" or (outcome == "HANG" and not queued):
                continue
            served = outcome == "AGENT"
            ser_start = _secs(row["ser_start"]) if served else 0.0
            if queued:
                arrival, q_exit = _secs(row["q_start"]), _secs(row["q_exit"])
            else:
                arrival = q_exit = ser_start
            if q_exit < arrival:  # left the queue after midnight
                q_exit += 86400.0
            if served and ser_start < q_exit:
                ser_start = q_exit
            ser_exit = max(ser_start, _secs(row["ser_exit"])) if served else 0.0
            calls.append(Call(row["date"], int(row["priority"]), arrival, q_exit, served, ser_start, ser_exit, row["server"].strip(), q_exit - arrival))
    return calls


@dataclass
class Scored:
    """One served caller's forecasts (seconds) and what happened."""

    day: int
    waited: float
    all_busy: bool  # the ticket waits for a completion (ahead >= free counters)
    every_counter_busy: bool  # no open counter was free at arrival
    naive: float
    naive_free0: float
    last_entered: float
    head_of_line: float
    ql: float
    p10: float
    p50: float
    p90: float
    p_within_sla: float
    prior_mean: float


@dataclass
class _Learning:
    """What the service has learned so far (carried across days)."""

    times: dict[tuple[str, str], LearnedTime] = field(default_factory=dict)
    model: WaitModel = field(default_factory=WaitModel)

    def learn_time(self, teller: str, seconds: float) -> None:
        for key in ((SERVICE, teller), (SERVICE, "*")):
            cur = self.times.get(key)
            served, mean, sq = (cur.served, cur.mean_s, cur.mean_sq_s or seconds * seconds) if cur else (0, seconds, seconds * seconds)
            self.times[key] = LearnedTime(updated_mean(mean, served, seconds), served + 1, updated_mean(sq, served, seconds * seconds))


def replay(calls: list[Call], *, rate: float | None = None, days: int | None = None) -> list[Scored]:
    """Replay the first ``days`` days (all by default) with a wait model of step ``rate``
    (the service's default when ``None``); returns the served callers of every day
    after the first, in order."""
    by_day: dict[str, list[Call]] = defaultdict(list)
    for c in calls:
        by_day[c.day].append(c)
    learning = _Learning(model=WaitModel() if rate is None else WaitModel(rate=rate))
    out: list[Scored] = []
    for di, d in enumerate(sorted(by_day)[:days]):
        out.extend(_replay_day(by_day[d], di, learning, score=di > 0))
    return out


def _replay_day(day: list[Call], di: int, learning: _Learning, *, score: bool) -> list[Scored]:
    # events: (time, order, kind, index); at equal times ends and calls come before
    # arrivals, and a caller who hung up at once leaves after arriving
    events: list[tuple[float, int, str, int]] = []
    for i, c in enumerate(day):
        events.append((c.arrival, 2, "arrive", i))
        if c.queue_exit > c.arrival or not c.served:
            events.append((c.queue_exit, 1 if c.queue_exit > c.arrival else 3, "leave_queue", i))
        if c.served and c.server != "NO_SERVER":
            events.append((c.ser_start, 1, "start", i))
            events.append((c.ser_exit, 0, "end", i))
    events.sort()
    waiting: dict[int, Call] = {}
    in_service: dict[str, float] = {}  # agent -> service start
    last_end: dict[str, float] = {}
    views: dict[int, Any] = {}
    last_entered = 0.0
    arrivals: deque[tuple[float, int]] = deque()  # (time, priority) over the last window
    leaves: deque[tuple[float, float, bool]] = deque()  # (issued, left-at, abandoned)
    out = []
    for t, _, kind, i in events:
        c = day[i]
        if kind == "end":
            in_service.pop(c.server, None)
            last_end[c.server] = t
            learning.learn_time(c.server, c.ser_exit - c.ser_start)
            continue
        if kind == "start":
            in_service[c.server] = t
            continue
        if kind == "leave_queue":
            waiting.pop(i, None)
            leaves.append((c.arrival, t, not c.served))
            if c.served:
                last_entered = c.waited
                view = views.pop(i, None)
                if view is not None:
                    learning.model.learn(view, c.waited, SLA_S)
            continue
        # arrival: the forecast the service would show on this ticket
        while arrivals and arrivals[0][0] < t - WINDOW_S:
            arrivals.popleft()
        while leaves and leaves[0][0] < t - WINDOW_S:
            leaves.popleft()
        high = c.priority == 2
        ahead_calls = [w for w in waiting.values() if w.priority == 2] if high else list(waiting.values())
        staffed = sorted({a for a, e in last_end.items() if e > t - STAFFED_WINDOW_S} | set(in_service))
        pool = CounterPool([OpenCounter(a, [SKILL], a) for a in staffed], frozenset(in_service), learning.times, {SKILL: len(waiting)})
        left = sum(1 for _, _, ab in leaves if ab)
        exposure = sum(lt - it for it, lt, _ in leaves) + sum(t - w.arrival for w in waiting.values())
        theta = abandon_rate(left, exposure)
        overtake = sum(1 for _, p in arrivals if p == 2) / WINDOW_S
        hol = max((t - w.arrival for w in waiting.values()), default=0.0)
        view = pool.view(skill=SKILL, service_type=SERVICE, default_s=DEFAULT_SERVICE_S, ahead=len(ahead_calls), abandon_rate_per_s=theta, overtake_rate_per_s=overtake, top_priority=high, head_of_line_s=hol, last_entered_s=last_entered)
        arrivals.append((t, c.priority))
        if c.queue_exit > c.arrival or not c.served:
            waiting[i] = c
        if not staffed:
            continue
        fc = learning.model.forecast(view, SLA_S)
        if c.served and c.queue_exit > c.arrival:
            views[i] = view  # learnt from when it is called
        elif c.served:  # called at once: learnt now, and it is the last to enter service
            learning.model.learn(view, 0.0, SLA_S)
            last_entered = 0.0
        if not (score and c.served):
            continue
        mean_s = view.mean_service_s
        naive = naive_wait_s(position=view.ahead + 1, mean_service_s=mean_s, servers=len(staffed)) or 0.0
        ql = pool.estimate(skill=SKILL, service_type=SERVICE, default_s=DEFAULT_SERVICE_S, ahead=view.ahead, abandon_rate_per_s=theta) or 0.0
        out.append(
            Scored(
                day=di,
                waited=c.waited,
                all_busy=view.all_busy,
                every_counter_busy=view.free == 0,
                naive=naive,
                naive_free0=naive if view.all_busy else 0.0,
                last_entered=last_entered,
                head_of_line=hol,
                ql=ql,
                p10=fc.p10_s,
                p50=fc.p50_s,
                p90=fc.p90_s,
                p_within_sla=fc.p_within_sla,
                prior_mean=fc.prior_mean_s,
            )
        )
    return out


