"""Staff tokens and device credentials.

Staff (tellers, lobby managers, operations, approvers, analysts) present a bearer JWT
(RFC 7519) with ``sub``, ``role`` and ``branches`` (branch ids, or ``["*"]`` for
head-office roles), signed by the bank's identity provider with an asymmetric key and
verified against its JWKS (:mod:`counterflow_shared.web.tokens`); the issuer is checked
and every service has its own audience (``counterflow-<service>``), so a token minted for
one service is refused by the others. No service holds a signing key; locally the
development provider (:mod:`counterflow_shared.devidp`) signs.

Devices (kiosks, ATMs) authenticate with an id and a secret; only an Argon2id hash of the
secret is stored (RFC 9106 parameters as chosen by argon2-cffi's defaults).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from counterflow_shared.web.problems import Problem
from counterflow_shared.web.tokens import JwksVerifier
from counterflow_shared.web.session import CSRF_HEADER, SAFE_METHODS, SESSION_COOKIE, csrf_ok

STAFF_ROLES = ("teller", "lobby_manager", "operations", "approver", "analyst", "admin")
_hasher = PasswordHasher()
_bearer = HTTPBearer(auto_error=False, scheme_name="StaffToken", description="staff JWT of the bank's identity provider (docs/security.md)")


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


def staff_verifier(app: Any) -> JwksVerifier:
    """The app's :class:`JwksVerifier` of staff tokens, built on first use from
    ``app.state.settings`` (``jwt_jwks_url``, ``jwt_issuer``, this service's
    ``jwt_audience``, ``jwks_cache_s``, ``jwks_refresh_cooldown_s``)."""
    verifier = getattr(app.state, "staff_verifier", None)
    if verifier is None:
        s = app.state.settings
        verifier = JwksVerifier(jwks_url=s.jwt_jwks_url, issuer=s.jwt_issuer, audience=s.jwt_audience, cache_s=getattr(s, "jwks_cache_s", 300.0), refresh_cooldown_s=getattr(s, "jwks_refresh_cooldown_s", 5.0))
        app.state.staff_verifier = verifier
    return verifier


async def verify_staff_token(token: str, verifier: JwksVerifier) -> StaffPrincipal:
    """Verify a staff token (signature by a JWKS key, ``exp``, ``iss``, ``aud``) and the
    shapes of its claims.

    Raises:
        Problem: 401 for every token the service cannot verify (see
            :meth:`JwksVerifier.claims`: ``none``/``HS*``, unknown key, expired, another
            issuer or audience, an over-long ``sub``), and for ``role``/``branches`` of
            the wrong type; 503 when the identity provider's keys cannot be fetched.
    """
    claims = await verifier.claims(token)
    role = claims.get("role")
    if not isinstance(role, str) or role not in STAFF_ROLES:
        raise Problem(401, "unauthorized", "Authentication required", "token has no staff role")
    branches = claims.get("branches") or []
    if not isinstance(branches, list) or not all(isinstance(b, str) for b in branches):
        raise Problem(401, "unauthorized", "Authentication required", "token claims have the wrong shape (sub: string, branches: list of strings)")
    return StaffPrincipal(subject=claims["sub"], role=role, branches=tuple(branches))


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
        if creds is None and request.method not in SAFE_METHODS and not csrf_ok(token, request.headers.get(CSRF_HEADER), secret=s.session_secret):
            raise Problem(403, "csrf-failed", "CSRF token missing or wrong", f"a request signed in by cookie needs the session's {CSRF_HEADER} header")
        principal = await verify_staff_token(token, staff_verifier(request.app))
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


class VerifiedSecrets:
    """Per-process memo of Argon2 verifications of device secrets, bound to the stored hash.

    The caller reads the device's current ``stored_hash`` on every request (one primary-key
    read); an entry only spares the Argon2 check (tens of milliseconds by design) when both
    the stored hash and the SHA-256 of the presented secret are those verified before. A
    re-key or a revocation changes the stored hash, so the old secret fails at once on
    every instance: there is nothing to invalidate and no time-to-live to wait out.
    At most one Argon2 verification per device runs at a time, in a worker thread.
    """

    def __init__(self) -> None:
        self._verified: dict[str, tuple[str, bytes]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def _hit(self, device_id: str, stored_hash: str, digest: bytes) -> bool:
        entry = self._verified.get(device_id)
        return entry is not None and entry[0] == stored_hash and hmac.compare_digest(entry[1], digest)

    async def verify(self, device_id: str, stored_hash: str, secret: str) -> bool:
        """Whether ``secret`` matches ``stored_hash`` (the device's hash as stored now)."""
        digest = hashlib.sha256(secret.encode()).digest()
        if self._hit(device_id, stored_hash, digest):
            return True
        async with self._locks.setdefault(device_id, asyncio.Lock()):
            if self._hit(device_id, stored_hash, digest):
                return True
            if not await asyncio.to_thread(verify_secret, stored_hash, secret):
                return False
            self._verified[device_id] = (stored_hash, digest)
            return True
