"""The authorisation matrix (issue 21): every route of the four services' OpenAPI, for every
kind of caller, against the four services served over HTTP by uvicorn (real PostgreSQL,
Redis, Kafka; tokens of the development identity provider).

The expected policy is declared below per service as ordered ``(pattern, roles)`` rules
over ``"METHOD /path"``; every route in a service's live ``/openapi.json`` must match one
rule, so a new route cannot escape the matrix (the test fails naming it). For each route
and caller:

- an allowed role gets neither 401 nor 403 (nor a 5xx): 2xx, or 404/409/422 for the dummy
  ids and empty bodies the matrix sends;
- any other authenticated caller is refused with 401 or 403, ``application/problem+json``;
- a credential the platform must not accept (none, expired, another issuer, another
  audience, ``alg: none``, signed by another key) is a 401 problem+json on every route that
  takes tokens (a 401 or 403 on the kiosk and device routes, which take their own
  credentials);
- customer B asking for customer A's remote ticket gets exactly the 404 of a ticket that
  does not exist (existence does not leak).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from counterflow_shared.devidp import provider
from counterflow_testkit import drop_database, migrated_database, served_app

pytestmark = pytest.mark.timeout(1500)  # four services start on a loaded machine, then ~1,700 requests

KIOSK, DEVICE = "kiosk", "device"
TELLER, LOBBY, OPS, APPROVER = "teller", "lobby_manager", "operations", "approver"
CUSTOMER_A, CUSTOMER_B = "customer_a", "customer_b"
STAFF = frozenset({TELLER, LOBBY, OPS, APPROVER})
CUSTOMERS = frozenset({CUSTOMER_A, CUSTOMER_B})
AUTHENTICATED = (KIOSK, DEVICE, TELLER, LOBBY, OPS, APPROVER, CUSTOMER_A, CUSTOMER_B)
REFUSED_CREDENTIALS = ("no credentials", "expired", "wrong issuer", "wrong audience", "alg none", "other key")
PUBLIC = frozenset({"*"})

POLICY: dict[str, list[tuple[str, frozenset[str]]]] = {
    "ticketing": [
        (r"GET /(healthz|readyz)$", PUBLIC),
        (r"GET /v1/branches/\{branch_id\}/display/stream$", PUBLIC),  # the calling display in the branch hall
        (r"\w+ /v1/kiosk/", frozenset({KIOSK})),
        (r"POST /v1/counters/", frozenset({TELLER, LOBBY})),
        (r"GET /v1/branches/\{branch_id\}/(queue|counters|queue/stream)$", frozenset({TELLER, LOBBY, OPS})),
        (r"\w+ /v1/branches/\{branch_id\}/(tickets|offers|service-requests|lobby)", frozenset({LOBBY, OPS})),
        (r"GET /v1/branches/\{branch_id\}/sla$", frozenset({LOBBY, OPS})),
        (r"GET /v1/branches/\{branch_id\}/productivity(\.csv)?$", frozenset({LOBBY, OPS})),
        (r"PUT /v1/(branches|service-types)", frozenset({OPS})),
        (r"GET /v1/(branches|service-types)", STAFF),
        (r"POST /v1/rules/sets$", frozenset({OPS, APPROVER})),
        (r"POST /v1/rules/(sets/\{version\}/(approve|reject|activate)|rollback)$", frozenset({APPROVER})),
        (r"GET /v1/rules/(active|completion-rates)$", frozenset({OPS, APPROVER, LOBBY})),
        (r"(GET /v1/rules/|POST /v1/rules/sets/\{version\}/what-if$)", frozenset({OPS, APPROVER})),
        (r"GET /v1/decisions", frozenset({OPS, APPROVER, LOBBY})),
    ],
    "selfservice": [
        (r"GET /(healthz|readyz)$", PUBLIC),
        (r"POST /v1/device/", frozenset({DEVICE})),
        (r"(POST /v1/devices(/\{device_id\}/credentials)?|PATCH /v1/devices/\{device_id\}|PUT /v1/devices/\{device_id\}/cash-units|DELETE /v1/devices/\{device_id\})$", frozenset({OPS})),
        (r"GET /v1/", STAFF),
    ],
    "mobile-gateway": [
        (r"GET /(healthz|readyz)$", PUBLIC),
        (r"GET /v1/decisions", frozenset({OPS, APPROVER, LOBBY})),  # staff read the app's channel decisions back
        (r"\w+ /v1/", CUSTOMERS),
    ],
    "scoring": [
        (r"GET /(healthz|readyz)$", PUBLIC),
        (r"POST /v1/operations/", frozenset({OPS})),
        (r"GET /v1/", STAFF),
    ],
}
MODULES = {"ticketing": ("counterflow_ticketing", "CF_TICKETING"), "selfservice": ("counterflow_selfservice", "CF_SELFSERVICE"), "mobile-gateway": ("counterflow_mobile_gateway", "CF_MOBILE"), "scoring": ("counterflow_scoring", "CF_SCORING")}


@dataclass
class Platform:
    """The four services and the credentials of every caller."""

    urls: dict[str, str]
    branch_id: str
    headers: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)  # service -> caller -> headers
    ticket_of_a: str = ""


def _policy(service: str, method: str, path: str) -> frozenset[str]:
    for pattern, roles in POLICY[service]:
        if re.match(pattern, f"{method} {path}"):
            return roles
    raise AssertionError(f"{service}: {method} {path} is in no rule of the authorisation matrix; add it to POLICY")


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _refused_tokens(*, issuer: str, audience: str, extra: dict[str, Any]) -> dict[str, dict[str, str]]:
    idp = provider()
    kid, _ = idp.signing_key()
    now = datetime.now(UTC)
    claims = {"iss": issuer, "aud": audience, "sub": "someone-1", "iat": now, "exp": now + timedelta(minutes=10), **extra}
    b64 = lambda data: jwt.utils.base64url_encode(data).decode()  # noqa: E731
    unsigned = b64(b'{"alg":"none","typ":"JWT","kid":"' + kid.encode() + b'"}') + "." + b64(json.dumps({**claims, "iat": int(now.timestamp()), "exp": int(claims["exp"].timestamp())}).encode()) + "."
    return {
        "no credentials": {},
        "expired": _bearer(idp.sign({**claims, "iat": now - timedelta(hours=2), "exp": now - timedelta(hours=1)})),
        "wrong issuer": _bearer(idp.sign({**claims, "iss": "https://evil.example"})),
        "wrong audience": _bearer(idp.sign({**claims, "aud": "counterflow-elsewhere"})),
        "alg none": _bearer(unsigned),
        "other key": _bearer(jwt.encode(claims, ec.generate_private_key(ec.SECP256R1()), algorithm="ES256", headers={"kid": kid})),
    }


SETTINGS = {
    "ticketing": ("counterflow_ticketing.settings", "TicketingSettings", True),  # relays the branch profile to the gateway
    "selfservice": ("counterflow_selfservice.settings", "SelfServiceSettings", False),
    "mobile-gateway": ("counterflow_mobile_gateway.settings", "MobileGatewaySettings", True),  # consumes it
    "scoring": ("counterflow_scoring.settings", "ScoringSettings", False),
}


@pytest.fixture(scope="module")
async def platform(infrastructure, topic_prefix) -> AsyncIterator[Platform]:
    """The four services, each served by uvicorn on its own port in this event loop, on
    fresh databases and this suite's topics."""
    import importlib

    redis_prefix = f"test:matrix:{uuid.uuid4().hex[:8]}:"
    databases: list[str] = []
    try:
        async with contextlib.AsyncExitStack() as stack:
            urls = {}
            for service, (module, _) in MODULES.items():
                settings_module, settings_class, workers = SETTINGS[service]
                name, url = migrated_database(Path(importlib.import_module(module).__file__).parent, f"matrix_{service.replace('-', '_')}")
                databases.append(name)
                settings = getattr(importlib.import_module(settings_module), settings_class)(
                    database_url=url, topic_prefix=topic_prefix, redis_prefix=f"{redis_prefix}{service}:", embedded_workers=workers, log_json=False, log_level="WARNING"
                )
                app = importlib.import_module(f"{module}.main").create_app(settings, group_suffix=f"-{uuid.uuid4().hex[:6]}")
                urls[service] = str((await stack.enter_async_context(served_app(app))).base_url).rstrip("/")
            yield await _set_up(Platform(urls, branch_id=f"b{uuid.uuid4().hex[:8]}"))
    finally:
        for name in databases:
            drop_database(name)


