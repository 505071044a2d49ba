"""The whole replay: data, platform setup, the four scenarios, the figures."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from redis.asyncio import Redis

from counterflow_replay import backlog, berka, callcentre, metrics, setup
from counterflow_replay.clock import VirtualClock
from counterflow_replay.driver import Outcome, Scenario, ScenarioLog
from counterflow_replay.platform import Endpoints, Platform, PlatformError
from counterflow_replay.traffic import DIVERTIBLE, NON_DIVERTIBLE_MEAN_S, Day, build_day
from counterflow_shared.clock import default_clock_key, set_simulated_now
from counterflow_shared.settings import PlatformSettings

REPO_ROOT = Path(__file__).resolve().parents[4]
SCENARIOS = ("no_diversion", "rules", "offer_all", "oracle")


@dataclass
class Options:
    """What to replay and how fast.

    ``speed``: the wall pacing of the virtual clock, at most that many simulated seconds
    per wall second (``None``: as fast as the platform answers; see
    :mod:`counterflow_replay.clock`). ``redis_url``/``clock_key``: where the services
    read the simulated clock (default: the deployment's key under ``topic_prefix``).
    """

    data: Path = REPO_ROOT.parent / "shared" / "data" / "berka"
    queue_data: Path = REPO_ROOT.parent / "shared" / "data" / "anonymous_bank"
    branches: int | list[str] | None = 12
    hours: float | None = None
    window: tuple[date, date] | None = None
    staffing_factor: float = 1.0
    staffing_table: dict[str, int] = field(default_factory=dict)
    load: float = 1.0
    day_offset_days: int = 0
    gate: bool = True
    speed: float | None = 120.0
    seed: int = 1999
    scenarios: tuple[str, ...] = SCENARIOS
    ruleset: Path = REPO_ROOT / "deploy" / "config" / "rulesets" / "default.yaml"
    endpoints: Endpoints = field(default_factory=Endpoints)
    import_book: bool = True
    kafka_bootstrap: str = field(default_factory=lambda: PlatformSettings().kafka_bootstrap_servers)
    topic_prefix: str = field(default_factory=lambda: PlatformSettings().topic_prefix)
    catch_up_timeout_s: float = 3600.0
    redis_url: str = field(default_factory=lambda: PlatformSettings().redis_url)
    clock_key: str | None = None

    @property
    def key(self) -> str:
        """The Redis key of the services' simulated clock."""
        return self.clock_key or default_clock_key(self.topic_prefix)

#: Days between the simulated dates of two consecutive scenarios: the same weekday, and
#: every scenario's tickets, SLA window and business-day numbering on a day of its own.
SCENARIO_SPACING_DAYS = 7


def replay_date(window: tuple[date, date]) -> date:
    """The date the first scenario is replayed on: the first Monday-Friday of the folded
    window (1993-12-01, a Wednesday, by default); scenario ``i`` runs
    ``i * SCENARIO_SPACING_DAYS`` days later (1993-12-08, 1993-12-15: still in the window)."""
    d = window[0]
    while d.weekday() >= 5:
        d += timedelta(days=1)
    return d


def opening_instant(day_date: date, opens: Any, time_zone: str) -> datetime:
    """The aware instant the branches open on ``day_date`` (local ``opens`` in ``time_zone``)."""
    return datetime.combine(day_date, opens, tzinfo=ZoneInfo(time_zone))


class Progress:
    """Progress callbacks (the CLI draws rich bars; tests pass nothing)."""

    def phase(self, name: str, total: int) -> None:
        """A phase with ``total`` steps starts."""

    def step(self, n: int = 1) -> None:
        """``n`` steps of the current phase are done."""

    def done_of(self, done: int, total: int) -> None:
        """The current phase is at ``done`` of ``total``."""


def prepare_day(o: Options) -> tuple[Day, callcentre.CallCentreFit, berka.Book]:
    """Read both data sets and build the day."""
    book = berka.load_book(o.data)
    fit = callcentre.fit(o.queue_data)
    day = build_day(book, fit, window=o.window, branches=o.branches, hours=o.hours, seed=o.seed, staffing_factor=o.staffing_factor, staffing_table=o.staffing_table, load=o.load)
    return day, fit, book


async def _profiles(p: Platform, customers: list[str]) -> dict[str, dict[str, Any]]:
    sem = asyncio.Semaphore(16)

    async def one(c: str) -> tuple[str, dict[str, Any]]:
        async with sem:
            r = await p.call("GET", f"{p.endpoints.scoring}/v1/customers/{c}/score", headers=p.ops, ok=(200, 404))
            return c, (r.json() if r.status_code == 200 else {})

    return dict(await asyncio.gather(*(one(c) for c in customers)))


async def run(o: Options, progress: Progress | None = None, log: Callable[[str], None] = print) -> tuple[dict[str, Any], dict[str, ScenarioLog]]:
    """Replay the day through the services at ``o.endpoints``; returns ``(summary, logs)``.

    The services' simulated clock (Redis key ``o.key``) is set before the first call,
    moved by each scenario's :class:`~counterflow_replay.clock.VirtualClock`, and deleted
    at the end (on failure too).

    Raises:
        PlatformError: a service refused or failed a step (the message names it); also
            when any visit ended in error.
    """
    progress = progress or Progress()
    t0 = time.monotonic()
    day, fit, book = prepare_day(o)
    log(f"day: {len(day.visits)} arrivals in {len(day.branches)} branches, {sum(len(t) for t in day.tellers.values())} tellers; {book.trans.shape[0]} PKDD'99 transactions read")
    p = Platform(o.endpoints)
    run_id = uuid.uuid4().hex[:8]
    # counters of this run: an interrupted earlier run may have left a ticket called or
    # in service at a counter, which then refuses "call next" (409 counter-busy) and
    # offers no way to find that ticket
    day.tellers = {b: [replace(t, counter_id=f"{t.counter_id}-{run_id[:4]}") for t in ts] for b, ts in day.tellers.items()}
    summary: dict[str, Any] = {"data": day.data, "scenarios": {}, "channels_not_exercised": []}
    logs: dict[str, ScenarioLog] = {}
    redis = Redis.from_url(o.redis_url)
    first = replay_date(day.window) + timedelta(days=o.day_offset_days)
    origins = {name: opening_instant(first + timedelta(days=SCENARIO_SPACING_DAYS * i), fit.opens, setup.TIME_ZONE) for i, name in enumerate(o.scenarios)}
    previous_ruleset: int | None = None
    versions: dict[str, int] = {}
    try:
        # the services read every domain "now" from the key: set it before any call
        await set_simulated_now(redis, o.key, origins[o.scenarios[0]] if o.scenarios else opening_instant(first, fit.opens, setup.TIME_ZONE))
        if o.import_book:
            progress.phase("import PKDD'99 into scoring", 1)
            imported = await setup.import_book(p, o.data)
            progress.step()
            summary["import"] = imported.get("rescore")
        previous_ruleset = await setup.active_ruleset(p)
        progress.phase("ticketing takes in the customer scores", 1)
        await backlog.wait_caught_up(o.kafka_bootstrap, f"{o.topic_prefix}ticketing", f"{o.topic_prefix}customer.scores.v1", timeout_s=o.catch_up_timeout_s, on_progress=progress.done_of)
        progress.phase("branches, counters, kiosks, devices", len(day.branches) + 2)
        mean_s = {st: fit.service_of(st).mean_s if st in DIVERTIBLE else NON_DIVERTIBLE_MEAN_S[st] for st in setup.SERVICE_TYPES}
        await setup.put_catalog(p, mean_s)
        progress.step()
        await setup.put_branches(p, day)
        await setup.put_devices(p, day)
        progress.step(len(day.branches) + 1)
        customers = sorted({v.customer_id for v in day.visits})
        progress.phase("customer profiles (scoring)", 1)
        profiles = await _profiles(p, customers)
        progress.step()
        summary["profiles_found"] = sum(bool(v) for v in profiles.values())
        for name in o.scenarios:
            origin = origins[name]
            await set_simulated_now(redis, o.key, origin)
            await setup.refill(p, day, origin)
            await setup.heartbeat_round(p, day, origin)
            version = await setup.activate_ruleset(p, setup.ruleset_document(name, o.ruleset), f"replay {run_id} scenario {name}")
            versions[name] = version
            for topic in ("channel.rules.v1", "selfservice.devices.v1"):
                await backlog.wait_caught_up(o.kafka_bootstrap, f"{o.topic_prefix}ticketing", f"{o.topic_prefix}{topic}", timeout_s=o.catch_up_timeout_s)
            progress.phase(f"scenario {name}", len(day.visits))

            async def tick(at: datetime) -> None:
                await set_simulated_now(redis, o.key, at)

            gate = backlog.LagGate(o.kafka_bootstrap, o.topic_prefix) if o.gate else None
            if gate is not None:
                await gate.start()
            try:
                sc = Scenario(name, day, p, VirtualClock(origin, tick, o.speed, gate), profiles, run_id, on_end=lambda _o: progress.step(), gate=gate)
                result = await sc.run()
            finally:
                if gate is not None:
                    await gate.close()
            result.ruleset_version = version
            if sc.errors:
                raise PlatformError(f"scenario {name}: {len(sc.errors)} visits failed; first: {sc.errors[0]}")
            logs[name] = result
            # the platform's own accounting, once ticketing has taken in every completion
            # and expiry (they reach it through Kafka)
            for topic in ("channel.diversions.v1", "selfservice.devices.v1"):
                await backlog.wait_caught_up(o.kafka_bootstrap, f"{o.topic_prefix}ticketing", f"{o.topic_prefix}{topic}", timeout_s=o.catch_up_timeout_s)
            accounting = await setup.diversion_accounting(p, origin, origin + timedelta(days=1))
            summary["scenarios"][name] = metrics.scenario_summary(result, profiles, accounting)
            summary["scenarios"][name]["ruleset_version"] = version
            summary["scenarios"][name]["lag_gate"] = {"looks": gate.looks, "skipped": gate.skipped, "wall_s": round(gate.waited_s, 1)} if gate is not None else None
        summary["headline"] = metrics.headline(summary["scenarios"], logs)
        summary["estimate_mae_s"] = metrics.estimate_mae(list(logs.values()))
        summary["per_branch"] = {n: metrics.per_branch(scenario) for n, scenario in logs.items()}
        channels = {o.channel for scenario in logs.values() for o in scenario.outcomes if o.accepted}
        summary["channels_not_exercised"] = sorted({"atm", "cash_recycler", "kiosk", "mobile"} - channels)
    finally:
        # leave the platform's rules as they were: the version active before the replay,
        # or (none was ever active) the shipped default the `rules` scenario activated
        back = previous_ruleset if previous_ruleset is not None else versions.get("rules")
        if back is not None and versions:
            try:
                await setup.restore_ruleset(p, back)
                summary["ruleset_restored"] = back
            except PlatformError as exc:
                log(f"could not restore rule set version {back}: {exc}")
        await p.aclose()
        await redis.delete(o.key)  # the services' clock ends with the replay (ADR 0011)
        await redis.aclose()
    summary["branch_names"] = day.names
    summary["replay"] = {"speed": o.speed, "clock": "virtual", "lag_gate": o.gate, "clock_key": o.key, "scenario_days": {n: origins[n].isoformat() for n in o.scenarios}, "seed": o.seed, "hours": o.hours, "ruleset": str(o.ruleset.relative_to(REPO_ROOT)) if o.ruleset.is_relative_to(REPO_ROOT) else o.ruleset.name, "previous_ruleset": previous_ruleset, "call_centre_fit": fit.summary(), **day.describe()}
    summary["wall_seconds"] = round(time.monotonic() - t0, 1)
    return summary, logs


def outcome_row(o: Outcome) -> dict[str, Any]:
    """One visit's outcome as a JSON-able row (tests and the per-visit export)."""
    return {"visit_id": o.visit.visit_id, "branch_id": o.visit.branch_id, "ticket_id": o.ticket_id, "diversion_id": o.diversion_id, "end": o.end, "offered": o.offered, "accepted": o.accepted, "wait_s": o.wait_s}
