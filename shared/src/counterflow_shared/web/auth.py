"""Staff tokens and device credentials.

Staff (tellers, lobby managers, operations, approvers, analysts) present a bearer JWT
(RFC 7519) with ``sub``, ``role`` and ``branches`` (branch ids, or ``["*"]`` for
head-office roles), issued by the bank's identity provider; issuer, audience and key are
settings. HS256 with a shared secret is the development default; RS256/ES256 public keys
work the same way through PyJWT.

Devices (kiosks, ATMs) authenticate with an id and a secret; only an Argon2id hash of the
secret is stored (RFC 9106 parameters as chosen by argon2-cffi's defaults).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from counterflow_shared.web.problems import Problem
from counterflow_shared.web.session import CSRF_HEADER, SAFE_METHODS, SESSION_COOKIE, csrf_ok

STAFF_ROLES = ("teller", "lobby_manager", "operations", "approver", "analyst", "admin")
_hasher = PasswordHasher()
_bearer = HTTPBearer(auto_error=False)


@dataclass(frozen=True)
class StaffPrincipal:
    """An authenticated staff member: ``subject`` (staff id), ``role``, ``branches``."""

    subject: str
    role: str
    branches: tuple[str, ...]

    def may_act_on(self, branch_id: str) -> bool:
        """Whether this member's token covers ``branch_id``."""
        return "*" in self.branches or branch_id in self.branches

    def require_branch(self, branch_id: str) -> None:
        """Raise 403 unless the token covers ``branch_id``."""
        if not self.may_act_on(branch_id):
            raise Problem(403, "forbidden-branch", "Not allowed for this branch", f"staff {self.subject} may not act on branch {branch_id}")


def issue_staff_token(*, secret: str, issuer: str, audience: str, subject: str, role: str, branches: Iterable[str], ttl_s: int = 3600) -> str:
    """A signed HS256 staff token valid ``ttl_s`` seconds (development identity provider)."""
    now = datetime.now(UTC)
    claims = {"iss": issuer, "aud": audience, "sub": subject, "role": role, "branches": list(branches), "iat": now, "nbf": now, "exp": now + timedelta(seconds=ttl_s)}
    return jwt.encode(claims, secret, algorithm="HS256")


def decode_staff_token(token: str, *, secret: str, issuer: str, audience: str) -> StaffPrincipal:
    """Verify signature, ``exp``, ``iss`` and ``aud``; raises :class:`Problem` 401."""
    try:
        claims = jwt.decode(token, secret, algorithms=["HS256", "RS256", "ES256"], issuer=issuer, audience=audience, options={"require": ["exp", "sub", "iss", "aud"]})
    except jwt.PyJWTError as exc:
        raise Problem(401, "unauthorized", "Authentication required", f"invalid staff token: {exc}") from exc
    role = claims.get("role")
    if role not in STAFF_ROLES:
        raise Problem(401, "unauthorized", "Authentication required", "token has no staff role")
    return StaffPrincipal(subject=str(claims["sub"]), role=role, branches=tuple(claims.get("branches") or ()))


def staff_dependency(*roles: str) -> Callable:
    """FastAPI dependency returning the :class:`StaffPrincipal`, 401 without a valid token,
    403 when its role is not in ``roles`` (all staff roles when empty). Reads the
    verification settings from ``request.app.state.settings``.

    The token comes from ``Authorization: Bearer`` or, for the pages, from the session
    cookie (:mod:`counterflow_shared.web.session`); a cookie-authenticated request that
    changes state must carry the session's CSRF token in ``X-CSRF-Token`` (403
    ``csrf-failed`` otherwise)."""

    async def _dep(request: Request, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> StaffPrincipal:
        s = request.app.state.settings
        token = creds.credentials if creds is not None else request.cookies.get(SESSION_COOKIE)
        if not token:
            raise Problem(401, "unauthorized", "Authentication required", "missing bearer token")
        if creds is None and request.method not in SAFE_METHODS and not csrf_ok(token, request.headers.get(CSRF_HEADER), secret=s.jwt_secret):
            raise Problem(403, "csrf-failed", "CSRF token missing or wrong", f"a request signed in by cookie needs the session's {CSRF_HEADER} header")
        principal = decode_staff_token(token, secret=s.jwt_secret, issuer=s.jwt_issuer, audience=s.jwt_audience)
        if roles and principal.role not in roles and principal.role != "admin":
            raise Problem(403, "forbidden", "Role not allowed", f"role {principal.role} may not do this (needs one of {', '.join(roles)})")
        return principal

    return _dep


def hash_secret(secret: str) -> str:
    """Argon2id hash of a device secret (what is stored)."""
    return _hasher.hash(secret)


def verify_secret(stored_hash: str, secret: str) -> bool:
    """Constant-time check of ``secret`` against ``stored_hash``."""
    try:
        return _hasher.verify(stored_hash, secret)
    except (VerificationError, InvalidHashError):
        return False
