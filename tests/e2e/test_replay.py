"""The shortened main job: the replay of three PKDD'99 branches for one hour through the
four services running as separate processes (fresh databases, a random topic prefix,
the real broker, PostgreSQL and Redis), in all four scenarios; then the same seed again
(determinism) and a second month (``--window``).

It checks the accounting: every arrival ends served, diverted-and-completed,
diverted-and-expired or abandoned; ticketing's database and the Kafka events agree with
what the replay's actors saw, ticket by ticket and diversion by diversion. And the clock:
the services run on the replay's simulated clock, so every ticket's issue time in the
database is its visit's simulated arrival instant on the replayed 1993 day, and its
call time minus its issue time is the wait the replay measured.
"""

from __future__ import annotations

import asyncio

import csv
import json
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from counterflow_replay.driver import ENDS
from counterflow_replay.platform import Endpoints
from counterflow_replay.replay import REPO_ROOT, Options, run
from counterflow_replay.environment import service_env
from counterflow_shared.events.security import client_options
from counterflow_shared.events.kafka import ensure_topics
from counterflow_testkit import _in_thread
from counterflow_testkit import ServiceProcess, drop_database, eventually, migrated_database

#: No wall pacing: the lag gate holds the clock until the consumers have caught up.
SPEED = None
#: Three mid-sized PKDD'99 branches (about 100 customers each): the import and ticketing's
#: intake of their scores stay within the test's time budget.
BRANCHES = ["D72", "D68", "D64"]
SERVICES = [
    ("ticketing", "counterflow_ticketing", "CF_TICKETING"),
    ("selfservice", "counterflow_selfservice", "CF_SELFSERVICE"),
    ("mobile-gateway", "counterflow_mobile_gateway", "CF_MOBILE"),
    ("scoring", "counterflow_scoring", "CF_SCORING"),
]
DATA = REPO_ROOT.parent / "shared" / "data"


def branch_book(out: Path, branches: list[str]) -> Path:
    """The PKDD'99 files restricted to the accounts of ``branches`` (rows verbatim, the
    district table whole), written under ``out``: the book the scoring import reads."""
    src = DATA / "berka"
    districts = {b[1:] for b in branches}

    def rows(name: str) -> tuple[str, list[str], list[list[str]]]:
        lines = (src / f"{name}.asc").read_text().splitlines()
        return lines[0], lines[1:], [r for r in csv.reader(lines[1:], delimiter=";")]

    def keep(name: str, col: int, values: set[str]) -> None:
        head, raw, parsed = rows(name)
        (out / f"{name}.asc").write_text("\r\n".join([head, *[line for line, r in zip(raw, parsed) if r[col] in values]]) + "\r\n")

    _, _, accounts = rows("account")
    account_ids = {r[0] for r in accounts if r[1] in districts}
    _, _, disps = rows("disp")
    client_ids = {r[1] for r in disps if r[2] in account_ids}
    disp_ids = {r[0] for r in disps if r[2] in account_ids}
    out.mkdir(parents=True, exist_ok=True)
    keep("account", 0, account_ids)
    keep("disp", 2, account_ids)
    keep("client", 0, client_ids)
    keep("trans", 1, account_ids)
    keep("order", 1, account_ids)
    keep("loan", 1, account_ids)
    keep("card", 1, disp_ids)
    (out / "district.asc").write_text((src / "district.asc").read_text())
    return out


@pytest.fixture(scope="module")
def platform(infrastructure, tmp_path_factory):  # noqa: ANN001, ANN201
    logs = tmp_path_factory.mktemp("replay-services")
    tag = uuid.uuid4().hex[:8]
    # topics of its own: on the session's prefix other tests' tickets would be counted too
    topic_prefix = f"t{tag}."
    _in_thread(asyncio.run, ensure_topics(infrastructure.kafka_bootstrap_servers, prefix=topic_prefix))
    procs, dbs = {}, {}
    try:
        for name, module, env in SERVICES:
            pkg = __import__(module)
            db, url = migrated_database(Path(pkg.__file__).parent, name.replace("-", "_"))
            dbs[name] = (db, url)
            extra = {f"{env}_DATABASE_URL": url, f"{env}_TOPIC_PREFIX": topic_prefix, f"{env}_REDIS_PREFIX": f"replaytest:{tag}:{name}:", **service_env(topic_prefix)}
            if name == "scoring":  # the import reads only under its data root: the book is written under this run's tmp
                extra["CF_SCORING_IMPORT_DATA_ROOT"] = str(tmp_path_factory.getbasetemp())
            procs[name] = ServiceProcess(module, extra, port_env=f"{env}_HTTP_PORT", log_path=logs / f"{name}.log")
        with ThreadPoolExecutor(len(procs)) as pool:  # the four start in parallel
            list(pool.map(lambda proc: proc.start(timeout_s=300), procs.values()))
        yield procs, dbs, topic_prefix
    finally:
        for proc in procs.values():
            proc.stop()
        for db, _ in dbs.values():
            drop_database(db)


