"""Fixtures of the selfservice tests: one migrated database and one running app (with
its relay, consumer and background loops) per test session, against the real
PostgreSQL and Kafka; every test uses its own branch and device ids."""

from __future__ import annotations

from counterflow_shared.events.security import client_options
from counterflow_testkit import fresh_topic_prefix
import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from counterflow_shared.events.catalog import CHANNEL_DIVERSIONS, SELFSERVICE_DEVICES, SELFSERVICE_TRANSACTIONS
from counterflow_shared.events.envelope import Envelope, new_event
from counterflow_testkit import drop_database, migrated_database, running_app
from counterflow_shared.devidp import issue_staff_token
from counterflow_selfservice.main import PACKAGE_DIR, create_app
from counterflow_selfservice.settings import SelfServiceSettings

HEARTBEAT_TIMEOUT_S = 4.0
WATCHDOG_INTERVAL_S = 0.2


@pytest.fixture(scope="session")
def database_url(infrastructure) -> Iterator[str]:  # noqa: ANN001
    """A database migrated to the service's heads, dropped after the session."""
    name, url = migrated_database(PACKAGE_DIR, "selfservice")
    yield url
    drop_database(name)


@pytest.fixture(scope="session")
def settings(database_url: str, topic_prefix: str) -> SelfServiceSettings:
    """Settings with a short heartbeat timeout and an always-refitted forecast."""
    return SelfServiceSettings(
        database_url=database_url,
        topic_prefix=topic_prefix,
        heartbeat_timeout_s=HEARTBEAT_TIMEOUT_S,
        watchdog_interval_s=WATCHDOG_INTERVAL_S,
        forecast_refit_s=0,
        log_json=False,
        log_level="WARNING",
    )


@pytest.fixture(scope="session")
async def app(settings: SelfServiceSettings) -> AsyncIterator[Any]:
    """The app, running (lifespan entered, workers started)."""
    application = create_app(settings, group_suffix=f"-{uuid.uuid4().hex[:6]}")
    async with running_app(application) as client:
        application.state.test_client = client
        yield application


@pytest.fixture(scope="session")
def client(app) -> httpx.AsyncClient:  # noqa: ANN001
    """In-process HTTP client of the running app."""
    return app.state.test_client


class EventTap:
    """Collects every event of the given topics (from the beginning) in the background."""

    def __init__(self, bootstrap: str, topics: list[str]) -> None:
        self.bootstrap = bootstrap
        self.topics = topics
        self.events: list[Envelope] = []
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        """Assign every partition from offset 0 and start collecting."""
        self.consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, **client_options(), enable_auto_commit=False, group_id=None, fetch_max_wait_ms=100)
        await self.consumer.start()
        tps = []
        for topic in self.topics:
            parts = self.consumer.partitions_for_topic(topic)
            while not parts:
                await self.consumer._client.force_metadata_update()  # noqa: SLF001 - tests only
                parts = self.consumer.partitions_for_topic(topic)
            tps += [TopicPartition(topic, p) for p in parts]
        self.consumer.assign(tps)
        await self.consumer.seek_to_beginning(*tps)
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            batch = await self.consumer.getmany(timeout_ms=100)
            for records in batch.values():
                self.events += [Envelope.from_bytes(r.value) for r in records]

    async def stop(self) -> None:
        """Stop collecting."""
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.consumer.stop()

    def of(self, event_type: str, subject: str | None = None, **data: Any) -> list[Envelope]:
        """Events of ``event_type`` (``...v1``), optionally by subject and data fields."""
        return [
            e
            for e in self.events
            if e.type == event_type and (subject is None or e.subject == subject) and all(e.data.get(k) == v for k, v in data.items())
        ]


@pytest.fixture(scope="session")
async def events(infrastructure, topic_prefix: str) -> AsyncIterator[EventTap]:  # noqa: ANN001
    """Every event on the device, transaction and diversion topics of this session."""
    tap = EventTap(infrastructure.kafka_bootstrap_servers, [f"{topic_prefix}{t.name}" for t in (SELFSERVICE_DEVICES, SELFSERVICE_TRANSACTIONS, CHANNEL_DIVERSIONS)])
    await tap.start()
    yield tap
    await tap.stop()