async def _set_up(p: Platform) -> Platform:
    """A branch with a kiosk, a registered device, two customers (A holding a remote
    ticket), and every caller's headers."""
    idp = provider()
    staff = {role: _bearer(idp.staff_token(role=role, branches=[p.branch_id], subject=f"{role}-1")) for role in STAFF}
    async with httpx.AsyncClient(timeout=60) as c:
        t, s, m = p.urls["ticketing"], p.urls["selfservice"], p.urls["mobile-gateway"]
        body = {"name": "Matrix branch", "time_zone": "Europe/Prague", "opening_hours": [{"weekday": d, "opens": "00:00", "closes": "23:59"} for d in range(7)],
                "zones": [{"zone": "cash", "name": "Cash"}, {"zone": "non_cash", "name": "Service"}], "services": ["cash_withdrawal", "transfer", "account_opening"]}
        r = await c.put(f"{t}/v1/branches/{p.branch_id}", json=body, headers=staff[OPS])
        assert r.status_code == 200, r.text
        r = await c.put(f"{t}/v1/branches/{p.branch_id}/kiosks/{p.branch_id}-k1", json={}, headers=staff[OPS])
        assert r.status_code == 200, r.text
        kiosk_secret = r.json()["secret"]
        device = {"device_id": f"{p.branch_id}-atm1", "branch_id": p.branch_id, "zone": "self_service", "kind": "cash_recycler", "accessible": True,
                  "capabilities": {"service_types": ["cash_withdrawal"], "max_amount": {"CZK": "20000"}, "denominations": ["100"], "currencies": ["CZK"]},
                  "time_zone": "Europe/Prague", "cash_units": [{"unit_id": "C1", "currency": "CZK", "denomination": "100", "capacity": 2000, "low_threshold": 100, "full_threshold": 1900, "count": 1200}]}
        r = await c.post(f"{s}/v1/devices", json=device, headers=staff[OPS])
        assert r.status_code == 201, r.text
        customers = {CUSTOMER_A: _bearer(idp.customer_token(customer_id=f"ca-{uuid.uuid4().hex[:8]}")), CUSTOMER_B: _bearer(idp.customer_token(customer_id=f"cb-{uuid.uuid4().hex[:8]}"))}
        own = {KIOSK: _bearer(f"{p.branch_id}-k1:{kiosk_secret}"), DEVICE: _bearer(f"{device['device_id']}:{r.json()['secret']}"), **staff, **customers}
        staff_refused = _refused_tokens(issuer="counterflow-dev-idp", audience="counterflow-ticketing", extra={"role": OPS, "branches": [p.branch_id]})
        for service in MODULES:
            refused = _refused_tokens(issuer="counterflow-dev-customer-idp", audience="counterflow-mobile", extra={"scope": "customer"}) if service == "mobile-gateway" else staff_refused
            p.headers[service] = {**own, **refused}
        # customer A's remote ticket, once the gateway knows the branch (branch.directory.v1 through Kafka)
        deadline = time.monotonic() + 240
        while (await c.get(f"{m}/v1/branches/{p.branch_id}", headers=customers[CUSTOMER_A])).status_code != 200:
            assert time.monotonic() < deadline, "the gateway did not learn the branch in 240 s"
            await asyncio.sleep(0.5)
        r = await c.post(f"{m}/v1/tickets", json={"branch_id": p.branch_id, "service_type": "account_opening"}, headers={**customers[CUSTOMER_A], "Idempotency-Key": uuid.uuid4().hex})
        assert r.status_code == 202 and r.json()["kind"] == "ticket", r.text  # account opening needs a person: never diverted
        p.ticket_of_a = r.json()["id"]
    return p


