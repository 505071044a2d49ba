"""Ticketing benchmark (issue 3):

1. Issue-ticket latency and throughput. The ticketing service runs as its own process
   (uvicorn, embedded outbox relay to the local Kafka, local PostgreSQL and Redis) next
   to a bare FastAPI endpoint (``bench/_bare_fastapi.py``) in another process. Both get
   the same open-loop load of kiosk service requests at a steady 200 requests/s; latency
   is measured from each request's *scheduled* send time, so a stalled server is not
   hidden by a stalled load generator (coordinated omission). Then both are driven
   closed-loop by 32 concurrent clients to measure the highest throughput; the ratio
   ticketing / bare is the figure of merit. Targets: p99 <= 20 ms, ratio >= 0.4. Before
   that, 200 requests one at a time give the latency without any queueing.

Issue 15 adds, in the same run (``bench/ticketing_budget.py``): answers at twice the
capacity, round trips per ticket counted through the drivers, an idle worker's round
trips, and the load loop's CPU share with 1,000 branches.

The wait-estimator backtest moved to ``bench/models.py`` (issue 22).

Writes ``bench/results/ticketing.json`` (issue 15's keys) and ``bench/results/ticketing_issue.json``.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import psutil

from bench import ticketing_budget as budget
from bench.common import figure, percentile, write_result
from counterflow_shared.events.kafka import delete_topics, ensure_topics
from counterflow_testkit import ServiceProcess, drop_database, free_port, migrated_database, platform
from counterflow_shared.devidp import issue_staff_token
from counterflow_ticketing.settings import TicketingSettings

REPO = Path(__file__).resolve().parents[1]
PACKAGE_DIR = Path(__import__("counterflow_ticketing").__file__).parent

RATE = 200  # requests per second
STEADY_S = 15.0
WARMUP_S = 3.0
CLOSED_CLIENTS = 16  # ticketing's max_in_flight: the closed loop measures capacity, not refusals (a refused client here would retry at once, not after Retry-After)
CLOSED_S = 8.0
CLOSED_SLICES = 4
BRANCHES = 10
SEQUENTIAL_N = 200
SECRET = "bench-kiosk-secret-0123456789"
OVERLOAD_S = 6.0
#: longest start of a service process (seconds): on the shared machine at load 20+ importing the service alone took 43 s
START_TIMEOUT_S = 300.0


# ----------------------------------------------------------------------------- part 1


async def _setup_branches(base: str) -> list[dict[str, str]]:
    """Create BRANCHES branches with three open cash counters and a kiosk each; returns kiosk headers."""
    s = TicketingSettings()
    kiosks = []
    async with httpx.AsyncClient(base_url=base, timeout=30) as c:
        for i in range(BRANCHES):
            bid = f"bench-{uuid.uuid4().hex[:8]}"

            def tok(role: str, sub: str, bid: str = bid) -> dict[str, str]:
                t = issue_staff_token(issuer=s.jwt_issuer, audience=s.jwt_audience, subject=sub, role=role, branches=[bid])
                return {"Authorization": f"Bearer {t}"}

            ops = tok("operations", "ops")
            body = {"name": bid, "time_zone": "Europe/Prague", "opening_hours": [{"weekday": d, "opens": "00:00", "closes": "23:59"} for d in range(7)], "services": ["cash_withdrawal", "transfer"]}
            (await c.put(f"/v1/branches/{bid}", json=body, headers=ops)).raise_for_status()
            for n in range(3):
                cid = f"{bid}-c{n}"
                (await c.put(f"/v1/branches/{bid}/counters/{cid}", json={"name": cid, "kind": "cash", "zone": "cash", "skills": ["cash", "payments"]}, headers=ops)).raise_for_status()
                (await c.post(f"/v1/counters/{cid}/session/open", headers=tok("teller", f"t-{cid}"))).raise_for_status()
            (await c.put(f"/v1/branches/{bid}/kiosks/{bid}-k", json={"secret": SECRET}, headers=ops)).raise_for_status()
            kiosks.append({"Authorization": f"Bearer {bid}-k:{SECRET}"})
            # first request verifies the Argon2 secret (cached afterwards, as in production)
            (await c.post("/v1/kiosk/service-requests", json={"service_type": "transfer"}, headers=kiosks[-1])).raise_for_status()
    return kiosks


class RawClient:
    """A minimal HTTP/1.1 keep-alive client on asyncio streams for load generation.

    httpx spends more CPU per request than the servers under test on this machine (and
    stalls with hundreds of pooled connections), which would measure the load generator;
    this client only writes a request and reads ``Content-Length`` bytes back.
    """

    def __init__(self, base: str) -> None:
        url = httpx.URL(base)
        self.host, self.port = url.host, url.port
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self._all: list[asyncio.StreamWriter] = []

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> int:
        """POST ``body`` (JSON) to ``path``; returns the status code."""
        return (await self.exchange(path, body, headers))[0]

    async def exchange(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        """POST ``body`` (JSON) to ``path``; returns the status code and the response body."""
        conn = self._idle.pop() if self._idle else await self._connect()
        reader, writer = conn
        head = f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        writer.write(head.encode() + b"\r\n" + body)
        await writer.drain()
        status_line = await reader.readline()
        length = 0
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        answer = await reader.readexactly(length) if length else b""
        self._idle.append(conn)
        return int(status_line.split()[1]), answer

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        reader, writer = await asyncio.open_connection(self.host, self.port)
        self._all.append(writer)
        return reader, writer

    async def aclose(self) -> None:
        """Close every connection."""
        for w in self._all:
            w.close()


BODY = b'{"service_type": "cash_withdrawal"}'


async def _open_loop(base: str, headers: list[dict[str, str]], rate: float, seconds: float, warmup_s: float) -> dict[str, Any]:
    """Send ``rate`` requests/s for ``warmup_s + seconds``; latencies (ms) of the measured part."""
    latencies: list[float] = []
    errors = refused = 0
    failures: dict[str, int] = {}
    last_done = 0.0
    interval = 1.0 / rate
    client = RawClient(base)
    start = time.perf_counter() + 0.2
    total = int((seconds + warmup_s) * rate)

    async def one(i: int, scheduled: float) -> None:
        nonlocal errors, refused, last_done
        failure = None
        try:
            status = await client.post("/v1/kiosk/service-requests", BODY, headers[i % len(headers)])
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError) as exc:
            status, failure = 0, type(exc).__name__
        done = time.perf_counter()
        last_done = max(last_done, done)
        if scheduled - start >= warmup_s:
            if status == 201:
                latencies.append((done - scheduled) * 1000)
            else:
                errors += 1
                refused += status == 503
                what = failure or str(status)
                failures[what] = failures.get(what, 0) + 1

    tasks = []
    t0 = time.perf_counter()
    for i in range(total):
        scheduled = start + i * interval
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i, scheduled)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - t0
    await client.aclose()
    measured = len(latencies) + errors
    return {"p50_ms": percentile(latencies, 50), "p99_ms": percentile(latencies, 99), "max_ms": max(latencies) if latencies else None, "ok": len(latencies), "errors": errors, "refused_503": refused, "failures": failures, "achieved_rate": measured / max(last_done - (start + warmup_s), 1e-9), "wall_s": elapsed, "connections": len(client._all)}


async def _closed_loop(base: str, headers: list[dict[str, str]], clients: int, seconds: float) -> dict[str, Any]:
    """``clients`` concurrent request loops for ``seconds``: completed requests per second."""
    done = errors = 0
    stop = time.perf_counter() + seconds
    client = RawClient(base)

    async def loop(k: int) -> None:
        nonlocal done, errors
        i = k
        while time.perf_counter() < stop:
            if await client.post("/v1/kiosk/service-requests", BODY, headers[i % len(headers)]) == 201:
                done += 1
            else:
                errors += 1
            i += clients

    t0 = time.perf_counter()
    await asyncio.gather(*(loop(k) for k in range(clients)))
    elapsed = time.perf_counter() - t0
    await client.aclose()
    return {"throughput_rps": done / elapsed, "errors": errors}


async def _sequential(base: str, headers: list[dict[str, str]], n: int) -> dict[str, Any]:
    """``n`` requests one after the other: latency without queueing (ms)."""
    client = RawClient(base)
    lat = []
    for i in range(n):
        t = time.perf_counter()
        await client.post("/v1/kiosk/service-requests", BODY, headers[i % len(headers)])
        lat.append((time.perf_counter() - t) * 1000)
    await client.aclose()
    return {"p50_ms": percentile(lat, 50), "p99_ms": percentile(lat, 99)}


async def _round_trips(database_url: str, redis_url: str, n: int = 200) -> dict[str, float]:
    """Median round trip (ms) of ``SELECT 1`` on PostgreSQL and ``PING`` on Redis from this
    process: the floor under every statement the service sends, on this machine now."""
    from redis.asyncio import Redis
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(database_url)
    pg, rd, commits = [], [], []
    async with engine.connect() as conn:
        for _ in range(n):
            t = time.perf_counter()
            await conn.execute(text("SELECT 1"))
            pg.append((time.perf_counter() - t) * 1000)
    # a one-row committed write (WAL flush): the floor under every ticket's write
    # statement, which holds its branch's sequence row until that commit is durable
    async with engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("CREATE TABLE IF NOT EXISTS bench_commit_probe (n int)"))
        for i in range(n // 4):
            t = time.perf_counter()
            await conn.execute(text("INSERT INTO bench_commit_probe VALUES (:n)"), {"n": i})
            commits.append((time.perf_counter() - t) * 1000)
    await engine.dispose()
    redis = Redis.from_url(redis_url)
    for _ in range(n):
        t = time.perf_counter()
        await redis.ping()
        rd.append((time.perf_counter() - t) * 1000)
    await redis.aclose()
    return {"postgres_select1_p50_ms": percentile(pg, 50), "postgres_commit_p50_ms": percentile(commits, 50), "postgres_commit_p99_ms": percentile(commits, 99), "redis_ping_p50_ms": percentile(rd, 50)}


def _start_bare(log: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "bench._bare_fastapi:app", "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log"],
        cwd=REPO,
        stdout=open(log, "ab"),  # noqa: SIM115 - closed with the process
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{base}/docs", timeout=1)
            return proc, base
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("bare FastAPI baseline did not start")


def _cpu_by_pid(pids: list[int]) -> dict[int, float]:
    """User + system CPU seconds used so far by each of the processes ``pids`` (gone ones left out)."""
    out = {}
    for pid in pids:
        try:
            t = psutil.Process(pid).cpu_times()
            out[pid] = t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return out


def _cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds used so far by the processes ``pids`` together."""
    return sum(_cpu_by_pid(pids).values())


