"""Fixtures of the mobile-gateway tests: a migrated database, a gateway running as a
real HTTP server in this process (SSE needs a real socket: httpx's ASGI transport
buffers whole responses), customers with tokens, and a Kafka producer that plays
ticketing's part on the session's topic prefix (a real broker, not a mock)."""

from __future__ import annotations

from counterflow_shared.events.security import client_options
from counterflow_testkit import fresh_topic_prefix
import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, time
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from counterflow_shared.events.catalog import MOBILE_ACTIVITY
from counterflow_shared.events.envelope import Envelope, new_event
from counterflow_shared.events.payloads.branches import BranchProfile, OpeningInterval, ServiceOffer
from counterflow_testkit import drop_database, eventually, migrated_database, served_app
from counterflow_shared.devidp import issue_customer_token
from counterflow_mobile_gateway.main import PACKAGE_DIR, create_app
from counterflow_mobile_gateway.settings import MobileGatewaySettings

@pytest.fixture(scope="session")
def database(infrastructure) -> Any:
    """A database migrated to head for the whole session (dropped at the end)."""
    name, url = migrated_database(PACKAGE_DIR, "mobile")
    yield url
    drop_database(name)


@pytest.fixture(scope="session")
def redis_prefix() -> str:
    """This session's own Redis key prefix (never flush anything global)."""
    return f"test:mobile:{uuid.uuid4().hex[:8]}:"


def make_settings(database: str, topic_prefix: str, redis_prefix: str, **overrides: Any) -> MobileGatewaySettings:
    """Gateway settings on the test infrastructure."""
    values: dict[str, Any] = {
        "database_url": database,
        "topic_prefix": topic_prefix,
        "redis_prefix": redis_prefix,
        "sweep_interval_s": 0.3,
        "log_json": False,
        "log_level": "WARNING",
        "rate_limit_requests": 10_000,
        **overrides,
    }
    return MobileGatewaySettings(**values)


@contextlib.asynccontextmanager
async def serve(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """Run ``app`` under uvicorn on a free port in this event loop; yield a client."""
    async with served_app(app) as client:
        yield client


@pytest.fixture(scope="session")
async def gateway(database: str, topic_prefix: str, redis_prefix: str) -> AsyncIterator[tuple[Any, httpx.AsyncClient]]:
    """``(app, client)`` of one gateway instance with embedded relay, consumers and sweeper."""
    app = create_app(make_settings(database, topic_prefix, redis_prefix), group_suffix=f"-{uuid.uuid4().hex[:6]}")
    async with serve(app) as client:
        yield app, client


@pytest.fixture(scope="session")
def client(gateway) -> httpx.AsyncClient:
    """HTTP client of the session's gateway."""
    return gateway[1]


@pytest.fixture(scope="session")
def app(gateway) -> Any:
    """The session's gateway app."""
    return gateway[0]


@pytest.fixture(scope="session")
async def producer(infrastructure) -> AsyncIterator[AIOKafkaProducer]:
    """A Kafka producer for events the other services would publish."""
    p = AIOKafkaProducer(bootstrap_servers=infrastructure.kafka_bootstrap_servers, **client_options(), acks="all")
    await p.start()
    yield p
    await p.stop()


async def emit(producer: AIOKafkaProducer, topic_prefix: str, payload: Any, *, source: str = "/counterflow/ticketing") -> Envelope:
    """Publish ``payload`` as another service would (catalog topic, key, envelope)."""
    from counterflow_shared.events.catalog import entry_for_payload

    env = new_event(payload, source=source)
    await producer.send_and_wait(f"{topic_prefix}{entry_for_payload(type(payload)).topic.name}", env.to_bytes(), key=env.subject.encode())
    return env


class Customer:
    """A customer signed in at the bank's OpenID Connect provider (locally the development
    provider, :mod:`counterflow_shared.devidp`): ``tokens["access_token"]``."""

    def __init__(self, customer_id: str, tokens: dict) -> None:
        self.customer_id, self.tokens = customer_id, tokens

    @property
    def headers(self) -> dict[str, str]:
        """``Authorization`` header."""
        return {"Authorization": f"Bearer {self.tokens['access_token']}"}


async def new_customer(client: httpx.AsyncClient | None = None, *, ttl_s: int = 900) -> Customer:
    """A fresh customer with an access token of the development provider (``client`` is
    unused: kept so call sites read as before)."""
    customer_id = f"c-{uuid.uuid4().hex[:12]}"
    return Customer(customer_id, {"access_token": issue_customer_token(customer_id=customer_id, ttl_s=ttl_s), "token_type": "Bearer"})


def branch_profile(branch_id: str | None = None, *, time_zone: str = "Europe/Prague", all_day: bool = True, capacity: int = 1, **kw: Any) -> BranchProfile:
    """A branch open every day (00:00-24:00 when ``all_day``, else 08:00-17:00)."""
    opens, closes = (time(0, 0), time(0, 0)) if all_day else (time(8, 0), time(17, 0))
    return BranchProfile(
        branch_id=branch_id or f"b-{uuid.uuid4().hex[:8]}",
        name="Praha 1 - Na Příkopě",
        time_zone=time_zone,
        opening_hours=[OpeningInterval(weekday=d, opens=opens, closes=closes) for d in range(7)],
        services=[
            ServiceOffer(service_type="cash_withdrawal", name="Cash withdrawal", prefix="A", handles_cash=True),
            ServiceOffer(service_type="loan_consultation", name="Loans", prefix="L", handles_cash=False),
        ],
        appointment_capacity_per_slot=capacity,
        updated_at=datetime.now(UTC),
        **kw,
    )


async def known_branch(client: httpx.AsyncClient, producer: AIOKafkaProducer, topic_prefix: str, customer: Customer, **kw: Any) -> BranchProfile:
    """Publish a branch profile and wait until the gateway serves it."""
    profile = branch_profile(**kw)
    await emit(producer, topic_prefix, profile)

    async def seen() -> bool:
        r = await client.get(f"/v1/branches/{profile.branch_id}", headers=customer.headers)
        assert r.status_code in (200, 404), r.text
        return r.status_code == 200

    await eventually(seen, timeout_s=60, what=f"branch {profile.branch_id} known to the gateway")
    return profile


class ActivityLog:
    """Reads one catalog topic of the session from the beginning (no consumer group);
    by default ``mobile.activity.v1``."""

    def __init__(self, bootstrap: str, topic: str, partitions: int = MOBILE_ACTIVITY.partitions) -> None:
        self.bootstrap, self.topic, self.partitions = bootstrap, topic, partitions
        self.events: list[Envelope] = []
        self._consumer: AIOKafkaConsumer | None = None

    async def start(self) -> None:
        """Assign every partition from offset 0."""
        self._consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, **client_options(), enable_auto_commit=False, group_id=None, auto_offset_reset="earliest")
        await self._consumer.start()
        parts = [TopicPartition(self.topic, p) for p in range(self.partitions)]
        self._consumer.assign(parts)
        await self._consumer.seek_to_beginning(*parts)

    async def stop(self) -> None:
        """Close the consumer."""
        if self._consumer is not None:
            await self._consumer.stop()

    async def poll(self) -> list[Envelope]:
        """Fetch what arrived since the last poll; returns every event seen so far."""
        assert self._consumer is not None
        batches = await self._consumer.getmany(timeout_ms=200)
        for records in batches.values():
            self.events.extend(Envelope.from_bytes(r.value) for r in records)
        return self.events

    async def wait_for(self, predicate: Any, *, what: str, timeout_s: float = 30.0) -> list[Envelope]:
        """Poll until some events satisfy ``predicate`` (returns those)."""

        async def found() -> list[Envelope]:
            await self.poll()
            return [e for e in self.events if predicate(e)]

        return await eventually(found, timeout_s=timeout_s, what=what)


