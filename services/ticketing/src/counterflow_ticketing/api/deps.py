"""Dependencies of the ticketing API: the transaction, the domain context, kiosk and
staff authentication, Idempotency-Key handling.

The transaction dependency uses ``scope="function"`` so the commit happens before the
response is sent: a client never receives a ticket number whose transaction could still
fail to commit, and its next request sees the write.

Kiosk credentials: ``Authorization: Bearer <kiosk_id>:<secret>`` (HTTP Basic with the
same id and secret is accepted too). The kiosk row is read in the request's transaction
on every request (one primary-key read) and the Argon2id check is memoised per stored
hash (:class:`counterflow_shared.web.auth.VerifiedSecrets`): Argon2 (tens of
milliseconds by design) stays off the hot path, and a re-key or deactivation takes
effect at once on every instance.
Staff: bearer JWTs (:mod:`counterflow_shared.web.auth`) with ``role`` and ``branches``.
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Header, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from counterflow_shared.runtime import RuntimeDep, ServiceRuntime, SessionDep  # noqa: F401 - RuntimeDep re-exported
from counterflow_shared.web.ratelimit import RateLimiter
from counterflow_shared.web.auth import StaffPrincipal, VerifiedSecrets, staff_dependency
from counterflow_shared.web.idempotency import run_idempotent
from counterflow_shared.web.problems import Problem
from counterflow_ticketing.domain.context import Ctx, ctx_for, readmodels_of
from counterflow_ticketing.persistence import branches_repo

#: the shared request transaction (commits before the response is sent)
TxDep = SessionDep
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", description="same key + same body = same result; same key + other body = 422")]


async def get_ctx(runtime: RuntimeDep) -> Ctx:
    """The domain context of this request (one clock reading); ``async`` so that no worker
    thread is involved."""
    return await ctx_for(runtime)


CtxDep = Annotated[Ctx, Depends(get_ctx)]


@dataclass(frozen=True)
class KioskPrincipal:
    """An authenticated kiosk and its branch."""

    kiosk_id: str
    branch_id: str


#: OpenAPI security schemes of the two kinds of caller (read from ``Authorization`` below;
#: declared so that the contract says which routes take which credential)
_KIOSK_SCHEME = HTTPBearer(auto_error=False, scheme_name="KioskCredentials", description="Bearer <kiosk_id>:<secret> (or HTTP Basic with the same pair)")
_STAFF_SCHEME = HTTPBearer(auto_error=False, scheme_name="StaffToken", description="staff JWT of the bank's identity provider (docs/security.md)")
KioskScheme = Annotated[HTTPAuthorizationCredentials | None, Security(_KIOSK_SCHEME)]
StaffScheme = Annotated[HTTPAuthorizationCredentials | None, Security(_STAFF_SCHEME)]


def _kiosk_credentials(authorization: str | None) -> tuple[str, str]:
    if not authorization:
        raise Problem(401, "unauthorized", "Authentication required", "missing kiosk credentials (Bearer <kiosk_id>:<secret> or Basic)")
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "basic":
        try:
            value = base64.b64decode(value, validate=True).decode()
        except (ValueError, UnicodeDecodeError) as exc:
            raise Problem(401, "unauthorized", "Authentication required", "malformed Basic credentials") from exc
    elif scheme.lower() != "bearer":
        raise Problem(401, "unauthorized", "Authentication required", "unsupported authorization scheme")
    kiosk_id, sep, secret = value.partition(":")
    if not sep or not kiosk_id or not secret:
        raise Problem(403, "forbidden", "Kiosk credentials required", "this endpoint is for kiosks (Bearer <kiosk_id>:<secret>)")
    return kiosk_id, secret


@dataclass(frozen=True)
class KioskCredentials:
    """The kiosk id and secret a request presents (not yet verified)."""

    kiosk_id: str
    secret: str


async def kiosk_credentials(_: KioskScheme, authorization: Annotated[str | None, Header()] = None) -> KioskCredentials:
    """Parse the kiosk credentials (401/403 when malformed); the one-transaction kiosk path
    reads the kiosk row in its own read statement and checks them with :func:`verify_kiosk`."""
    return KioskCredentials(*_kiosk_credentials(authorization))


async def verify_kiosk(runtime: ServiceRuntime, kiosk: Any, credentials: KioskCredentials) -> KioskPrincipal:
    """The principal of ``kiosk`` (its row: ``active``, ``secret_hash``, ``branch_id``, or
    ``None``) when ``credentials`` match it; 401 otherwise."""
    verified: VerifiedSecrets = runtime.state.setdefault("kiosk_secrets", VerifiedSecrets())
    if kiosk is None or not kiosk.active or not await verified.verify(credentials.kiosk_id, kiosk.secret_hash, credentials.secret):
        raise Problem(401, "unauthorized", "Authentication required", "unknown kiosk or wrong secret")
    return KioskPrincipal(credentials.kiosk_id, kiosk.branch_id)


async def current_kiosk(request: Request, runtime: RuntimeDep, session: SessionDep, _: KioskScheme, authorization: Annotated[str | None, Header()] = None) -> KioskPrincipal:
    """The kiosk presenting valid credentials; 401 otherwise, 429 over its rate limit."""
    credentials = KioskCredentials(*_kiosk_credentials(authorization))
    principal = await verify_kiosk(runtime, await branches_repo.get_kiosk(session, credentials.kiosk_id), credentials)
    if request.method == "POST":
        await enforce_rate_limit(runtime, principal.kiosk_id)
    return principal


async def enforce_rate_limit(runtime: ServiceRuntime, kiosk_id: str) -> None:
    """Count one request of ``kiosk_id`` with the platform's limiter
    (:class:`counterflow_shared.web.ratelimit.RateLimiter`: per UTC minute, per-process
    counting while Redis is down); 429 with a ``Retry-After`` header to the next minute
    over ``kiosk_requests_per_minute``."""
    limit = runtime.settings.kiosk_requests_per_minute  # type: ignore[attr-defined]
    limiter = runtime.state.get("kiosk_rate_limiter")
    if limiter is None:
        limiter = runtime.state["kiosk_rate_limiter"] = RateLimiter(runtime.redis, prefix=readmodels_of(runtime).key("rl", ""), limit=limit, window_s=60)
    await limiter.hit(kiosk_id, limit=limit)


KioskDep = Annotated[KioskPrincipal, Depends(current_kiosk)]
KioskCredentialsDep = Annotated[KioskCredentials, Depends(kiosk_credentials)]


def _staff(*roles: str) -> Callable[..., Awaitable[StaffPrincipal]]:
    inner = staff_dependency(*roles)

    async def _dep(request: Request, _: StaffScheme, authorization: Annotated[str | None, Header()] = None) -> StaffPrincipal:
        if authorization and ":" in authorization.partition(" ")[2] and authorization.lower().startswith("bearer"):
            raise Problem(403, "forbidden", "Staff only", "kiosk credentials cannot be used on staff endpoints")
        creds = None
        if authorization and authorization.lower().startswith("bearer "):
            creds = HTTPAuthorizationCredentials(scheme="Bearer", credentials=authorization[7:])
        return await inner(request, creds)

    return _dep


TellerDep = Annotated[StaffPrincipal, Depends(_staff("teller", "lobby_manager"))]
LobbyDep = Annotated[StaffPrincipal, Depends(_staff("lobby_manager", "operations"))]
BranchStaffDep = Annotated[StaffPrincipal, Depends(_staff("teller", "lobby_manager", "operations"))]
OperationsDep = Annotated[StaffPrincipal, Depends(_staff("operations"))]
StaffDep = Annotated[StaffPrincipal, Depends(_staff())]


async def idempotent(session: AsyncSession, *, scope: str, key: str | None, body: Any, compute: Callable[[], Awaitable[tuple[int, Any]]]) -> JSONResponse:
    """Run ``compute`` at most once per ``(scope, Idempotency-Key)`` (see
    :func:`counterflow_shared.web.idempotency.run_idempotent`)."""
    from counterflow_ticketing.persistence.tables import backbone

    return await run_idempotent(session, backbone["idempotency_keys"], scope=scope, key=key, body=body, compute=compute)
