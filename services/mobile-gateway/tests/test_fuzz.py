"""Schemathesis over the gateway's OpenAPI document (issue 16), with a valid customer
token and without any, over real HTTP (uvicorn): 0 server errors and 0 responses that
break their documented schema, the unauthenticated ``/v1/auth/*`` routes included.
Examples per operation: ``CF_FUZZ_EXAMPLES`` (default 5)."""

from __future__ import annotations

import os

from counterflow_testkit import fuzz_openapi


async def test_no_server_error_and_no_schema_breaking_response(app, client, kit):
    customer = await kit.new_customer(client)
    credentials = {"anonymous": {}, "customer": customer.headers}
    sent, failures = await fuzz_openapi(client, app, credentials, examples=int(os.environ.get("CF_FUZZ_EXAMPLES", "5")))
    assert sent > 100
    assert failures == [], "\n".join(failures[:15])