@pytest.fixture(scope="session")
async def activity(infrastructure, topic_prefix: str) -> AsyncIterator[ActivityLog]:
    """The session's ``mobile.activity.v1`` as the gateway published it."""
    log = ActivityLog(infrastructure.kafka_bootstrap_servers, f"{topic_prefix}{MOBILE_ACTIVITY.name}")
    await log.start()
    yield log
    await log.stop()


class SseClient:
    """Collects the events of one ``/v1/notifications/stream`` connection."""

    def __init__(self, client: httpx.AsyncClient, headers: dict[str, str]) -> None:
        self.client, self.headers = client, headers
        self.events: list[tuple[str, dict]] = []
        self.ready = asyncio.Event()
        self._task: asyncio.Task | None = None

    async def __aenter__(self) -> "SseClient":
        self._task = asyncio.create_task(self._read())
        await asyncio.wait_for(self.ready.wait(), 15)
        return self

    async def __aexit__(self, *exc: Any) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, httpx.HTTPError):
            await self._task

    async def _read(self) -> None:
        async with self.client.stream("GET", "/v1/notifications/stream", headers=self.headers, timeout=None) as response:
            assert response.status_code == 200, await response.aread()
            event, data = "message", ""
            async for line in response.aiter_lines():
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:"):
                    data += line[5:].strip()
                elif line == "":
                    if data:
                        self.events.append((event, json.loads(data)))
                        if event == "ready":
                            self.ready.set()
                    event, data = "message", ""

    async def wait_for(self, predicate: Any, *, what: str, timeout_s: float = 30.0) -> list[tuple[str, dict]]:
        """Wait until some received events satisfy ``predicate(event, data)``."""

        async def found() -> list[tuple[str, dict]]:
            return [e for e in self.events if predicate(*e)]

        return await eventually(found, timeout_s=timeout_s, interval_s=0.05, what=what)


@pytest.fixture(scope="session")
def kit() -> Any:
    """The helpers above for test modules (``--import-mode=importlib`` keeps conftest
    out of ``sys.path``): ``kit.new_customer(client)``, ``kit.emit(...)``, ..."""
    from types import SimpleNamespace

    return SimpleNamespace(
        new_customer=new_customer,
        emit=emit,
        branch_profile=branch_profile,
        known_branch=known_branch,
        SseClient=SseClient,
        make_settings=make_settings,
        ActivityLog=ActivityLog,
        serve=serve,
    )


@pytest.fixture(scope="session")
def topic_prefix(infrastructure):  # noqa: ANN001, ANN201
    """Topics of this suite's own (see counterflow_testkit.topic_prefix)."""
    yield from fresh_topic_prefix(infrastructure)
