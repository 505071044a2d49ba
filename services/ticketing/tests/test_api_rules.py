"""API contract: Idempotency-Key replay and mismatch, authentication and roles,
problem+json naming the field."""

from __future__ import annotations

from .conftest import Service, make_branch, take_ticket

PROBLEM = "application/problem+json"


async def test_idempotency_key_replay_returns_the_same_ticket(service: Service) -> None:
    branch = await make_branch(service)
    headers = {**branch.kiosk, "Idempotency-Key": "kiosk-press-1"}
    body = {"service_type": "cash_withdrawal"}
    first = await service.client.post("/v1/kiosk/service-requests", json=body, headers=headers)
    again = await service.client.post("/v1/kiosk/service-requests", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers.get("idempotent-replayed") == "true"
    assert (await take_ticket(service, branch))["number"] == "A002"  # the replay used no number


async def test_idempotency_key_with_another_body_is_422(service: Service) -> None:
    branch = await make_branch(service)
    headers = {**branch.kiosk, "Idempotency-Key": "kiosk-press-2"}
    await service.client.post("/v1/kiosk/service-requests", json={"service_type": "cash_withdrawal"}, headers=headers)
    r = await service.client.post("/v1/kiosk/service-requests", json={"service_type": "transfer"}, headers=headers)
    assert r.status_code == 422
    assert r.headers["content-type"].startswith(PROBLEM)
    assert r.json()["type"].endswith("/idempotency-key-reused")
    assert r.json()["errors"][0]["field"] == "header.Idempotency-Key"


async def test_a_kiosk_cannot_call_teller_endpoints(service: Service) -> None:
    branch = await make_branch(service)
    r = await service.client.post(f"/v1/counters/{branch.counters[0]}/call-next", headers=branch.kiosk)
    assert r.status_code == 403 and r.headers["content-type"].startswith(PROBLEM)


async def test_staff_of_one_branch_cannot_act_on_another(service: Service) -> None:
    mine = await make_branch(service)
    theirs = await make_branch(service)
    r = await service.client.post(f"/v1/counters/{theirs.counters[0]}/call-next", headers=mine.teller)
    assert r.status_code == 403 and r.json()["type"].endswith("/forbidden-branch")
    r = await service.client.put(f"/v1/branches/{theirs.branch_id}/counters/x", json={"name": "x", "kind": "cash", "zone": "cash", "skills": ["cash"]}, headers=mine.ops)
    assert r.status_code == 403
    r = await service.client.get(f"/v1/kiosk/tickets/{(await take_ticket(service, theirs))['ticket_id']}", headers=mine.kiosk)
    assert r.status_code == 404  # a kiosk sees only its branch's tickets


async def test_a_teller_cannot_change_branch_set_up(service: Service) -> None:
    branch = await make_branch(service)
    r = await service.client.put(f"/v1/branches/{branch.branch_id}/kiosks/k9", json={"secret": "x" * 20}, headers=branch.teller)
    assert r.status_code == 403


async def test_missing_or_wrong_credentials_are_401(service: Service) -> None:
    branch = await make_branch(service)
    assert (await service.client.post("/v1/kiosk/service-requests", json={"service_type": "cash_withdrawal"})).status_code == 401
    bad = {"Authorization": branch.kiosk["Authorization"][:-2] + "zz"}
    assert (await service.client.post("/v1/kiosk/service-requests", json={"service_type": "cash_withdrawal"}, headers=bad)).status_code == 401
    assert (await service.client.post(f"/v1/counters/{branch.counters[0]}/call-next")).status_code == 401


async def test_bad_input_names_the_field_and_writes_nothing(service: Service) -> None:
    branch = await make_branch(service)
    r = await service.client.post("/v1/kiosk/service-requests", json={"service_type": "loan_consultation"}, headers=branch.kiosk)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.service_type"
    r = await service.client.post("/v1/kiosk/service-requests", json={"service_type": "cash_withdrawal", "amount": 12.5, "currency": "CZK"}, headers=branch.kiosk)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.amount"
    r = await service.client.post("/v1/kiosk/service-requests", json={"service_type": "cash_withdrawal", "amount": "2000"}, headers=branch.kiosk)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.currency"
    r = await service.client.post("/v1/kiosk/service-requests", json={"service_type": "cash_withdrawal", "colour": "red"}, headers=branch.kiosk)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.colour"
    assert (await take_ticket(service, branch))["number"] == "A001"


async def test_basic_auth_works_for_kiosks(service: Service) -> None:
    import base64

    branch = await make_branch(service)
    creds = branch.kiosk["Authorization"].removeprefix("Bearer ")
    basic = {"Authorization": "Basic " + base64.b64encode(creds.encode()).decode()}
    r = await service.client.post("/v1/kiosk/service-requests", json={"service_type": "cash_withdrawal", "amount": "2000.00", "currency": "CZK"}, headers=basic)
    assert r.status_code == 201 and r.json()["ticket"]["number"] == "A001"


async def test_kiosk_rate_limit_is_a_429_problem(service: Service) -> None:
    branch = await make_branch(service)
    settings = service.runtime.settings
    saved = settings.kiosk_requests_per_minute
    settings.kiosk_requests_per_minute = 3
    try:
        # seven requests: even across a minute boundary one window sees more than three
        codes = [(await service.client.post("/v1/kiosk/service-requests", json={"service_type": "transfer"}, headers=branch.kiosk)).status_code for _ in range(7)]
    finally:
        settings.kiosk_requests_per_minute = saved
    assert 429 in codes and set(codes) <= {201, 429}
    r = await service.client.post("/v1/kiosk/service-requests", json={"service_type": "transfer"}, headers=branch.kiosk)
    assert r.status_code == 201


async def test_teller_sessions_one_per_counter_and_calls_need_an_open_one(service: Service) -> None:
    branch = await make_branch(service, counters=[["cash"]], open_sessions=False)
    (counter,) = branch.counters
    anna = service.staff("teller", [branch.branch_id], subject="anna")
    ben = service.staff("teller", [branch.branch_id], subject="ben")
    closed = await service.client.post(f"/v1/counters/{counter}/call-next", headers=anna)
    assert closed.status_code == 409 and closed.json()["type"].endswith("/counter-not-open")
    assert (await service.client.post(f"/v1/counters/{counter}/session/open", headers=anna)).status_code == 201
    taken = await service.client.post(f"/v1/counters/{counter}/session/open", headers=ben)
    assert taken.status_code == 409 and taken.json()["teller_id"] == "anna"
    # another teller of the branch cannot act at anna's counter; the lobby manager can
    for action in ("call-next", "session/pause", "session/close"):
        r = await service.client.post(f"/v1/counters/{counter}/{action}", headers=ben)
        assert r.status_code == 403 and r.json()["type"].endswith("/not-your-counter") and r.json()["teller_id"] == "anna", (action, r.text)
    for action in ("pause", "resume"):
        assert (await service.client.post(f"/v1/counters/{counter}/session/{action}", headers=branch.lobby)).status_code == 200
    assert (await service.client.post(f"/v1/counters/{counter}/session/close", headers=anna)).json()["status"] == "closed"
    assert (await service.client.post(f"/v1/counters/{counter}/session/open", headers=ben)).status_code == 201
