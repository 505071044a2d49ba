"""A tour of every page with a branch in business: no page asks anything of a host
outside the platform (the browser's network log), none scrolls sideways at 1280x800
or 1024x768, and each is photographed for docs/screenshots when ``CF_SCREENSHOTS_DIR``
is set (``make screenshots``)."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from .conftest import Platform, bearer, screenshot, sign_in

DEFAULT_YAML = (Path(__file__).resolve().parents[2] / "deploy" / "config" / "rulesets" / "default.yaml").read_text()
SIZES = {"1280x800": (1280, 800), "1024x768": (1024, 768)}


def _busy_branch(platform: Platform) -> tuple[object, str]:
    b = platform.branch("Prague Old Town")
    ops = bearer("operations", [b.branch_id], "ops-1")
    t = httpx.Client(base_url=platform.ticketing.url, timeout=15)
    c2 = f"{b.branch_id}-c2"
    assert t.put(f"/v1/branches/{b.branch_id}/counters/{c2}", json={"name": "Counter 2", "kind": "cash", "zone": "non_cash", "skills": ["payments", "accounts"]}, headers=ops).status_code == 200
    teller1, teller2 = bearer("teller", [b.branch_id], "teller-jana"), bearer("teller", [b.branch_id], "teller-petr")
    assert t.post(f"/v1/counters/{b.counter_id}/session/open", headers=teller1).status_code == 201
    assert t.post(f"/v1/counters/{c2}/session/open", headers=teller2).status_code == 201
    for service in ("transfer", "cash_withdrawal", "transfer", "account_opening", "cash_withdrawal", "transfer"):
        platform.kiosk_ticket(b, service)
    called = t.post(f"/v1/counters/{b.counter_id}/call-next", headers=teller1).json()["ticket"]
    t.post(f"/v1/counters/{b.counter_id}/tickets/{called['ticket_id']}/start", headers=teller1)
    t.post(f"/v1/counters/{c2}/call-next", headers=teller2)
    manager = bearer("lobby_manager", [b.branch_id], "manager-eva")
    waiting = t.get(f"/v1/branches/{b.branch_id}/queue", headers=manager).json()["waiting"]
    last = waiting[-1]
    r = t.post(f"/v1/branches/{b.branch_id}/tickets/{last['ticket_id']}/priority", json={"priority": 4, "reason": "pregnant customer"}, headers=manager)
    assert r.status_code == 200, r.text
    return b, c2


def test_every_page_stays_on_the_platform_fits_both_screens_and_is_photographed(platform: Platform, browser) -> None:
    b, _c2 = _busy_branch(platform)
    maker = sign_in(browser, platform, platform.ticketing.url, role="operations", branches="*", subject="carol")
    maker.goto(f"{platform.ticketing.url}/rules")
    maker.fill("#yaml", DEFAULT_YAML)
    maker.click("#propose button[type=submit]")
    maker.wait_for_url(re.compile(r".*/rules/\d+$"))
    version = maker.url.rsplit("/", 1)[1]
    maker.context.close()

    t, s = platform.ticketing.url, platform.selfservice.url
    tours = [
        # (name, base url, role, branches, path, language)
        ("signin", t, None, None, "/signin", "en"),
        ("lobby-console", t, "lobby_manager", b.branch_id, f"/branches/{b.branch_id}/lobby", "en"),
        ("lobby-console-zh", t, "lobby_manager", b.branch_id, f"/branches/{b.branch_id}/lobby", "zh_CN"),
        ("calling-display", t, None, None, f"/branches/{b.branch_id}/display", "en"),
        ("teller-workstation", t, "teller", b.branch_id, f"/counters/{b.counter_id}/workstation", "en"),
        ("rules", t, "approver", "*", "/rules", "en"),
        ("rule-version", t, "approver", "*", f"/rules/{version}", "en"),
        ("fleet", s, "lobby_manager", b.branch_id, f"/branches/{b.branch_id}/fleet", "en"),
        ("swagger-ticketing", t, None, None, "/docs", "en"),
        ("swagger-selfservice", s, None, None, "/docs", "en"),
    ]
    outside: list[str] = []
    too_wide: list[str] = []
    for name, base, role, branches, path, lang in tours:
        for size, (w, h) in SIZES.items():
            if role:
                page = sign_in(browser, platform, base, role=role, branches=branches, subject=f"{role}-tour", lang=lang, width=w, height=h)
            else:
                page = browser.new_context(viewport={"width": w, "height": h}).new_page()
            page.on("request", lambda req: outside.append(req.url) if urlsplit(req.url).scheme not in ("data", "blob") and f"{urlsplit(req.url).scheme}://{urlsplit(req.url).netloc}" not in platform.origins else None)
            response = page.goto(base + path)
            assert response is not None and response.status == 200, (name, response and response.status)
            if name.startswith("swagger"):
                page.wait_for_selector(".swagger-ui .opblock", timeout=20000)  # rendered from the vendored bundle
            elif name in ("lobby-console", "lobby-console-zh", "fleet", "teller-workstation", "calling-display"):
                page.wait_for_selector("#live.on", timeout=10000)
            if name == "calling-display":
                page.wait_for_function("() => document.getElementById('now-number').textContent !== '—'", timeout=10000)
            if name == "rule-version":
                page.click("#diff button[type=submit]")
                page.wait_for_selector("#diff-result table")
            page.wait_for_timeout(300)
            if page.evaluate("() => document.documentElement.scrollWidth > window.innerWidth + 1"):
                too_wide.append(f"{name}@{size}")
            screenshot(page, name if size == "1280x800" else f"{name}-{size}")
            page.context.close()
    assert outside == [], f"requests outside the platform: {outside}"
    assert too_wide == [], f"pages wider than the screen: {too_wide}"
