"""Pytest fixtures for tests against the real infrastructure that ``make test`` starts.

Registered for the whole repository by the root ``conftest.py``. Tests that need Kafka,
PostgreSQL or Redis FAIL (never skip) when it is missing: a green run proves the
integration.

Isolation: each test session gets a random topic prefix (``t<hex>.``) with every catalog
topic created under it, and each service test gets its own freshly migrated database,
dropped afterwards.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from counterflow_shared.events.kafka import delete_topics, ensure_topics, wait_for_broker
from counterflow_shared.persistence.migrations import upgrade_to_head
from counterflow_shared.settings import PlatformSettings

REPO_ROOT = Path(__file__).resolve().parents[3]


def platform() -> PlatformSettings:
    """The platform settings the tests run against (from ``CF_*`` or the local defaults)."""
    return PlatformSettings()


def _require(what: str, ok: bool, hint: str) -> None:
    if not ok:
        pytest.fail(f"{what} is not reachable: {hint}. Run the tests with `make test`, which starts it.", pytrace=False)


@pytest.fixture(scope="session")
def infrastructure() -> PlatformSettings:
    """Check that Kafka, PostgreSQL and Redis answer; fail the test otherwise."""
    p = platform()
    host, port = p.kafka_bootstrap_servers.split(",")[0].rsplit(":", 1)
    _require("Kafka", _port_open(host, int(port)), p.kafka_bootstrap_servers)
    pg = httpx.URL(p.postgres_dsn_template.replace("postgresql+asyncpg", "http").format(database="x"))
    _require("PostgreSQL", _port_open(pg.host, pg.port or 5432), f"{pg.host}:{pg.port}")
    r = httpx.URL(p.redis_url.replace("redis://", "http://"))
    _require("Redis", _port_open(r.host, r.port or 6379), f"{r.host}:{r.port}")
    return p


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def fresh_topic_prefix(infrastructure: PlatformSettings) -> Iterator[str]:
    """A random topic prefix (``t<hex>.``) with every catalog topic created under it,
    deleted afterwards. Generator body of the ``topic_prefix`` fixtures."""
    prefix = f"t{uuid.uuid4().hex[:10]}."
    created = _in_thread(asyncio.run, ensure_topics(infrastructure.kafka_bootstrap_servers, prefix=prefix))
    yield prefix
    try:
        _in_thread(asyncio.run, delete_topics(infrastructure.kafka_bootstrap_servers, created))
    except Exception:  # noqa: BLE001 - the broker may have been stopped by a test; topics are prefixed anyway
        pass


@pytest.fixture(scope="session")
def topic_prefix(infrastructure: PlatformSettings) -> Iterator[str]:
    """A random topic prefix with every catalog topic created under it (deleted at the end).

    Each service's test suite overrides this fixture in its conftest with
    :func:`fresh_topic_prefix`, so one service's consumers (say ticketing answering remote
    ticket requests) never react to another suite's events in the same pytest session.
    """
    yield from fresh_topic_prefix(infrastructure)


def _in_thread(fn: Any, *args: Any) -> Any:
    """Run blocking ``fn`` (which may call ``asyncio.run``) in a fresh thread, so the
    helpers below work from sync fixtures and from inside a running event loop alike."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(fn, *args).result()


def _admin_statement(sql: str) -> None:
    """Run one statement on the test server's ``postgres`` database (autocommit)."""
    admin_url = platform().postgres_dsn_template.format(database="postgres")

    async def _run() -> None:
        engine = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
        async with engine.connect() as conn:
            await conn.execute(text(sql))
        await engine.dispose()

    _in_thread(asyncio.run, _run())


def create_database(name: str) -> str:
    """Create database ``name`` on the test server; returns its async URL."""
    _admin_statement(f'CREATE DATABASE "{name}"')
    return platform().postgres_dsn_template.format(database=name)