async def _events(bootstrap: str, topic: str) -> list[dict]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, **client_options(), auto_offset_reset="earliest", enable_auto_commit=False, group_id=None)
    await consumer.start()
    out = []
    try:
        while True:
            batch = await consumer.getmany(timeout_ms=1500)
            if not batch:
                break
            for records in batch.values():
                out.extend(json.loads(r.value) for r in records)
    finally:
        await consumer.stop()
    # delivery is at least once: a relay that lost an acknowledgement publishes the same
    # event (same id) again, and consumers deduplicate; so do we
    return list({e["id"]: e for e in out}.values())


@pytest.fixture(scope="module")
def book_dir(tmp_path_factory):  # noqa: ANN001, ANN201
    return branch_book(tmp_path_factory.mktemp("berka"), BRANCHES)


def _options(platform, book_dir: Path, **kw) -> Options:  # noqa: ANN001
    procs, _, prefix = platform
    base = dict(
        data=book_dir,
        queue_data=DATA / "anonymous_bank",
        branches=BRANCHES,
        hours=1.0,
        speed=SPEED,
        endpoints=Endpoints(procs["ticketing"].url, procs["selfservice"].url, procs["mobile-gateway"].url, procs["scoring"].url),
        topic_prefix=prefix,
        catch_up_timeout_s=120.0,
    )
    return Options(**{**base, **kw})


