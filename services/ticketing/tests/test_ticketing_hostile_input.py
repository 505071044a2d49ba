"""Ticketing against hostile input (issue 16): branch-owned ids stay with their branch,
a re-keyed kiosk's old secret stops at once, money is never rounded, integers and dates
out of their columns' range are 422, and a token the service cannot verify is a 401."""

from __future__ import annotations

import asyncio
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from .conftest import KIOSK_SECRET, make_branch, take_ticket


async def test_an_operations_user_of_one_branch_cannot_take_over_anothers_kiosk_or_counter(service):
    a, b = await make_branch(service), await make_branch(service)
    b_kiosk = b.kiosk["Authorization"].split()[1].split(":")[0]
    for kind, ident, body in (("kiosks", b_kiosk, {"secret": "another-secret-0123456789"}), ("counters", b.counters[0], {"name": "Mine", "kind": "cash", "zone": "cash", "skills": ["cash"]})):
        r = await service.client.put(f"/v1/branches/{a.branch_id}/{kind}/{ident}", json=body, headers=a.ops)
        assert r.status_code == 422, r.text
        assert r.json()["errors"][0]["field"] == ("path.kiosk_id" if kind == "kiosks" else "path.counter_id")
    # B's kiosk still works with B's secret, and still belongs to B
    r = await service.client.post("/v1/kiosk/service-requests", json={"service_type": "cash_withdrawal"}, headers=b.kiosk)
    assert r.status_code == 201, r.text
    counter = (await service.client.get(f"/v1/branches/{b.branch_id}", headers=b.ops)).json()
    assert b.counters[0] in str(counter)


async def test_two_branches_racing_for_a_new_kiosk_id_cannot_both_own_it(service):
    a, b = await make_branch(service), await make_branch(service)
    kiosk_id = f"k-{uuid.uuid4().hex[:8]}"
    results = await asyncio.gather(*(service.client.put(f"/v1/branches/{x.branch_id}/kiosks/{kiosk_id}", json={"secret": f"secret-of-{x.branch_id}"}, headers=x.ops) for x in (a, b)))
    assert sorted(r.status_code for r in results) == [200, 422]
    winner = a if results[0].status_code == 200 else b
    r = await service.client.post("/v1/kiosk/service-requests", json={"service_type": "cash_withdrawal"}, headers={"Authorization": f"Bearer {kiosk_id}:secret-of-{winner.branch_id}"})
    assert r.status_code == 201 and r.json()["ticket"]["branch_id"] == winner.branch_id


async def test_re_keying_a_kiosk_revokes_the_old_secret_at_once(service):
    branch = await make_branch(service)
    kiosk_id = branch.kiosk["Authorization"].split()[1].split(":")[0]
    assert (await service.client.get("/v1/kiosk/tickets/none", headers=branch.kiosk)).status_code == 404  # verified (and memoised)
    new_secret = "re-keyed-secret-0123456789"
    r = await service.client.put(f"/v1/branches/{branch.branch_id}/kiosks/{kiosk_id}", json={"secret": new_secret}, headers=branch.ops)
    assert r.status_code == 200, r.text
    assert (await service.client.get("/v1/kiosk/tickets/none", headers=branch.kiosk)).status_code == 401
    assert (await service.client.get("/v1/kiosk/tickets/none", headers={"Authorization": f"Bearer {kiosk_id}:{new_secret}"})).status_code == 404
    assert KIOSK_SECRET not in new_secret


@pytest.mark.parametrize(
    ("amount", "currency"),
    [("0.123456", "CZK"), ("0.005", "CZK"), ("0.5", "JPY"), ("12345678901234567.89", "CZK"), ("1E+16", "CZK"), ("1E+20", "CZK"), ("99999999999999999", "CZK"), ("1E+200000", "CZK"), ("1_000", "CZK"), ("٣", "CZK")],
)
async def test_a_kiosk_amount_that_does_not_fit_is_422_naming_the_field_never_rounded(service, amount, currency):
    branch = await make_branch(service)
    r = await service.client.post("/v1/kiosk/service-requests", json={"service_type": "cash_withdrawal", "amount": amount, "currency": currency}, headers=branch.kiosk)
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == "body.amount"
    # the connection is still good: the next request on the same client is answered
    r = await service.client.post("/v1/kiosk/service-requests", json={"service_type": "cash_withdrawal", "amount": "1500.50", "currency": "CZK"}, headers=branch.kiosk)
    assert r.status_code == 201, r.text


@pytest.mark.parametrize("path", ["/v1/rules/sets/{v}", "/v1/rules/sets/{v}/diff", "/v1/rules/sets/{v}/audit"])
@pytest.mark.parametrize("version", ["2147483648", "99999999999999999999", "0", "-1"])
async def test_rule_set_versions_outside_the_integer_column_are_422(service, path, version):
    headers = service.staff("analyst", ["*"])
    r = await service.client.get(path.format(v=version), headers=headers)
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == "path.version"
    r = await service.client.post(f"/v1/rules/sets/{version}/what-if", json={"records": []}, headers=headers)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "path.version"
    r = await service.client.get("/v1/rules/sets/1/diff", params={"against": "2147483648"}, headers=headers)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "query.against"


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31"])
async def test_a_schedule_day_outside_the_calendar_is_422(service, day):
    branch = await make_branch(service)
    r = await service.client.get(f"/v1/branches/{branch.branch_id}/schedule", params={"date": day}, headers=branch.ops)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "query.date", r.text


