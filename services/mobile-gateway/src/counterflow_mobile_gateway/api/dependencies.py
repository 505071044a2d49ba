"""FastAPI dependencies of the customer API: the authenticated customer (bearer token,
RFC 6750) with the per-customer rate limit, the clock."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from counterflow_shared.runtime import get_session
from counterflow_shared.web.ratelimit import RateLimiter

from counterflow_mobile_gateway.domain.identity import CustomerPrincipal, CustomerTokens, unauthorized

_bearer = HTTPBearer(auto_error=False, scheme_name="CustomerToken", description="customer access token of the bank's OpenID Connect provider")


def customer_tokens(request: Request) -> CustomerTokens:
    """The app's :class:`CustomerTokens` (built from the settings on first use)."""
    tokens = getattr(request.app.state, "customer_tokens", None)
    if tokens is None:
        s = request.app.state.settings
        tokens = request.app.state.customer_tokens = CustomerTokens(jwks_url=s.customer_jwks_url, issuer=s.customer_jwt_issuer, audience=s.customer_jwt_audience, cache_s=s.jwks_cache_s, refresh_cooldown_s=s.jwks_refresh_cooldown_s)
    return tokens


async def current_customer(request: Request, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> CustomerPrincipal:
    """The customer of the bearer token, after the rate limit.

    Raises:
        Problem: 401 without a valid token.
        HTTPException: 429 over the customer's rate limit.
    """
    if creds is None:
        raise unauthorized("missing bearer token")
    principal = await customer_tokens(request).verify(creds.credentials)
    s = request.app.state.settings
    limiter = getattr(request.app.state, "rate_limiter", None)
    if limiter is None:
        limiter = request.app.state.rate_limiter = RateLimiter(request.app.state.runtime.redis, prefix=f"{s.redis_prefix}rl:", limit=s.rate_limit_requests, window_s=s.rate_limit_window_s)
    await limiter.hit(principal.customer_id)
    return principal


async def utcnow(request: Request) -> datetime:
    """The current domain instant (aware UTC) from the runtime's clock (``CF_CLOCK``); a
    dependency so that tests can pin it.

    Raises:
        counterflow_shared.clock.ClockNotSet: the simulated clock has no instant (503).
    """
    return await request.app.state.runtime.clock.now()


#: The request's unit of work, committed when the endpoint function returns and BEFORE
#: the response is sent (``scope="function"``). The shared ``runtime.SessionDep`` uses
#: FastAPI's default request scope, whose exit code runs after the response has been
#: sent: a client could see 201 for a change not yet (or never) committed, and a
#: follow-up request could miss it.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
CurrentCustomer = Annotated[CustomerPrincipal, Depends(current_customer)]
Now = Annotated[datetime, Depends(utcnow)]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", description="same key, same result (IETF draft-ietf-httpapi-idempotency-key-header)")]