@pytest.fixture(scope="session")
async def producer(infrastructure) -> AsyncIterator[AIOKafkaProducer]:  # noqa: ANN001
    """A plain producer standing in for other services (ticketing's diversions)."""
    p = AIOKafkaProducer(bootstrap_servers=infrastructure.kafka_bootstrap_servers, **client_options(), acks="all")
    await p.start()
    yield p
    await p.stop()


async def send_event(producer: AIOKafkaProducer, topic_prefix: str, payload: Any) -> Envelope:
    """Publish a catalog payload as another service would."""
    from counterflow_shared.events.catalog import entry_for_payload

    envelope = new_event(payload, source="/counterflow/ticketing")
    await producer.send_and_wait(f"{topic_prefix}{entry_for_payload(type(payload)).topic.name}", envelope.to_bytes(), key=envelope.subject.encode())
    return envelope


@pytest.fixture(scope="session")
def staff(settings: SelfServiceSettings) -> dict[str, str]:
    """Headers of an operations staff member covering every branch."""
    token = issue_staff_token(issuer=settings.jwt_issuer, audience=settings.jwt_audience, subject="ops-1", role="operations", branches=["*"])
    return {"Authorization": f"Bearer {token}"}


def uid(prefix: str) -> str:
    """A fresh id (tests never share devices or branches)."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def now_iso() -> str:
    """The current UTC time, RFC 3339."""
    return datetime.now(UTC).isoformat()


def recycler(device_id: str, branch_id: str, *, count: int = 100, capacity: int = 200, low: int = 20, full: int = 190, denomination: str = "100") -> dict[str, Any]:
    """Registration body of a cash recycler with one CZK unit."""
    return {
        "device_id": device_id,
        "branch_id": branch_id,
        "zone": "self_service",
        "kind": "cash_recycler",
        "accessible": True,
        "capabilities": {
            "service_types": ["cash_withdrawal", "cash_deposit", "statement"],
            "max_amount": {"CZK": "20000"},
            "denominations": [denomination],
            "currencies": ["CZK"],
        },
        "time_zone": "Europe/Prague",
        "cash_units": [
            {"unit_id": "C1", "currency": "CZK", "denomination": denomination, "capacity": capacity, "low_threshold": low, "full_threshold": full, "count": count}
        ],
    }


class DeviceClient:
    """A registered device talking to the service with its credentials."""

    def __init__(self, client: httpx.AsyncClient, device_id: str, secret: str) -> None:
        self.client = client
        self.device_id = device_id
        self.headers = {"Authorization": f"Bearer {device_id}:{secret}"}

    async def heartbeat(self, status: str = "online", counts: dict[str, int] | None = None, **extra: Any) -> httpx.Response:
        """Send a heartbeat."""
        body = {"status": status, "sent_at": now_iso(), "cash_units": [{"unit_id": u, "count": c} for u, c in (counts or {}).items()], **extra}
        return await self.client.post("/v1/device/heartbeats", json=body, headers=self.headers)

    async def transaction(self, **body: Any) -> httpx.Response:
        """Report a transaction (``occurred_at`` defaults to now)."""
        body.setdefault("transaction_id", uid("tx"))
        body.setdefault("occurred_at", now_iso())
        return await self.client.post("/v1/device/transactions", json=body, headers=self.headers)


@pytest.fixture
async def register(client: httpx.AsyncClient, staff: dict[str, str]):  # noqa: ANN201
    """``await register(body)`` -> :class:`DeviceClient` of the new device."""

    async def _register(body: dict[str, Any]) -> DeviceClient:
        r = await client.post("/v1/devices", json=body, headers=staff)
        assert r.status_code == 201, r.text
        return DeviceClient(client, body["device_id"], r.json()["secret"])

    return _register


@pytest.fixture(scope="session")
def topic_prefix(infrastructure):  # noqa: ANN001, ANN201
    """Topics of this suite's own (see counterflow_testkit.topic_prefix)."""
    yield from fresh_topic_prefix(infrastructure)
