"""The branch pages in headless Chromium against the real services (ticketing and
selfservice processes on Kafka, PostgreSQL and Redis)."""

from __future__ import annotations

import time

import httpx

from .conftest import Platform, bearer, sign_in


def test_a_kiosk_ticket_appears_on_the_lobby_console_within_2_s(platform: Platform, browser) -> None:
    b = platform.branch("Wenceslas Square")
    page = sign_in(browser, platform, platform.ticketing.url, role="lobby_manager", branches=b.branch_id, subject="manager-1")
    page.goto(f"{platform.ticketing.url}/branches/{b.branch_id}/lobby")
    page.wait_for_selector("#live.on")
    ticket = platform.kiosk_ticket(b, "transfer")
    issued = time.monotonic()  # the kiosk has its answer: the ticket exists from here on
    row = page.wait_for_selector(f'#waiting tr[data-number="{ticket["number"]}"]', timeout=2000)
    elapsed = time.monotonic() - issued
    assert elapsed < 2.0, f"the ticket took {elapsed:.2f} s to reach the console"
    cells = row.query_selector_all("td")
    assert cells[2].inner_text() == "1"  # its position
    assert page.inner_text("#k-waiting") == "1"
    # the device registered at selfservice reached the console through selfservice.devices.v1
    page.wait_for_selector(f"#devices >> text={b.device_id} (cash_recycler)", timeout=15000)
    page.context.close()


def test_the_teller_calls_the_ticket_and_the_calling_display_shows_its_number(platform: Platform, browser) -> None:
    b = platform.branch("Karlin")
    display = browser.new_page(viewport={"width": 1280, "height": 800})
    display.goto(f"{platform.ticketing.url}/branches/{b.branch_id}/display")
    display.wait_for_selector("#live.on")
    teller = sign_in(browser, platform, platform.ticketing.url, role="teller", branches=b.branch_id, subject="teller-7")
    teller.goto(f"{platform.ticketing.url}/counters/{b.counter_id}/workstation")
    teller.click('[data-session="open"]')
    teller.wait_for_function("() => document.getElementById('session-state').className.includes('open')")
    ticket = platform.kiosk_ticket(b, "transfer")
    teller.wait_for_selector(f'#ws-waiting tr[data-number="{ticket["number"]}"]', timeout=5000)
    teller.click("#call-next")
    teller.wait_for_function(f"() => document.getElementById('cur-number').textContent === '{ticket['number']}'", timeout=5000)
    assert teller.inner_text("#cur-customer") == "walk-in"
    display.wait_for_function(f"() => document.getElementById('now-number').textContent === '{ticket['number']}'", timeout=5000)
    assert "Counter 1" in display.inner_text("#now-counter")
    # finish with an outcome: the counter is free again
    teller.click('[data-ticket-act="start"]')
    teller.wait_for_function("() => document.getElementById('cur-status').className.includes('serving')", timeout=5000)
    teller.select_option("#finish select[name=outcome]", "completed")
    teller.click("#finish button[type=submit]")
    teller.wait_for_selector("#current-empty:not([hidden])", timeout=5000)
    display.close()
    teller.context.close()


