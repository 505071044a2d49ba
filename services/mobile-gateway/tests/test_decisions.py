"""The app's channel decisions read back by staff (issue 17): by id, by the remote
request and by offer, with inputs, rule, vetoes and devices not offered; branch-scoped."""

from __future__ import annotations

import uuid

from counterflow_shared.devidp import issue_staff_token


def _staff(app, role: str, branches: list[str]) -> dict[str, str]:
    s = app.state.runtime.settings
    return {"Authorization": "Bearer " + issue_staff_token(issuer=s.jwt_issuer, audience=s.jwt_audience, subject=f"{role}-1", role=role, branches=branches)}


async def test_an_app_decision_is_readable_by_staff_of_its_branch(client, app, producer, topic_prefix, kit):
    customer = await kit.new_customer(client)
    branch = await kit.known_branch(client, producer, topic_prefix, customer)
    r = await client.post("/v1/tickets", json={"branch_id": branch.branch_id, "service_type": "cash_withdrawal", "needs": ["elderly"]}, headers={**customer.headers, "Idempotency-Key": f"k-{uuid.uuid4()}"})
    assert r.status_code == 202, r.text
    request_id = r.json()["id"]
    analyst = _staff(app, "analyst", [branch.branch_id])

    found = await client.get("/v1/decisions", params={"request_id": request_id}, headers=analyst)
    assert found.status_code == 200, found.text
    doc = found.json()
    assert (doc["kind"], doc["branch_id"], doc["customer_id"], doc["ticket_id"], doc["rule_set_version"], doc["rule_id"]) == ("ticket", branch.branch_id, customer.customer_id, request_id, 0, "default")
    assert doc["inputs"]["needs"] == ["elderly"] and doc["vetoes"] == [] and doc["diversion_status"] is None
    again = await client.get(f"/v1/decisions/{doc['decision_id']}", headers=analyst)
    assert again.status_code == 200 and again.json() == doc

    assert (await client.get(f"/v1/decisions/{doc['decision_id']}", headers=_staff(app, "analyst", ["another-branch"]))).status_code == 403
    assert (await client.get(f"/v1/decisions/{doc['decision_id']}", headers=customer.headers)).status_code == 401
    assert (await client.get("/v1/decisions", params={"diversion_id": str(uuid.uuid4())}, headers=analyst)).status_code == 404
    both = await client.get("/v1/decisions", params={"request_id": request_id, "diversion_id": "x"}, headers=analyst)
    assert both.status_code == 422 and both.json()["errors"][0]["field"] == "query.request_id"