async def test_a_counter_skill_with_a_nul_is_refused_and_call_next_keeps_working(service):
    branch = await make_branch(service)
    r = await service.client.put(f"/v1/branches/{branch.branch_id}/counters/{branch.counters[0]}", json={"name": "C", "kind": "cash", "zone": "cash", "skills": ["x\u0000y"]}, headers=branch.ops)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.skills.0"
    r = await service.client.post(f"/v1/counters/{branch.counters[0]}/call-next", headers=branch.teller)
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("algorithm", ["ES256", "RS256"])
async def test_an_asymmetric_token_on_staff_endpoints_is_401(service, algorithm):
    key = ec.generate_private_key(ec.SECP256R1()) if algorithm == "ES256" else rsa.generate_private_key(public_exponent=65537, key_size=2048)
    s = service.settings
    token = jwt.encode({"iss": s.jwt_issuer, "aud": s.jwt_audience, "sub": "c1", "role": "admin", "branches": ["*"], "exp": 4_000_000_000}, key, algorithm=algorithm)
    for path in ("/v1/branches", "/v1/service-types", "/v1/rules/sets"):
        r = await service.client.get(path, headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json", r.text


async def test_a_kiosk_request_with_100000_needs_is_refused_before_it_is_read(service):
    branch = await make_branch(service)
    r = await service.client.post("/v1/kiosk/service-requests", json={"service_type": "cash_withdrawal", "needs": ["elderly"] * 100_000}, headers=branch.kiosk)
    assert r.status_code == 413 and r.headers["content-type"] == "application/problem+json"
    r = await service.client.post("/v1/kiosk/service-requests", json={"service_type": "cash_withdrawal", "needs": ["elderly"] * 4}, headers=branch.kiosk)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.needs"


async def test_no_write_route_reaches_a_ticket_counter_or_kiosk_of_another_branch(service):
    """Every write route of ticketing that takes a branch-owned id, called by branch A's
    staff (an admin token covering A only, so no role check stops it first) or A's kiosk
    with B's ids: refused, and B's ticket, counter and kiosk are as they were."""
    a, b = await make_branch(service), await make_branch(service)
    b_ticket = await take_ticket(service, b)
    b_kiosk = b.kiosk["Authorization"].split()[1].split(":")[0]
    a_staff = service.staff("admin", [a.branch_id])
    before = (await service.client.get(f"/v1/branches/{b.branch_id}/tickets/{b_ticket['ticket_id']}", headers=b.lobby)).json()
    t, ac, bc = b_ticket["ticket_id"], a.counters[0], b.counters[0]
    attempts = [
        *(("POST", f"/v1/counters/{ac}/tickets/{t}/{op}", a_staff, None) for op in ("call", "recall", "start", "no-show", "finish")),
        ("POST", f"/v1/counters/{ac}/tickets/{t}/transfer", a_staff, {"position": "front"}),
        *(("POST", f"/v1/counters/{bc}/{op}", a_staff, None) for op in ("session/open", "session/pause", "session/resume", "session/close", "call-next")),
        *(("POST", f"/v1/counters/{bc}/tickets/{t}/{op}", a_staff, None) for op in ("call", "recall", "start", "no-show", "finish")),
        *(("POST", f"/v1/branches/{a.branch_id}/tickets/{t}/{op}", a_staff, None) for op in ("cancel", "divert")),
        ("POST", f"/v1/branches/{a.branch_id}/tickets/{t}/transfer", a_staff, {"position": "front"}),
        ("POST", f"/v1/kiosk/tickets/{t}/cancel", a.kiosk, None),
        ("PUT", f"/v1/branches/{a.branch_id}/counters/{bc}", a_staff, {"name": "Mine", "kind": "cash", "zone": "cash", "skills": ["cash"]}),
        ("PUT", f"/v1/branches/{a.branch_id}/kiosks/{b_kiosk}", a_staff, {"secret": "takeover-secret-0123456789"}),
    ]
    a_ticket = await take_ticket(service, a)
    attempts.append(("POST", f"/v1/counters/{ac}/tickets/{a_ticket['ticket_id']}/transfer", a_staff, {"counter_id": bc}))
    for method, url, headers, body in attempts:
        r = await service.client.request(method, url, headers=headers, json=body)
        assert r.status_code in (403, 404, 409, 422), (method, url, r.status_code, r.text)
        assert r.status_code != 500
    after = (await service.client.get(f"/v1/branches/{b.branch_id}/tickets/{b_ticket['ticket_id']}", headers=b.lobby)).json()
    assert (after["status"], after.get("position")) == (before["status"], before.get("position"))
    r = await service.client.post("/v1/kiosk/service-requests", json={"service_type": "cash_withdrawal"}, headers=b.kiosk)
    assert r.status_code == 201 and r.json()["ticket"]["branch_id"] == b.branch_id