def test_the_calling_display_stream_catches_up_with_last_event_id(platform: Platform) -> None:
    b = platform.branch("Smichov")
    teller = bearer("teller", [b.branch_id], "teller-8")
    t = httpx.Client(base_url=platform.ticketing.url, timeout=15)
    assert t.post(f"/v1/counters/{b.counter_id}/session/open", headers=teller).status_code == 201
    numbers = []
    for _ in range(3):
        numbers.append(platform.kiosk_ticket(b, "transfer")["number"])
    for _ in range(3):
        r = t.post(f"/v1/counters/{b.counter_id}/call-next", headers=teller)
        assert r.status_code == 200, r.text
        ticket_id = r.json()["ticket"]["ticket_id"]
        assert t.post(f"/v1/counters/{b.counter_id}/tickets/{ticket_id}/start", headers=teller).status_code == 200
        assert t.post(f"/v1/counters/{b.counter_id}/tickets/{ticket_id}/finish", json={"outcome": "completed"}, headers=teller).status_code == 200

    def events(headers: dict[str, str], url: str, n: int) -> list[tuple[str, str]]:
        got, current = [], None
        with httpx.stream("GET", f"{platform.ticketing.url}{url}", headers=headers, timeout=10) as r:
            for line in r.iter_lines():
                if line.startswith("id:"):
                    current = line[3:].strip()
                if line.startswith("data:"):
                    got.append((current, line))
                    if len(got) == n:
                        return got
        return got

    backlog = events({}, f"/v1/branches/{b.branch_id}/display/stream?backlog=6", 3)
    assert [n for n in numbers if any(n in d for _, d in backlog)] == numbers
    first_id = backlog[0][0]
    caught_up = events({"Last-Event-ID": first_id}, f"/v1/branches/{b.branch_id}/display/stream", 2)
    assert [i for i, _ in caught_up] == [i for i, _ in backlog[1:]]


def test_staff_of_branch_a_get_403_for_branch_b(platform: Platform, browser) -> None:
    a, b = platform.branch("Branch A"), platform.branch("Branch B")
    page = sign_in(browser, platform, platform.ticketing.url, role="lobby_manager", branches=a.branch_id, subject="manager-a")
    assert page.goto(f"{platform.ticketing.url}/branches/{a.branch_id}/lobby").status == 200
    assert page.goto(f"{platform.ticketing.url}/branches/{b.branch_id}/lobby").status == 403
    assert page.goto(f"{platform.ticketing.url}/counters/{b.counter_id}/workstation").status == 403
    assert page.goto(f"{platform.ticketing.url}/branches/nowhere/lobby").status in (403, 404)
    assert page.request.get(f"{platform.ticketing.url}/v1/branches/{b.branch_id}/queue").status == 403
    assert page.request.get(f"{platform.ticketing.url}/v1/branches/{a.branch_id}/queue").status == 200
    fleet = sign_in(browser, platform, platform.selfservice.url, role="lobby_manager", branches=a.branch_id, subject="manager-a")
    assert fleet.goto(f"{platform.selfservice.url}/branches/{a.branch_id}/fleet").status == 200
    fleet.wait_for_selector(f'#devices tr[data-device="{a.device_id}"]')
    assert fleet.goto(f"{platform.selfservice.url}/branches/{b.branch_id}/fleet").status == 403
    assert fleet.request.get(f"{platform.selfservice.url}/v1/branches/{b.branch_id}/devices").status == 403
    page.context.close()
    fleet.context.close()


def test_a_kiosk_credential_opens_no_staff_page(platform: Platform, browser) -> None:
    b = platform.branch("Kiosk only")
    ctx = browser.new_context()
    page = ctx.new_page()
    page.goto(f"{platform.ticketing.url}/signin")
    page.fill("#token", b.kiosk["Authorization"].removeprefix("Bearer "))
    page.fill("#branches", "")
    with page.expect_response(lambda r: r.url.endswith("/signin") and r.request.method == "POST") as answer:
        page.click("button[type=submit]")
    assert answer.value.status == 401
    assert "not a valid staff token" in page.inner_text(".error")
    ctx.add_cookies([{"name": "cf_staff", "value": b.kiosk["Authorization"].removeprefix("Bearer "), "url": platform.ticketing.url}])
    page.goto(f"{platform.ticketing.url}/branches/{b.branch_id}/lobby")
    assert "/signin" in page.url
    r = httpx.get(f"{platform.ticketing.url}/v1/branches/{b.branch_id}/queue", headers=b.kiosk)
    assert r.status_code == 403
    ctx.close()


