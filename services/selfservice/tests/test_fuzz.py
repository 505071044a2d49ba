"""Schemathesis over selfservice's OpenAPI document (issue 16), with valid credentials of
every staff role and of a device, and without any: 0 server errors and 0 responses that
break their documented schema. Examples per operation: ``CF_FUZZ_EXAMPLES`` (default 5)."""

from __future__ import annotations

import os

from counterflow_testkit import fuzz_openapi
from counterflow_shared.devidp import issue_staff_token
from counterflow_shared.web.auth import STAFF_ROLES

from .conftest import recycler, uid


async def test_no_server_error_and_no_schema_breaking_response(app, client, settings, staff):
    body = recycler(uid("D"), uid("B"))
    r = await client.post("/v1/devices", json=body, headers=staff)
    assert r.status_code == 201, r.text
    s = settings
    credentials = {"anonymous": {}, "device": {"Authorization": f"Bearer {body['device_id']}:{r.json()['secret']}"}}
    for role in STAFF_ROLES:
        token = issue_staff_token(issuer=s.jwt_issuer, audience=s.jwt_audience, subject=f"fuzz-{role}", role=role, branches=[body["branch_id"]])
        credentials[role] = {"Authorization": f"Bearer {token}"}
    credentials["operations-head-office"] = staff
    sent, failures = await fuzz_openapi(client, app, credentials, examples=int(os.environ.get("CF_FUZZ_EXAMPLES", "5")))
    assert sent > 300
    assert failures == [], "\n".join(failures[:15])
