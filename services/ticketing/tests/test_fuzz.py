"""Schemathesis over ticketing's OpenAPI document (issue 16), with valid credentials of
every staff role and of a kiosk, and without any: 0 server errors and 0 responses that
break their documented schema. Examples per operation: ``CF_FUZZ_EXAMPLES`` (default 5)."""

from __future__ import annotations

import os

from counterflow_testkit import fuzz_openapi
from counterflow_shared.web.auth import STAFF_ROLES

from .conftest import make_branch


async def test_no_server_error_and_no_schema_breaking_response(service):
    branch = await make_branch(service)
    credentials = {"anonymous": {}, "kiosk": branch.kiosk}
    credentials |= {role: service.staff(role, [branch.branch_id]) for role in STAFF_ROLES}
    credentials["operations-head-office"] = service.staff("operations", ["*"])
    sent, failures = await fuzz_openapi(service.client, service.app, credentials, examples=int(os.environ.get("CF_FUZZ_EXAMPLES", "5")))
    print("fuzz", sent, "requests")
    assert sent > 500
    assert failures == [], "\n".join(failures[:15])
