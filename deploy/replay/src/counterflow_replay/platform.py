"""HTTP client of the four running services, as the replay's actors use them.

Every call goes through the services' public APIs: operations staff (branches, counters,
kiosks, devices, rule sets), kiosks, tellers, devices and customers in the app. The
services are told nothing the real actors could not tell them. Staff tokens are signed
with the development identity provider's settings (``CF_JWT_*``, the services' own
defaults).
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

from counterflow_shared.settings import ServiceSettings
from counterflow_shared.devidp import issue_customer_token, issue_staff_token


#: Retries of a request whose connection failed (the services may drop a keep-alive
#: connection under load).
RETRIES = 3
#: 503 answers retried per request (each after its Retry-After, at most 5 s): the platform
#: refuses fast under a burst (a 1 s pool wait, ADR 0152) instead of queueing into timeouts
BUSY_RETRIES = 30


class PlatformError(RuntimeError):
    """A service answered something the replay cannot go on with (message names the call)."""


@dataclass(frozen=True)
class Endpoints:
    """Base URLs of the services (``make up`` ports by default)."""

    ticketing: str = "http://127.0.0.1:8101"
    selfservice: str = "http://127.0.0.1:8102"
    mobile: str = "http://127.0.0.1:8103"
    scoring: str = "http://127.0.0.1:8104"


def staff_token(subject: str, role: str, branches: list[str] | None = None, ttl_s: int = 24 * 3600) -> str:
    """A staff bearer token for ``subject`` with ``role`` over ``branches`` (``*`` default)."""
    s = ServiceSettings()
    # one token for the four services: the development provider's default audience names all four
    return issue_staff_token(issuer=s.jwt_issuer, subject=subject, role=role, branches=branches or ["*"], ttl_s=ttl_s)


@dataclass
class Platform:
    """One httpx client per service plus the credentials the replay's actors hold."""

    endpoints: Endpoints
    http: httpx.AsyncClient = field(default_factory=lambda: httpx.AsyncClient(timeout=60.0, limits=httpx.Limits(max_connections=64, max_keepalive_connections=64)))
    kiosk_auth: dict[str, list[str]] = field(default_factory=dict)
    device_auth: dict[str, str] = field(default_factory=dict)
    customer_tokens: dict[str, str] = field(default_factory=dict)
    calls: int = 0

    def __post_init__(self) -> None:
        self.ops = {"Authorization": f"Bearer {staff_token('replay-operations', 'operations')}"}
        self.approver = {"Authorization": f"Bearer {staff_token('replay-approver', 'approver')}"}
        self._teller_headers: dict[str, dict[str, str]] = {}
        self._kiosk_turn: dict[str, int] = {}

    async def aclose(self) -> None:
        """Close the connections."""
        await self.http.aclose()

    async def call(self, method: str, url: str, *, ok: tuple[int, ...] = (200, 201), **kw: Any) -> httpx.Response:
        """One request; returns the response when its status is in ``ok``. A POST carries
        an ``Idempotency-Key`` (every service honours it) so that a request whose
        connection broke is retried (up to :data:`RETRIES` times) without a second effect;
        a 503 is retried after its ``Retry-After`` (up to :data:`BUSY_RETRIES` times).

        Raises:
            PlatformError: another status (the message carries the problem body), or the
                service could not be reached.
        """
        if method == "POST":
            kw["headers"] = {**(kw.get("headers") or {}), "Idempotency-Key": str(uuid.uuid4())}
        busy = 0
        attempt = 0
        while True:
            self.calls += 1
            try:
                r = await self.http.request(method, url, **kw)
            except httpx.TransportError as exc:
                if attempt == RETRIES:
                    raise PlatformError(f"{method} {url}: {type(exc).__name__} {exc} (after {RETRIES} retries)") from exc
                await asyncio.sleep(0.2 * 2**attempt)
                attempt += 1
                continue
            # a 503 (service busy, database unavailable) applied nothing: wait the Retry-After
            # it names (seconds) and send the same request again, as a kiosk or device does
            if r.status_code == 503 and 503 not in ok and busy < BUSY_RETRIES:
                busy += 1
                await asyncio.sleep(min(float(r.headers.get("Retry-After") or 1), 5.0))
                continue
            break
        if r.status_code not in ok:
            raise PlatformError(f"{method} {url} -> {r.status_code}: {r.text[:500]}")
        return r

    # ------------------------------------------------------------------ ticketing
    def kiosk(self, branch_id: str) -> dict[str, str]:
        """Credentials of the next kiosk of ``branch_id`` (round robin)."""
        creds = self.kiosk_auth[branch_id]
        i = self._kiosk_turn.get(branch_id, 0)
        self._kiosk_turn[branch_id] = i + 1
        return {"Authorization": f"Bearer {creds[i % len(creds)]}"}

    async def request_service(self, branch_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """Kiosk: ask for a service; ``{"kind": "ticket" | "offer", ...}``."""
        r = await self.call("POST", f"{self.endpoints.ticketing}/v1/kiosk/service-requests", json=body, headers=self.kiosk(branch_id))
        return r.json()

    async def decide_offer(self, branch_id: str, diversion_id: str, accept: bool) -> dict[str, Any]:
        """Kiosk: the customer accepts or declines an offer."""
        verb = "accept" if accept else "decline"
        r = await self.call("POST", f"{self.endpoints.ticketing}/v1/kiosk/offers/{diversion_id}/{verb}", headers=self.kiosk(branch_id))
        return r.json()

    async def cancel_ticket(self, branch_id: str, ticket_id: str) -> bool:
        """Kiosk: the customer leaves the queue; ``False`` when the ticket was called first (409)."""
        r = await self.call("POST", f"{self.endpoints.ticketing}/v1/kiosk/tickets/{ticket_id}/cancel", headers=self.kiosk(branch_id), ok=(200, 409))
        return r.status_code == 200

    def teller_headers(self, teller_id: str, branch_id: str) -> dict[str, str]:
        """The staff token of a teller (role ``teller`` over its own branch)."""
        h = self._teller_headers.get(teller_id)
        if h is None:
            h = self._teller_headers[teller_id] = {"Authorization": f"Bearer {staff_token(teller_id, 'teller', [branch_id])}"}
        return h

    async def teller(self, teller: Any, action: str, body: dict[str, Any] | None = None, ok: tuple[int, ...] = (200, 201)) -> httpx.Response:
        """Action of ``teller`` (a :class:`~counterflow_replay.traffic.Teller`) at its
        counter: ``call-next``, ``tickets/<id>/start``, ``session/open``, ..."""
        headers = self.teller_headers(teller.teller_id, teller.branch_id)
        return await self.call("POST", f"{self.endpoints.ticketing}/v1/counters/{teller.counter_id}/{action}", json=body, headers=headers, ok=ok)

    # ------------------------------------------------------------------ selfservice
    async def device(self, device_id: str, path: str, body: dict[str, Any], ok: tuple[int, ...] = (200, 201)) -> httpx.Response:
        """Device endpoint ``/v1/device/<path>`` with the device's own credentials."""
        return await self.call("POST", f"{self.endpoints.selfservice}/v1/device/{path}", json=body, headers={"Authorization": f"Bearer {self.device_auth[device_id]}"}, ok=ok)

    # ------------------------------------------------------------------ mobile-gateway
    async def customer_headers(self, customer_id: str) -> dict[str, str]:
        """An app session of ``customer_id``: an access token of the development identity
        provider (what the bank's OpenID Connect provider issues after the app's sign-in)."""
        token = self.customer_tokens.get(customer_id)
        if token is None:
            token = self.customer_tokens[customer_id] = issue_customer_token(customer_id=customer_id, ttl_s=24 * 3600)
        return {"Authorization": f"Bearer {token}"}

    def forget_customer(self, customer_id: str) -> None:
        """Drop the app session of ``customer_id`` (expired access token)."""
        self.customer_tokens.pop(customer_id, None)
