"""Fixtures of the scoring tests: a migrated database holding the whole PKDD'99 book
(imported once per session through the operations API), the app around it with its
relay and consumers on the session's topic prefix, and staff tokens."""

from __future__ import annotations

from counterflow_testkit import fresh_topic_prefix
import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from counterflow_testkit import drop_database, migrated_database, running_app
from counterflow_shared.devidp import issue_staff_token
from counterflow_scoring.main import PACKAGE_DIR, create_app
from counterflow_scoring.settings import ScoringSettings


def token(settings: ScoringSettings, role: str, branches: list[str]) -> dict[str, str]:
    """``Authorization`` header of a staff member with ``role`` on ``branches``."""
    jwt = issue_staff_token(issuer=settings.jwt_issuer, audience=settings.jwt_audience, subject=f"{role}-1", role=role, branches=branches)
    return {"Authorization": f"Bearer {jwt}"}


@pytest.fixture(scope="session")
def book_database(infrastructure) -> Iterator[tuple[str, str]]:  # noqa: ANN001
    """``(name, url)`` of a migrated scoring database, dropped after the session."""
    name, url = migrated_database(PACKAGE_DIR, "scoring_book")
    yield name, url
    drop_database(name)


@pytest.fixture(scope="session")
def book_settings(book_database, topic_prefix) -> ScoringSettings:  # noqa: ANN001
    """Settings of the session's scoring app (own database, the session's topics)."""
    return ScoringSettings(database_url=book_database[1], topic_prefix=topic_prefix, consumer_retry_backoff_s=0.05)


@pytest.fixture(scope="session")
async def book_app(book_settings: ScoringSettings) -> AsyncIterator[httpx.AsyncClient]:
    """The scoring app with embedded relay and consumer, as an in-process client."""
    app = create_app(book_settings, group_suffix=f"-{uuid.uuid4().hex[:6]}")
    async with running_app(app) as client:
        client.app = app  # type: ignore[attr-defined]
        yield client


@pytest.fixture(scope="session")
async def imported(book_app: httpx.AsyncClient, book_settings: ScoringSettings) -> dict:
    """The first import of the whole book through ``POST /v1/operations/import-berka``."""
    r = await book_app.post("/v1/operations/import-berka", json={}, headers=token(book_settings, "operations", ["*"]))
    assert r.status_code == 200, r.text
    return r.json()


@pytest.fixture(scope="session")
def topic_prefix(infrastructure):  # noqa: ANN001, ANN201
    """Topics of this suite's own (see counterflow_testkit.topic_prefix)."""
    yield from fresh_topic_prefix(infrastructure)