def test_the_session_is_an_httponly_strict_cookie_and_changes_need_the_csrf_token(platform: Platform, browser) -> None:
    b = platform.branch("Cookies")
    ticket = platform.kiosk_ticket(b, "transfer")
    page = sign_in(browser, platform, platform.ticketing.url, role="lobby_manager", branches=b.branch_id, subject="manager-c")
    page.goto(f"{platform.ticketing.url}/branches/{b.branch_id}/lobby")
    cookie = next(c for c in page.context.cookies() if c["name"] == "cf_staff")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and not cookie["secure"]  # Secure outside localhost: shared/tests
    assert "cf_staff" not in page.evaluate("document.cookie")
    url = f"/v1/branches/{b.branch_id}/tickets/{ticket['ticket_id']}/divert"
    assert page.evaluate(f"fetch('{url}', {{method: 'POST'}}).then(r => r.status)") == 403
    assert page.evaluate(f"fetch('{url}', {{method: 'POST', headers: {{'X-CSRF-Token': 'forged'}}}}).then(r => r.status)") == 403
    assert page.evaluate(f"CF.api('POST', '{url}').then(() => 200, p => p.status)") == 200
    # the sign-out form carries the token too
    assert page.request.post(f"{platform.ticketing.url}/signout", form={"csrf_token": "forged"}).status == 403
    page.context.close()


def test_the_lobby_console_works_by_keyboard_and_audits_a_priority_raise(platform: Platform, browser) -> None:
    b = platform.branch("Keyboard")
    first = platform.kiosk_ticket(b, "transfer")
    second = platform.kiosk_ticket(b, "transfer")
    page = sign_in(browser, platform, platform.ticketing.url, role="lobby_manager", branches=b.branch_id, subject="manager-k", width=1024, height=768)
    page.goto(f"{platform.ticketing.url}/branches/{b.branch_id}/lobby")
    page.wait_for_selector("#live.on")
    for _ in range(200):  # Tab through the page to the second ticket's "Raise priority"
        page.keyboard.press("Tab")
        if page.evaluate(f"document.activeElement.dataset.act === 'priority' && document.activeElement.dataset.number === '{second['number']}'"):
            break
    else:
        raise AssertionError("Raise priority was not reachable by Tab")
    page.keyboard.press("Enter")
    page.wait_for_selector("#act[open]")
    page.keyboard.press("Tab")  # from the priority number to the reason
    page.keyboard.type("customer feels unwell")
    page.keyboard.press("Enter")
    page.wait_for_selector("#act", state="hidden")
    row = page.wait_for_selector(f'#waiting tr[data-number="{second["number"]}"]:has-text("customer feels unwell")', timeout=5000)
    assert row.query_selector_all("td")[2].inner_text() == "1"  # it moved ahead of the first ticket
    assert "manager-k" in row.inner_text()
    order = page.eval_on_selector_all("#waiting tr", "rows => rows.map(r => r.dataset.number)")
    assert order == [second["number"], first["number"]]
    page.context.close()


def test_texts_follow_the_user_then_the_branch_language(platform: Platform, browser) -> None:
    b = platform.branch("Shanghai Lujiazui", language="zh_CN")
    display = browser.new_page()
    display.goto(f"{platform.ticketing.url}/branches/{b.branch_id}/display")
    assert display.inner_text(".now .label") == "正在办理"  # the branch's language
    assert display.get_attribute("#display", "data-speech-lang") == "zh-CN"
    display.close()
    page = sign_in(browser, platform, platform.ticketing.url, role="lobby_manager", branches=b.branch_id, subject="manager-z", lang="en")
    page.goto(f"{platform.ticketing.url}/branches/{b.branch_id}/lobby")
    assert page.inner_text("h1").startswith("Lobby console")  # the user's choice wins
    page.click("text=简体中文")
    page.wait_for_load_state()
    assert page.inner_text("h1").startswith("大堂控制台")
    page.context.close()