def _cpu_used(before: dict[int, float], pids: list[int]) -> float:
    """CPU seconds used since ``before`` by ``pids``; a process born since counts whole
    (PostgreSQL starts a backend per new connection)."""
    return sum(v - before.get(pid, 0.0) for pid, v in _cpu_by_pid(pids).items())


def _postgres_pids() -> list[int]:
    return [p.pid for p in psutil.process_iter(["name"]) if (p.info["name"] or "").startswith("postgres")]


def issue_benchmark() -> dict[str, Any]:
    """Part 1; writes ``ticketing_issue.json``."""
    p = platform()
    prefix = f"bench{uuid.uuid4().hex[:8]}."
    created = asyncio.run(ensure_topics(p.kafka_bootstrap_servers, prefix=prefix))
    name, url = migrated_database(PACKAGE_DIR, "bench_ticketing")
    logs = Path(tempfile.mkdtemp(prefix="bench-ticketing-"))
    env = {
        "CF_TICKETING_DATABASE_URL": url,
        "CF_TICKETING_TOPIC_PREFIX": prefix,
        "CF_TICKETING_REDIS_PREFIX": f"bench:ticketing:{uuid.uuid4().hex[:8]}:",
        "CF_TICKETING_KIOSK_REQUESTS_PER_MINUTE": "1000000",
        "CF_TICKETING_LOG_LEVEL": "WARNING",
        # the production shape (deploy/k8s): API processes without the relay, consumers and
        # load loop, which run in a worker process of their own
        "CF_TICKETING_EMBEDDED_WORKERS": "false",
    }
    service = ServiceProcess("counterflow_ticketing", env, port_env="CF_TICKETING_HTTP_PORT", log_path=logs / "ticketing.log")
    bare_proc = worker = None
    try:
        service.start(timeout_s=START_TIMEOUT_S)
        worker = subprocess.Popen(
            [sys.executable, "-m", "counterflow_ticketing", "worker"],
            env={**os.environ, **env},
            stdout=open(logs / "worker.log", "ab"),  # noqa: SIM115 - closed with the process
            stderr=subprocess.STDOUT,
        )
        bare_proc, bare_base = _start_bare(logs / "bare.log")
        kiosks = asyncio.run(_setup_branches(service.url))
        bare_headers = [{}]
        rtt = asyncio.run(_round_trips(url, p.redis_url))
        bare_seq = asyncio.run(_sequential(bare_base, bare_headers, SEQUENTIAL_N))
        tk_seq = asyncio.run(_sequential(service.url, kiosks, SEQUENTIAL_N))
        # the same open-loop load on both, then the same closed-loop load on both
        bare_steady = asyncio.run(_open_loop(bare_base, bare_headers, RATE, STEADY_S, WARMUP_S))
        tk_steady = asyncio.run(_open_loop(service.url, kiosks, RATE, STEADY_S, WARMUP_S))
        # closed loop in alternating slices (bare, ticketing, bare, ...): on a machine
        # shared with other jobs both then see the same background load (issue 15)
        api_pids, worker_pids = [service.proc.pid], [worker.pid]
        bare_cpu = tk_done = bare_done = 0.0
        tk_errors = bare_errors = 0
        used = [0.0, 0.0, 0.0]
        for _ in range(CLOSED_SLICES):
            b0 = _cpu_seconds([bare_proc.pid])
            part = asyncio.run(_closed_loop(bare_base, bare_headers, CLOSED_CLIENTS, CLOSED_S / CLOSED_SLICES))
            bare_cpu += _cpu_seconds([bare_proc.pid]) - b0
            bare_done += part["throughput_rps"] * CLOSED_S / CLOSED_SLICES
            bare_errors += part["errors"]
            before = [_cpu_by_pid(p) for p in (api_pids, worker_pids, _postgres_pids())]
            part = asyncio.run(_closed_loop(service.url, kiosks, CLOSED_CLIENTS, CLOSED_S / CLOSED_SLICES))
            used = [u + _cpu_used(b, p) for u, b, p in zip(used, before, (api_pids, worker_pids, _postgres_pids()), strict=True)]
            tk_done += part["throughput_rps"] * CLOSED_S / CLOSED_SLICES
            tk_errors += part["errors"]
        bare_max = {"throughput_rps": bare_done / CLOSED_S, "errors": bare_errors}
        tk_max = {"throughput_rps": tk_done / CLOSED_S, "errors": tk_errors}
        bare_cpu_ms = 1000 * bare_cpu / max(bare_done, 1.0)
        done = max(tk_done, 1.0)
        cpu_ms = {name: 1000 * u / done for name, u in zip(("api", "worker", "postgres"), used, strict=True)}
        # issue 15: twice the capacity just measured, then the in-process figures
        over = asyncio.run(budget.overload(service.url, kiosks, 2 * tk_max["throughput_rps"], OVERLOAD_S))
        in_process = TicketingSettings(database_url=url, topic_prefix=prefix, redis_prefix=env["CF_TICKETING_REDIS_PREFIX"], kiosk_requests_per_minute=1_000_000, log_level="WARNING", log_json=True)
        trips = asyncio.run(budget.round_trips_per_ticket(in_process, kiosks))
        idle = asyncio.run(budget.idle_worker_round_trips(in_process))
        worker.terminate()  # the load loop is measured alone (no second instance sharing the branches)
        worker.wait(30)
        worker = None
        loop = asyncio.run(budget.load_loop_cpu_share(in_process))
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(30)
        service.stop()
        if bare_proc is not None:
            bare_proc.terminate()
            bare_proc.wait(10)
        drop_database(name)
        try:
            asyncio.run(delete_topics(p.kafka_bootstrap_servers, created))
        except Exception:  # noqa: BLE001 - prefixed topics are harmless if left
            pass
    figures = {
        "issue_latency_p50": figure(tk_steady["p50_ms"], "ms", baseline=bare_steady["p50_ms"], baseline_name="bare FastAPI endpoint, same load"),
        "issue_latency_p99": figure(tk_steady["p99_ms"], "ms", baseline=bare_steady["p99_ms"], baseline_name="bare FastAPI endpoint, same load", target="<= 20 ms"),
        "sequential_latency_p50": figure(tk_seq["p50_ms"], "ms", baseline=bare_seq["p50_ms"], baseline_name="bare FastAPI endpoint, one request at a time"),
        "sequential_latency_p99": figure(tk_seq["p99_ms"], "ms", baseline=bare_seq["p99_ms"], baseline_name="bare FastAPI endpoint, one request at a time"),
        "steady_rate_achieved": figure(tk_steady["achieved_rate"], "requests/s", baseline=bare_steady["achieved_rate"], baseline_name="bare FastAPI endpoint", target=f"{RATE} requests/s offered"),
        "max_throughput": figure(tk_max["throughput_rps"], "requests/s", baseline=bare_max["throughput_rps"], baseline_name="bare FastAPI endpoint, same closed loop", target="ratio >= 0.4"),
        "errors": figure(tk_steady["errors"] + tk_max["errors"], "requests"),
        "cpu_per_ticket_api": figure(cpu_ms["api"], "ms CPU per request", baseline=bare_cpu_ms, baseline_name="bare FastAPI endpoint process, same closed loop", target="context: ticketing API process"),
        "cpu_per_ticket_worker": figure(cpu_ms["worker"], "ms CPU per request", target="context: relay, consumers and load loop process"),
        "cpu_per_ticket_postgres": figure(cpu_ms["postgres"], "ms CPU per request", target="context: all PostgreSQL processes"),
        "postgres_round_trip_p50": figure(rtt["postgres_select1_p50_ms"], "ms", target="context: SELECT 1 from the bench process"),
        "redis_round_trip_p50": figure(rtt["redis_ping_p50_ms"], "ms", target="context: PING from the bench process"),
        "postgres_commit_p50": figure(rtt["postgres_commit_p50_ms"], "ms", target="context: one-row autocommit INSERT (WAL flush) from the bench process"),
        "postgres_commit_p99": figure(rtt["postgres_commit_p99_ms"], "ms", target="context: one-row autocommit INSERT (WAL flush) from the bench process"),
    }
    write_one_transaction_result(tk_steady, bare_steady, tk_max, bare_max, cpu_ms, bare_cpu_ms, over, trips, idle, loop, rtt)
    write_result(
        "ticketing_issue",
        figures,
        method=f"open loop {RATE}/s for {STEADY_S}s after {WARMUP_S}s warm-up, latency from scheduled send time; closed loop {CLOSED_CLIENTS} clients for {CLOSED_S}s; {BRANCHES} branches x 3 open counters; load generator in this process; ticketing as one API process (--no-workers) plus one worker process, as deployed",
        raw={"ticketing_sequential": tk_seq, "bare_sequential": bare_seq, "ticketing_steady": tk_steady, "bare_steady": bare_steady, "ticketing_max": tk_max, "bare_max": bare_max},
        load_average=os.getloadavg(),
    )
    return figures