async def _spec(url: str) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=60) as c:
        return (await c.get(f"{url}/openapi.json")).json()


#: the credential each service's OpenAPI must declare on its protected routes
SCHEMES = {"ticketing": {"KioskCredentials", "StaffToken"}, "selfservice": {"DeviceCredentials", "StaffToken"}, "mobile-gateway": {"CustomerToken", "StaffToken"}, "scoring": {"StaffToken"}}


@pytest.mark.parametrize("service", list(MODULES))
async def test_every_protected_route_declares_its_security_scheme(platform: Platform, service: str) -> None:
    spec = await _spec(platform.urls[service])
    assert set(spec["components"]["securitySchemes"]) == SCHEMES[service]
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            declared = {name for requirement in op.get("security", []) for name in requirement}
            allowed = _policy(service, method.upper(), path)
            if allowed == PUBLIC:
                assert not declared, f"{method} {path} is public but declares {declared}"
                continue
            want = ({"KioskCredentials"} if KIOSK in allowed else set()) | ({"DeviceCredentials"} if DEVICE in allowed else set()) | ({"StaffToken"} if allowed & STAFF else set()) | ({"CustomerToken"} if allowed & CUSTOMERS else set())
            assert declared == want, f"{service} {method.upper()} {path} declares {declared}, expected {want}"


