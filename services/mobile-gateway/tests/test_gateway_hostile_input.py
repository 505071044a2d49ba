"""The gateway against hostile input (issue 16): dates outside the calendar, money that
does not fit its currency or the column, and tokens it cannot verify are 4xx problems
naming the field, never a 500; nothing is rounded."""

from __future__ import annotations

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from .test_drafts import accepted, draft_for


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31"])
async def test_a_slot_day_outside_the_calendar_is_422(client, producer, topic_prefix, kit, day):
    customer = await kit.new_customer(client)
    branch = await kit.known_branch(client, producer, topic_prefix, customer)
    r = await client.get(f"/v1/branches/{branch.branch_id}/slots", params={"service_type": "loan_consultation", "date": day}, headers=customer.headers)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "query.date", r.text


@pytest.mark.parametrize("amount", ["0.005", "12345678901234567.89", "1E+16", "1E+200000", "99999999999999999", "1_000", "\u0663"])
async def test_a_draft_amount_that_does_not_fit_is_422_and_nothing_is_written(client, producer, topic_prefix, kit, amount):
    customer = await kit.new_customer(client)
    event = accepted(customer.customer_id, amount="100.00")
    await kit.emit(producer, topic_prefix, event)
    draft = await draft_for(client, customer, event.diversion_id)
    url = f"/v1/drafts/{draft['draft_id']}/complete"
    for body in ({"amount": amount, "currency": "CZK"}, {"amount": amount}):
        r = await client.post(url, json=body, headers=customer.headers)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.amount", (body, r.text)
    assert (await client.get(f"/v1/drafts/{draft['draft_id']}", headers=customer.headers)).json()["status"] == "waiting"


async def test_a_remote_ticket_amount_below_the_minor_unit_is_422(client, producer, topic_prefix, kit):
    customer = await kit.new_customer(client)
    branch = await kit.known_branch(client, producer, topic_prefix, customer)
    r = await client.post("/v1/tickets", json={"branch_id": branch.branch_id, "service_type": "cash_withdrawal", "amount": "0.5", "currency": "JPY"}, headers=customer.headers)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.amount", r.text


async def test_a_token_signed_with_another_key_is_401(client):
    foreign = jwt.encode({"sub": "c1", "exp": 4_000_000_000, "iat": 0, "iss": "x", "aud": "y", "scope": "customer"}, ec.generate_private_key(ec.SECP256R1()), algorithm="ES256")
    for token in (foreign, "garbage", jwt.encode({"sub": "c1"}, "secret-0123456789-0123456789-012", algorithm="HS256")):
        r = await client.get("/v1/tickets", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json", r.text
