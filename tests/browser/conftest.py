"""The pages in a real browser: ticketing and selfservice run as their own processes
(real Kafka, PostgreSQL, Redis) and Debian's headless Chromium, driven by Playwright,
opens the pages. The platform's origins are the two services' ``http://127.0.0.1:<port>``.

Chromium comes from the Debian package (``deploy/local/test.sh`` installs it when
missing); Playwright only drives it (``executable_path``), it downloads nothing."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from counterflow_testkit import ServiceProcess, _in_thread, delete_redis_prefix, drop_database, migrated_database
from counterflow_shared.devidp import issue_staff_token

CHROMIUM = os.environ.get("CF_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
]
SECRET = "browser-test-session-secret-0123456789abcdef"
KIOSK_SECRET = "kiosk-secret-for-browser-tests-0001"


def token(role: str, branches: list[str], subject: str) -> str:
    """A staff token the services trust (signed by the development identity provider, for
    every service's audience: the pages of both services share the session cookie)."""
    return issue_staff_token(subject=subject, role=role, branches=branches)


def bearer(role: str, branches: list[str], subject: str) -> dict[str, str]:
    """``Authorization`` header of a staff token."""
    return {"Authorization": f"Bearer {token(role, branches, subject)}"}


@dataclass
class Branch:
    """A branch set up through the APIs: a counter, a kiosk, one recycler device."""

    branch_id: str
    counter_id: str
    kiosk: dict[str, str]
    device_id: str


@dataclass
class Platform:
    """Ticketing and selfservice as processes, with helpers to set up branches."""

    ticketing: ServiceProcess
    selfservice: ServiceProcess
    branches: list[Branch] = field(default_factory=list)

    @property
    def origins(self) -> set[str]:
        """The platform's origins."""
        return {self.ticketing.url, self.selfservice.url}

    def branch(self, name: str, *, language: str = "en") -> Branch:
        """Set up a branch open around the clock with counter ``<id>-c1`` (cash and
        payments), kiosk ``<id>-k1`` and a cash recycler ``<id>-atm1`` (one heartbeat)."""
        branch_id = f"b{uuid.uuid4().hex[:8]}"
        ops = bearer("operations", [branch_id], "ops-1")
        t = httpx.Client(base_url=self.ticketing.url, timeout=15)
        body = {
            "name": name,
            "time_zone": "Europe/Prague",
            "opening_hours": [{"weekday": d, "opens": "00:00", "closes": "23:59"} for d in range(7)],
            "zones": [{"zone": "cash", "name": "Cash"}, {"zone": "non_cash", "name": "Service"}],
            "services": ["cash_withdrawal", "transfer", "account_opening"],
            "language": language,
        }
        r = t.put(f"/v1/branches/{branch_id}", json=body, headers=ops)
        assert r.status_code == 200, r.text
        counter = f"{branch_id}-c1"
        r = t.put(f"/v1/branches/{branch_id}/counters/{counter}", json={"name": "Counter 1", "kind": "cash", "zone": "cash", "skills": ["cash", "payments", "advice"]}, headers=ops)
        assert r.status_code == 200, r.text
        r = t.put(f"/v1/branches/{branch_id}/kiosks/{branch_id}-k1", json={"secret": KIOSK_SECRET}, headers=ops)
        assert r.status_code in (200, 201), r.text
        device_id = f"{branch_id}-atm1"
        s = httpx.Client(base_url=self.selfservice.url, timeout=15)
        reg = {
            "device_id": device_id, "branch_id": branch_id, "zone": "self_service", "kind": "cash_recycler", "accessible": True,
            "capabilities": {"service_types": ["cash_withdrawal", "cash_deposit"], "max_amount": {"CZK": "20000"}, "denominations": ["100"], "currencies": ["CZK"]},
            "time_zone": "Europe/Prague",
            "cash_units": [{"unit_id": "C1", "currency": "CZK", "denomination": "100", "capacity": 2000, "low_threshold": 100, "full_threshold": 1900, "count": 1200}],
        }
        r = s.post("/v1/devices", json=reg, headers=ops)
        assert r.status_code == 201, r.text
        dev = {"Authorization": f"Bearer {device_id}:{r.json()['secret']}"}
        r = s.post("/v1/device/heartbeats", json={"status": "online", "sent_at": datetime.now(UTC).isoformat(), "cash_units": [{"unit_id": "C1", "count": 1200}]}, headers=dev)
        assert r.status_code == 200, r.text
        r = s.post("/v1/device/transactions", json={"transaction_id": uuid.uuid4().hex, "kind": "withdrawal", "amount": "2000", "currency": "CZK", "notes": [{"unit_id": "C1", "count": 20}], "occurred_at": datetime.now(UTC).isoformat()}, headers=dev)
        assert r.status_code in (200, 201), r.text
        b = Branch(branch_id, counter, {"Authorization": f"Bearer {branch_id}-k1:{KIOSK_SECRET}"}, device_id)
        self.branches.append(b)
        return b

    def kiosk_ticket(self, branch: Branch, service_type: str = "transfer", **extra: Any) -> dict[str, Any]:
        """A ticket taken at the branch's kiosk through the API."""
        r = httpx.post(f"{self.ticketing.url}/v1/kiosk/service-requests", json={"service_type": service_type, **extra}, headers=branch.kiosk, timeout=15)
        assert r.status_code == 201 and r.json()["kind"] == "ticket", r.text
        return r.json()["ticket"]


@pytest.fixture(scope="package")
def platform(infrastructure: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """Ticketing and selfservice processes on their own databases, topics and Redis
    prefix, with the development sign-in on and a fast lobby refresh."""
    import counterflow_selfservice
    import counterflow_ticketing

    from counterflow_testkit import fresh_topic_prefix

    logs = tmp_path_factory.mktemp("browser-services")
    prefix_gen = fresh_topic_prefix(infrastructure)
    topic_prefix = next(prefix_gen)
    redis_prefix = f"test:browser:{uuid.uuid4().hex[:8]}:"
    t_db, t_url = migrated_database(Path(counterflow_ticketing.__file__).parent, "browser_ticketing")
    s_db, s_url = migrated_database(Path(counterflow_selfservice.__file__).parent, "browser_selfservice")
    common = {"SESSION_SECRET": SECRET, "TOPIC_PREFIX": topic_prefix, "REDIS_PREFIX": redis_prefix, "DEV_SIGN_IN": "true", "LOG_JSON": "false", "LOG_LEVEL": "WARNING"}
    ticketing = ServiceProcess("counterflow_ticketing", {**{f"CF_TICKETING_{k}": v for k, v in common.items()}, "CF_TICKETING_DATABASE_URL": t_url, "CF_TICKETING_LOBBY_REFRESH_S": "0.3", "CF_TICKETING_LOAD_CHECK_INTERVAL_S": "0.5"}, port_env="CF_TICKETING_HTTP_PORT", log_path=logs / "ticketing.log")
    selfservice = ServiceProcess("counterflow_selfservice", {**{f"CF_SELFSERVICE_{k}": v for k, v in common.items()}, "CF_SELFSERVICE_DATABASE_URL": s_url, "CF_SELFSERVICE_REDIS_PREFIX": redis_prefix + "ss:"}, port_env="CF_SELFSERVICE_HTTP_PORT", log_path=logs / "selfservice.log")
    ticketing.env["CF_TICKETING_SELFSERVICE_PAGE_URL"] = selfservice.url
    selfservice.env["CF_SELFSERVICE_TICKETING_PAGE_URL"] = ticketing.url
    try:
        ticketing.start(timeout_s=180)
        selfservice.start(timeout_s=180)
        yield Platform(ticketing, selfservice)
    finally:
        codes = {"ticketing": ticketing.stop(), "selfservice": selfservice.stop()}
        drop_database(t_db)
        drop_database(s_db)
        _in_thread(asyncio.run, delete_redis_prefix(infrastructure.redis_url, redis_prefix))
        next(prefix_gen, None)
        assert all(c in (0, -15, None) for c in codes.values()), codes


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    """Debian's headless Chromium driven by Playwright (Playwright gives every launch a
    fresh temporary profile, the ``--user-data-dir`` it manages itself).

    Package scope: Playwright's sync API keeps an event loop running in the main thread
    while it is open, so every later test that calls ``asyncio.run`` would fail; it is
    closed when the browser tests are done."""
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists() or shutil.which(CHROMIUM), f"{CHROMIUM} missing: deploy/local/test.sh installs Debian's chromium"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def sign_in(browser: Any, platform: Platform, base_url: str, *, role: str, branches: str, subject: str, lang: str = "en", width: int = 1280, height: int = 800) -> Any:
    """A new browser context signed in through the page's development sign-in form; returns the page."""
    ctx = browser.new_context(viewport={"width": width, "height": height}, locale="en-GB")
    page = ctx.new_page()
    page.goto(f"{base_url}/signin")
    page.select_option("#role", role)
    page.fill("#subject", subject)
    page.fill("#branches", branches)
    page.select_option("#lang", lang)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    return page


def screenshot(page: Any, name: str) -> None:
    """Save a screenshot of ``page`` as ``<CF_SCREENSHOTS_DIR>/<name>.png`` when that
    variable is set (``make screenshots`` points it at docs/screenshots)."""
    out = os.environ.get("CF_SCREENSHOTS_DIR")
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(out) / f"{name}.png"))