@pytest.mark.slow
@pytest.mark.timeout(1200)  # service start-up and ticketing's score intake dominate on a loaded machine
async def test_one_hour_of_three_branches_is_accounted_for_in_every_scenario(platform, infrastructure, book_dir):  # noqa: ANN001
    procs, dbs, prefix = platform
    opts = _options(platform, book_dir)
    summary, logs = await run(opts, log=lambda _m: None)
    redis = Redis.from_url(infrastructure.redis_url)
    assert not await redis.exists(opts.key)  # the replay removes the clock it drove
    await redis.aclose()

    # every arrival ends in exactly one of the four ends, in every scenario
    for name, log in logs.items():
        ends = Counter(o.end for o in log.outcomes)
        assert set(ends) <= set(ENDS), (name, ends)
        assert sum(ends.values()) == summary["scenarios"][name]["arrivals"] == summary["data"]["visits_replayed"] > 0
        s = summary["scenarios"][name]
        assert s["counter_visits"] == sum(o.ticket_id is not None for o in log.outcomes)
        assert s["offered"] >= s["accepted"] >= s["completed"]
        # the figures are ticketing's own accounting, and they agree with what the customers saw
        assert s["accounting_source"].startswith("ticketing")
        assert {k: s[k] for k in ("offered", "accepted", "completed", "expired")} == s["client_counts"], name
        assert s["served"] + s["diverted"] + s["abandoned"] == s["arrivals"]
        # protections hold in every scenario, the bound included
        assert s["protected_offered"] == 0, name
        assert s["counter_visits"] > 0 and s["counter_wait_mean_s"] == s["wait_mean_s"], name  # the counter never empties
    sc = summary["scenarios"]
    assert sc["no_diversion"]["offered"] == 0
    assert sc["oracle"]["accepted"] == sc["oracle"]["offered"] > 0
    assert sc["offer_all"]["offered"] >= sc["offer_all"]["accepted"] and sc["offer_all"]["offered"] > 0
    assert set(summary["headline"]) >= {"wait_cut_share", "cut_share_vs_offer_all", "offers_share_vs_offer_all", "walkouts_no_diversion", "walkouts_rules"}
    assert summary["data"]["window"] == ["1993-12-01", "1993-12-31"]
    assert summary["ruleset_restored"] == sc["rules"]["ruleset_version"]  # none was active before: the shipped default is left

    outcomes = [o for log in logs.values() for o in log.outcomes]
    served = {o.ticket_id for o in outcomes if o.end == "served"}
    abandoned = {o.ticket_id for o in outcomes if o.end == "abandoned"}
    completed = {o.diversion_id for o in outcomes if o.end == "diverted_completed"}
    expired = {o.diversion_id for o in outcomes if o.end == "diverted_expired"}
    declined = {o.diversion_id for o in outcomes if o.offered and not o.accepted}

    # ticketing's database agrees ticket by ticket, diversion by diversion (completion and
    # expiry reach ticketing through Kafka, so eventually)
    engine = create_async_engine(dbs["ticketing"][1])
    try:
        async def statuses() -> tuple[dict[str, str], dict[str, str]]:
            async with engine.connect() as conn:
                t = dict((await conn.execute(text("SELECT ticket_id, status FROM tickets"))).all())
                d = dict((await conn.execute(text("SELECT diversion_id, status FROM diversions"))).all())
            return t, d

        async with engine.connect() as conn:
            times = {r[0]: (r[1], r[2]) for r in (await conn.execute(text("SELECT ticket_id, issued_at, called_at FROM tickets"))).all()}

        async def settled() -> tuple[dict[str, str], dict[str, str]] | None:
            t, d = await statuses()
            ok = all(d.get(x) == "completed" for x in completed) and all(d.get(x) == "expired" for x in expired)
            return (t, d) if ok else None

        tickets, diversions = await eventually(settled, timeout_s=60, interval_s=0.5, what="diversion outcomes in ticketing")
    finally:
        await engine.dispose()
    assert {k for k, v in tickets.items() if v == "served"} == served

    # the clock: issue and call times are the simulated instants the actors acted at
    # (request latency costs no simulated time), on each scenario's own 1993 day
    ms = timedelta(milliseconds=1)
    days = set()
    for log in logs.values():
        for o in log.outcomes:
            if o.ticket_id is None:
                continue
            issued_at, called_at = times[o.ticket_id]
            days.add(issued_at.date())
            assert abs(issued_at - (log.origin + timedelta(seconds=o.issued_s))) < ms, (log.scenario, o.visit.visit_id)
            if not o.offered:  # a ticket straight from the kiosk: issued on arrival
                assert o.issued_s == o.visit.arrival_s
            if o.end == "served":
                assert abs((called_at - issued_at).total_seconds() - o.wait_s) < 1e-3, (log.scenario, o.visit.visit_id)
        # a customer who took another channel never held a ticket: not in the queue plot
        assert all(o.issued_s is None for o in log.outcomes if o.ticket_id is None), log.scenario
    # (the oracle may divert every visit of the hour: no ticket, no day to check)
    with_tickets = {log.origin.date() for log in logs.values() if any(o.ticket_id for o in log.outcomes)}
    assert days == with_tickets and logs["no_diversion"].origin.date() in days
    assert all(d.year == 1993 for d in days)
    assert {k for k, v in tickets.items() if v == "cancelled"} == abandoned
    assert not [k for k, v in tickets.items() if v in ("waiting", "called", "serving")]
    assert {k for k, v in diversions.items() if v == "declined"} == declined

    # the events agree with the database
    events = await _events(infrastructure.kafka_bootstrap_servers, f"{prefix}branch.tickets.v1")
    by_type = Counter(e["type"] for e in events)
    assert by_type["branch.ticket.served.v1"] == len(served)
    assert by_type["branch.ticket.cancelled.v1"] == len(abandoned)
    assert by_type["branch.ticket.issued.v1"] == len(tickets)
    div = await _events(infrastructure.kafka_bootstrap_servers, f"{prefix}channel.diversions.v1")
    kinds = {k: {e["data"]["diversion_id"] for e in div if e["type"] == f"channel.diversion.{k}.v1"} for k in ("offered", "accepted", "completed", "expired", "declined")}
    assert kinds["offered"] == {o.diversion_id for o in outcomes if o.offered}
    assert kinds["accepted"] == {o.diversion_id for o in outcomes if o.accepted}
    assert kinds["completed"] == completed
    assert kinds["expired"] >= expired
    assert kinds["declined"] == declined


@pytest.mark.slow
@pytest.mark.timeout(1200)
async def test_the_same_seed_gives_the_same_counts_and_another_month_replays(platform, book_dir):  # noqa: ANN001
    """Two runs with the same seed on the lag-gated clock end every visit the same way
    (scenarios whose decisions do not depend on scoring's learning between the runs);
    ``--window`` replays November 1993."""
    keep = ("no_diversion", "oracle")
    counts = []
    for i in range(2):
        summary, logs = await run(_options(platform, book_dir, scenarios=keep, import_book=i == 0, day_offset_days=28 * (i + 1)), log=lambda _m: None)
        counts.append({n: ({k: summary["scenarios"][n][k] for k in ("offered", "accepted", "completed", "abandoned", "served", "counter_visits")}, sorted((o.visit.visit_id, o.end) for o in logs[n].outcomes)) for n in keep})
    assert counts[0] == counts[1]
    summary, logs = await run(_options(platform, book_dir, scenarios=("no_diversion",), import_book=False, window=(date(1993, 11, 1), date(1993, 11, 30)), day_offset_days=90), log=lambda _m: None)
    assert summary["data"]["window"] == ["1993-11-01", "1993-11-30"] and summary["data"]["days"] == 30
    s = summary["scenarios"]["no_diversion"]
    assert s["arrivals"] == summary["data"]["visits_replayed"] > 0
    assert s["served"] + s["abandoned"] == s["arrivals"]