def drop_database(name: str) -> None:
    """Drop database ``name`` (terminating its connections)."""
    _admin_statement(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def delete_redis_prefix(redis_url: str, prefix: str) -> int:
    """Delete every Redis key under a test's own ``prefix`` (never anything else);
    returns how many were deleted."""
    from redis.asyncio import Redis

    redis = Redis.from_url(redis_url)
    try:
        keys = [k async for k in redis.scan_iter(match=prefix + "*", count=1000)]
        return await redis.delete(*keys) if keys else 0
    finally:
        await redis.aclose()


def migrated_database(package_dir: Path, label: str) -> tuple[str, str]:
    """A new database migrated to head with the scripts under ``package_dir``.

    Returns:
        ``(name, url)``; drop it with :func:`drop_database`.
    """
    name = f"cf_test_{label}_{uuid.uuid4().hex[:8]}"
    url = create_database(name)
    _in_thread(upgrade_to_head, package_dir, url)
    return name, url


@asynccontextmanager
async def simulated_clock(runtime: Any) -> AsyncIterator[Any]:
    """Put ``runtime`` (a :class:`~counterflow_shared.runtime.ServiceRuntime`) on a
    :class:`~counterflow_shared.clock.RedisClock` under a key of its own for the block;
    yields the clock, then restores the runtime's clock and deletes the key."""
    from counterflow_shared.clock import RedisClock

    original = runtime.clock
    clock = runtime.clock = RedisClock(runtime.redis, f"test:{uuid.uuid4().hex[:8]}:counterflow:clock")
    try:
        yield clock
    finally:
        runtime.clock = original
        await clock.redis.delete(clock.key)


@asynccontextmanager
async def running_app(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """Run ``app``'s lifespan and yield an httpx client talking to it in-process."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver", timeout=30.0) as client:
            yield client


@asynccontextmanager
async def served_app(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """Run ``app`` under uvicorn on a free port of 127.0.0.1 in this event loop (lifespan
    included; streams work, unlike over ``ASGITransport``); yield a client for it."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    server.install_signal_handlers = lambda: None  # type: ignore[attr-defined]  # a no-op on uvicorn versions without this hook
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("uvicorn stopped before it started")
        await asyncio.sleep(0.05)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30.0) as client:
            yield client
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 30)


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServiceProcess:
    """A service running as its own OS process (``python -m <module> serve``), for tests
    that need separate processes. Environment: the current one plus ``env``."""

    def __init__(self, module: str, env: dict[str, str], *, port_env: str, log_path: Path) -> None:
        self.port = free_port()
        self.module = module
        self.env = {**os.environ, **env, port_env: str(self.port)}
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        """Base URL of the running service."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 180.0) -> "ServiceProcess":
        """Start and wait until ``/readyz`` answers 200.

        Raises:
            RuntimeError: the process exited or did not become ready in ``timeout_s`` seconds.
        """
        log = open(self.log_path, "ab")  # noqa: SIM115 - closed with the process
        self.proc = subprocess.Popen([sys.executable, "-m", self.module, "serve"], env=self.env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.module} exited with {self.proc.returncode}; log: {self.log_path}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"{self.module} not ready in {timeout_s}s; log: {self.log_path}")

    def stop(self, sig: int = 15, timeout_s: float = 15.0) -> int | None:
        """Send ``sig`` (SIGTERM by default) and wait; returns the exit code."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(5)


def infra_script(*args: str) -> None:
    """Run ``deploy/local/infra.sh`` (tests stop and restart the broker with it)."""
    subprocess.run(["bash", str(REPO_ROOT / "deploy/local/infra.sh"), *args], check=True, timeout=180)


async def retry_busy(send: Any, *, attempts: int = 30) -> httpx.Response:
    """``await send()`` again while it answers 503 (service busy, database unavailable), after
    the ``Retry-After`` it names (seconds; capped at 1 s here), as a kiosk or device client
    does; at most ``attempts`` tries. A 503 promises that nothing was applied, so a retry
    of the same request (same transaction id or Idempotency-Key) is safe. Returns the last
    response."""
    response = await send()
    for _ in range(attempts - 1):
        if response.status_code != 503:
            break
        await asyncio.sleep(min(float(response.headers.get("Retry-After", "1")), 1.0))
        response = await send()
    return response