def _concrete(p: Platform, service: str, path: str) -> str:
    def fill(m: re.Match[str]) -> str:
        name = m.group(1)
        if name == "branch_id":
            return p.branch_id
        if name == "ticket_id" and service == "mobile-gateway":
            return p.ticket_of_a
        if name == "version":
            return "1"
        return f"x{name[:3]}1"

    return re.sub(r"\{([a-z_]+)\}", fill, path)


#: bodies sent instead of ``{}``: the kiosk's ticket request validates its body before it
#: checks the credential (the kiosk row is read in the request's one statement, ADR 0150),
#: so only a valid body lets the credential check answer; an empty one is a 422 for anyone
VALID_BODIES = {("POST", "/v1/kiosk/service-requests"): {"service_type": "transfer"}}


async def _call(client: httpx.AsyncClient, method: str, url: str, headers: dict[str, str], body: Any = None) -> tuple[int, str]:
    body = body if body is not None else ({} if method in ("POST", "PUT", "PATCH") else None)
    async with client.stream(method, url, headers={**headers, "Idempotency-Key": uuid.uuid4().hex}, json=body) as r:
        if not r.headers.get("content-type", "").startswith("text/event-stream"):  # a stream is left open, never read to its end
            await r.aread()
        return r.status_code, r.headers.get("content-type", "")


@pytest.mark.parametrize("service", list(MODULES))
async def test_every_route_answers_each_caller_as_the_matrix_says(platform: Platform, service: str) -> None:
    routes = sorted((method.upper(), path) for path, ops in (await _spec(platform.urls[service]))["paths"].items() for method in ops)
    assert len(routes) > 3
    failures: list[str] = []
    async with httpx.AsyncClient(base_url=platform.urls[service], timeout=60) as client:
        for method, path in routes:
            allowed = _policy(service, method, path)
            url = _concrete(platform, service, path)
            token_route = bool(allowed & (STAFF | CUSTOMERS))
            for caller, headers in platform.headers[service].items():
                status, ctype = await _call(client, method, url, headers, VALID_BODIES.get((method, path)))
                where = f"{caller:>14} {method} {path} -> {status}"
                if allowed == PUBLIC or caller in allowed:
                    if status in (401, 403) or status >= 500:
                        failures.append(f"{where}: allowed, expected no refusal")
                    continue
                refused = (401,) if caller in REFUSED_CREDENTIALS and token_route else (401, 403)
                if status not in refused:
                    failures.append(f"{where}: expected {' or '.join(map(str, refused))}")
                elif not ctype.startswith("application/problem+json"):
                    failures.append(f"{where}: refusal is {ctype}, not problem+json")
    assert not failures, f"{len(failures)} cells of the matrix differ:\n" + "\n".join(failures)


async def test_customer_b_cannot_tell_customer_as_ticket_from_a_missing_one(platform: Platform) -> None:
    h = platform.headers["mobile-gateway"]
    async with httpx.AsyncClient(base_url=platform.urls["mobile-gateway"], timeout=60) as m:
        assert (await m.get(f"/v1/tickets/{platform.ticket_of_a}", headers=h[CUSTOMER_A])).status_code == 200
        theirs = await m.get(f"/v1/tickets/{platform.ticket_of_a}", headers=h[CUSTOMER_B])
        missing = await m.get(f"/v1/tickets/{uuid.uuid4()}", headers=h[CUSTOMER_B])
        assert theirs.status_code == missing.status_code == 404
        strip = lambda d: {k: v for k, v in d.items() if k not in ("instance", "detail")}  # noqa: E731
        assert strip(theirs.json()) == strip(missing.json())
        assert theirs.json()["detail"] == missing.json()["detail"].replace(missing.url.path.rsplit("/", 1)[1], platform.ticket_of_a)
        cancel = await m.post(f"/v1/tickets/{platform.ticket_of_a}/cancel", headers=h[CUSTOMER_B])
        assert cancel.status_code == 404
        assert platform.ticket_of_a not in [t["id"] for t in (await m.get("/v1/tickets", headers=h[CUSTOMER_B])).json()]
