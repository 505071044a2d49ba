"""Schemathesis over scoring's OpenAPI document (issue 16), with valid credentials of every
staff role and without any: 0 server errors and 0 responses that break their documented
schema. Examples per operation: ``CF_FUZZ_EXAMPLES`` (default 5)."""

from __future__ import annotations

import os

from counterflow_testkit import fuzz_openapi
from counterflow_shared.web.auth import STAFF_ROLES

from .conftest import token


async def test_no_server_error_and_no_schema_breaking_response(book_app, book_settings):
    credentials = {"anonymous": {}} | {role: token(book_settings, role, ["*"]) for role in STAFF_ROLES}
    sent, failures = await fuzz_openapi(book_app, book_app.app, credentials, examples=int(os.environ.get("CF_FUZZ_EXAMPLES", "5")))
    assert sent > 50
    assert failures == [], "\n".join(failures[:15])