def write_one_transaction_result(
    tk_steady: dict[str, Any],
    bare_steady: dict[str, Any],
    tk_max: dict[str, Any],
    bare_max: dict[str, Any],
    cpu_ms: dict[str, float],
    bare_cpu_ms: float,
    over: dict[str, Any],
    trips: dict[str, float],
    idle: dict[str, Any],
    loop: dict[str, float],
    rtt: dict[str, float],
) -> None:
    """``bench/results/ticketing.json`` with the keys issue 15 names."""
    bare = "bare FastAPI endpoint, same load, same run"
    total = cpu_ms["api"] + cpu_ms["worker"] + cpu_ms["postgres"]
    figures = {
        "issue.open_loop_200.p50_ms": figure(tk_steady["p50_ms"], "ms", baseline=bare_steady["p50_ms"], baseline_name=bare),
        "issue.open_loop_200.p99_ms": figure(tk_steady["p99_ms"], "ms", baseline=bare_steady["p99_ms"], baseline_name=bare, target="<= 20 ms"),
        "issue.open_loop_200.errors": figure(tk_steady["errors"], "requests", baseline=bare_steady["errors"], baseline_name=bare, target="0"),
        "issue.closed_loop.throughput_rps": figure(tk_max["throughput_rps"], "requests/s", baseline=bare_max["throughput_rps"], baseline_name=bare),
        "bare.closed_loop.throughput_rps": figure(bare_max["throughput_rps"], "requests/s"),
        "issue.ratio_to_bare": figure(tk_max["throughput_rps"] / bare_max["throughput_rps"], "ratio", target=">= 0.25"),
        "cpu_ms_per_ticket.api": figure(cpu_ms["api"], "ms CPU per ticket", baseline=bare_cpu_ms, baseline_name="bare FastAPI process per request, same closed loop"),
        "cpu_ms_per_ticket.worker": figure(cpu_ms["worker"], "ms CPU per ticket"),
        "cpu_ms_per_ticket.postgres": figure(cpu_ms["postgres"], "ms CPU per ticket"),
        "cpu_ms_per_ticket.total": figure(total, "ms CPU per ticket", baseline=bare_cpu_ms, baseline_name="bare FastAPI process per request, same closed loop", target="<= 3 ms"),
        "round_trips_per_ticket.postgres": figure(trips["postgres"], "round trips", target="<= 2 (counted by driver hooks)"),
        "round_trips_per_ticket.redis": figure(trips["redis"], "round trips", target="<= 1 (counted by driver hooks)"),
        "overload_2x.rejected_p99_ms": figure(over["rejected_p99_ms"], "ms", target="<= 10 ms"),
        "overload_2x.accepted_p99_ms": figure(over["accepted_p99_ms"], "ms"),
        "idle_worker.postgres_round_trips_per_s": figure(idle["postgres_round_trips_per_s"], "round trips/s", target="<= 2"),
        "load_loop.cpu_share_1000_branches": figure(loop["cpu_share"], "share of one core", target="<= 0.10"),
    }
    write_result(
        "ticketing",
        figures,
        method=(
            f"same processes and run as ticketing_issue.json: open loop {RATE}/s, closed loop {CLOSED_CLIENTS} clients in {CLOSED_SLICES} slices alternating with the bare endpoint; overload: open loop at 2x the closed-loop "
            f"throughput for {OVERLOAD_S}s; round trips: 100 walk-in requests of an in-process API counted through asyncpg/redis-py hooks; idle worker: an in-process "
            f"runtime with relay, consumers and loops for 10 s once the outbox is drained; load loop: {budget.BRANCHES_1000} branches, 1 arrival per branch per minute from another process, "
            f"{budget.LOAD_LOOP_S:.0f} s of passes every load_check_interval_s"
        ),
        raw={
            "overload_2x": over,
            # errors of the open loop at 200/s: refusals (503 + Retry-After) and the rest (connection errors, other statuses)
            "open_loop_200": {"errors": tk_steady["errors"], "refused_503": tk_steady["refused_503"], "other_errors": tk_steady["errors"] - tk_steady["refused_503"], "by_status_or_exception": tk_steady["failures"], "achieved_rate": tk_steady["achieved_rate"]},
            "round_trips": trips,
            "idle_worker": idle,
            "load_loop": loop,
            "floors": rtt,
        },
        load_average=os.getloadavg(),
        note="2-core machine shared with other engineers' jobs during the run: absolute figures vary with their load; ratios are against baselines measured in the same run",
    )


def run() -> dict[str, Any]:
    """The issue-ticket benchmark (see the module docstring)."""
    return {"issue": issue_benchmark()}