async def eventually(predicate: Any, *, timeout_s: float = 30.0, interval_s: float = 0.1, what: str = "condition") -> Any:
    """Poll the async ``predicate`` until it returns a truthy value; return that value.

    Raises:
        AssertionError: not within ``timeout_s`` seconds.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        value = await predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout_s}s (last value {value!r})")
        await asyncio.sleep(interval_s)


class KafkaBroker:
    """A private single-node KRaft broker for tests that stop and restart the broker
    (so they never disturb the shared one). Uses the jars that ``infra.sh`` fetched from
    Maven Central into ``$CF_KAFKA_HOME/libs`` (``~/.cache/counterflow/kafka/<version>/libs``).
    """

    def __init__(self, workdir: Path, *, version: str | None = None) -> None:
        version_given = version is not None
        version = version or os.environ.get("KAFKA_VERSION", "4.1.1")
        cache = Path(os.environ.get("CF_CACHE_DIR") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "counterflow")
        # CF_KAFKA_HOME is exported by deploy/local/env.sh, the one place that says where the jars are
        home = Path(os.environ["CF_KAFKA_HOME"]) if os.environ.get("CF_KAFKA_HOME") and not version_given else cache / "kafka" / version
        self.libs = home / "libs"
        if not self.libs.is_dir():
            pytest.fail(f"Kafka jars not found in {self.libs}; run `make test` (infra.sh fetches them)", pytrace=False)
        self.workdir = workdir
        self.port = free_port()
        self.controller_port = free_port()
        self.proc: subprocess.Popen | None = None
        self.properties = workdir / "server.properties"
        # when this machine's clients authenticate (deploy/local/env.sh read infra.sh's
        # client.env), the private broker is secured the same way, with the same CA, broker
        # certificate and SCRAM users (infra.sh's broker-security.properties; ADR 0215)
        security_dir = Path(os.environ.get("CF_KAFKA_SECURITY_DIR", ""))
        self.secured = platform().kafka_security_protocol != "PLAINTEXT" and (security_dir / "broker-security.properties").is_file()
        listener = "SASL_SSL" if self.secured else "PLAINTEXT"
        lines = [
            "process.roles=broker,controller",
            "node.id=1",
            f"controller.quorum.voters=1@127.0.0.1:{self.controller_port}",
            f"listeners={listener}://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
            f"advertised.listeners={listener}://127.0.0.1:{self.port}",
            "controller.listener.names=CONTROLLER",
            f"log.dirs={workdir / 'data'}",
            "offsets.topic.replication.factor=1",
            "offsets.topic.num.partitions=3",
            "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1",
            "share.coordinator.state.topic.replication.factor=1",
            "group.initial.rebalance.delay.ms=0",
            "auto.create.topics.enable=false",
        ]
        scram: list[str] = []
        if self.secured:
            lines.append((security_dir / "broker-security.properties").read_text())
            for credential in (security_dir / "scram-credentials").read_text().split():
                scram += ["--add-scram", credential]
        else:
            lines.append("listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT")
        self.properties.write_text("\n".join(lines) + "\n")
        subprocess.run(
            self._java("kafka.tools.StorageTool", "format", "-t", "q1Sh-9_ISia_zwGINzRvyQ", "-c", str(self.properties), *scram),
            check=True,
            capture_output=True,
            timeout=120,
        )

    @property
    def bootstrap(self) -> str:
        """``host:port`` of the broker."""
        return f"127.0.0.1:{self.port}"

    def _java(self, *args: str) -> list[str]:
        return ["java", "-Xms128m", "-Xmx512m", "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn", "-cp", f"{self.libs}/*", *args]

    def start(self, timeout_s: float = 90.0) -> None:
        """Start the broker and wait until it answers clients."""
        log = open(self.workdir / "kafka.log", "ab")  # noqa: SIM115 - closed with the process
        self.proc = subprocess.Popen(self._java("kafka.Kafka", str(self.properties)), stdout=log, stderr=subprocess.STDOUT)
        _in_thread(asyncio.run, wait_for_broker(self.bootstrap, timeout_s))

    def stop(self, timeout_s: float = 60.0) -> None:
        """Stop the broker cleanly (SIGTERM), killing it after ``timeout_s`` seconds."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture(scope="session")
def private_kafka(tmp_path_factory: pytest.TempPathFactory, infrastructure: PlatformSettings) -> Iterator[KafkaBroker]:
    """A running private broker (see :class:`KafkaBroker`), stopped at the end of the session."""
    broker = KafkaBroker(tmp_path_factory.mktemp("kafka"))
    broker.start()
    yield broker
    broker.stop()


async def fuzz_openapi(client: httpx.AsyncClient, app: Any, credentials: dict[str, dict[str, str]], *, examples: int = 8) -> tuple[int, list[str]]:
    """Schemathesis over ``app``'s OpenAPI document, sent through ``client`` (the running
    app, in-process) once per credential in ``credentials`` (``{label: headers}``).

    Cases are generated from each operation's schema (``examples`` per operation and
    credential, derandomised so a run is repeatable); each response is checked for a
    server error (5xx) and against its documented schema. Server-sent-event streams are
    left out (they never end; their own tests cover them).

    Returns:
        ``(requests sent, failures)``; each failure names the credential, the operation
        and what broke.
    """
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import response_schema_conformance

    schema = schemathesis.openapi.from_dict(app.openapi())
    failures: list[str] = []
    sent = 0
    from schemathesis.core.result import Err

    for result in schema.get_all_operations():
        if isinstance(result, Err):
            raise result.err()  # an operation the fuzzer cannot read: the document is broken
        operation = result.ok()
        if operation.path.endswith("/stream"):
            continue
        cases: list[Any] = []

        @given(case=operation.as_strategy())
        @settings(max_examples=examples, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck))
        def collect(case: Any) -> None:
            cases.append(case)  # noqa: B023 - collect() runs at once, in this iteration

        collect()
        for label, headers in credentials.items():
            for case in cases:
                kwargs = case.as_transport_kwargs(base_url=str(client.base_url), headers=headers)
                body = kwargs.pop("data", None)  # a form as a dict, anything else as raw bytes
                form, content = (body, None) if isinstance(body, dict) else (None, body)
                try:
                    response = await client.request(
                        kwargs.pop("method"), kwargs.pop("url"), params=kwargs.get("params"), headers=kwargs.get("headers"), json=kwargs.get("json"), data=form, content=content
                    )
                except httpx.LocalProtocolError:
                    continue  # the client itself refuses to send it (e.g. a header "Bearer " with a trailing space)
                sent += 1
                try:
                    case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])
                except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - schemathesis raises a FailureGroup; collected so one run reports every failing operation
                    failures.append(f"{label} {operation.method.upper()} {operation.path} -> {response.status_code}: {str(exc)[:400]}")
    return sent, failures


class PrivatePostgres:
    """A PostgreSQL server of a test's own (Debian binaries under
    ``/usr/lib/postgresql/<version>/bin``), for tests that stop the database: the shared
    one on port 55432 is never stopped. Runs as the ``postgres`` user when the tests run
    as root (PostgreSQL refuses to run as root); trust authentication on 127.0.0.1 only.
    """

    def __init__(self) -> None:
        import tempfile

        bins = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))
        if not bins:
            raise RuntimeError("no PostgreSQL binaries under /usr/lib/postgresql (deploy/local/bootstrap.sh installs them)")
        self.bin = bins[-1]
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="cf-pg-"))
        self.data = self.root / "data"
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            import shutil

            shutil.chown(self.root, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "counterflow", "--auth=trust", "-E", "UTF8", "--no-sync")

    def _run(self, tool: str, *args: str) -> None:
        cmd = [str(self.bin / tool), *args]
        if self.as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, timeout=120, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        opts = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c max_connections=200"
        self._run("pg_ctl", "-D", str(self.data), "-o", opts, "-l", str(self.root / "server.log"), "-w", "-t", "60", "start")

    def stop(self) -> None:
        """Stop the server (fast shutdown: open sessions are terminated, as in an outage)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop")

    def url(self, database: str) -> str:
        """Async SQLAlchemy URL of ``database`` on this server."""
        return f"postgresql+asyncpg://counterflow@127.0.0.1:{self.port}/{database}"

    def migrated_database(self, package_dir: Path, name: str) -> str:
        """Create ``name`` and migrate it to head with the scripts under ``package_dir``; returns its URL."""

        async def _create() -> None:
            engine = create_async_engine(self.url("postgres"), isolation_level="AUTOCOMMIT")
            async with engine.connect() as conn:
                await conn.execute(text(f'CREATE DATABASE "{name}"'))
            await engine.dispose()

        _in_thread(asyncio.run, _create())
        _in_thread(upgrade_to_head, package_dir, self.url(name))
        return self.url(name)

    def destroy(self) -> None:
        """Stop the server if it runs and delete its files."""
        import shutil

        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "-t", "30", "stop")
        except subprocess.CalledProcessError:
            pass  # not running
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def private_pg(infrastructure: PlatformSettings) -> Iterator[PrivatePostgres]:
    """A running private PostgreSQL server (see :class:`PrivatePostgres`) for a test that
    stops it, destroyed (stopped, files deleted) after the test."""
    pg = PrivatePostgres()
    pg.start()
    yield pg
    pg.destroy()


def scrape(base_url: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    """GET ``<base_url>/metrics`` and parse it (Prometheus text format) into
    ``{sample name: [(labels, value), ...]}``; every declared family name is a key too
    (with an empty list while it has no sample).

    Raises:
        httpx.HTTPStatusError: the endpoint did not answer 200.
    """
    from prometheus_client.parser import text_string_to_metric_families

    response = httpx.get(f"{base_url}/metrics", timeout=10.0)
    response.raise_for_status()
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(response.text):
        samples.setdefault(family.name, [])  # declared, maybe without samples yet
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((dict(sample.labels), sample.value))
    return samples


def sample_value(samples: dict[str, list[tuple[dict[str, str], float]]], name: str, **labels: str) -> float | None:
    """The value of the one sample of ``name`` whose labels include ``labels`` (``None``
    when there is none)."""
    found = [v for lab, v in samples.get(name, []) if all(lab.get(k) == want for k, want in labels.items())]
    assert len(found) <= 1, f"{len(found)} samples of {name} match {labels}"
    return found[0] if found else None
