"""Customer identity: the built-in development identity provider and token checks.

Access tokens are signed JWTs (RFC 7519) with the registered claims ``iss``, ``aud``,
``sub`` (the customer id), ``iat``, ``nbf``, ``exp``, ``jti`` and ``scope``, signed with
ES256 (ECDSA P-256 + SHA-256, RFC 7518 §3.4) or RS256. They are short-lived (settings
``access_token_ttl_s``). Refresh tokens are opaque random strings (256 bits); only their
SHA-256 is stored and each is single-use (rotation, as recommended by the OAuth 2.0
Security BCP, RFC 9700 §4.14.2): a second use of the same refresh token is refused.

A bank replaces the development provider with its own: it sets issuer, audience and its
public key, and turns ``dev_idp_enabled`` off; verification does not change.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
import structlog
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from counterflow_shared.web.problems import Problem

log = structlog.get_logger(__name__)

CUSTOMER_SCOPE = "customer"


@dataclass(frozen=True)
class CustomerPrincipal:
    """An authenticated customer: ``customer_id`` from the token's ``sub``;
    ``expires_at`` (UTC) from its ``exp``, when the token stops being valid."""

    customer_id: str
    expires_at: datetime | None = None


def unauthorized(detail: str) -> Problem:
    """401 problem with the ``WWW-Authenticate`` hint of RFC 6750 §3 in ``detail``."""
    return Problem(401, "unauthorized", "Authentication required", detail)


class TokenAuthority:
    """Signs and verifies customer access tokens.

    Args:
        issuer / audience: ``iss`` and ``aud`` written and required.
        algorithm: ``ES256`` or ``RS256``.
        private_key_pem: signing key (PEM); empty = generate one (development only).
        public_key_pem: verification key (PEM); empty = the public half of the signing key.
        access_ttl_s: access token lifetime in seconds.

    Raises:
        ValueError: unsupported algorithm, or neither key usable for verification.
    """

    def __init__(self, *, issuer: str, audience: str, algorithm: str, private_key_pem: str, public_key_pem: str, access_ttl_s: int) -> None:
        if algorithm not in ("ES256", "RS256"):
            raise ValueError(f"customer_jwt_algorithm must be ES256 or RS256, not {algorithm!r}")
        self.issuer, self.audience, self.algorithm, self.access_ttl_s = issuer, audience, algorithm, access_ttl_s
        self._private = None
        if private_key_pem:
            self._private = serialization.load_pem_private_key(private_key_pem.encode(), password=None)
        elif not public_key_pem:
            log.warning("identity.generated_dev_key", algorithm=algorithm, note="tokens are valid in this process only")
            self._private = generate_private_key(algorithm)
        self._public = serialization.load_pem_public_key(public_key_pem.encode()) if public_key_pem else self._private.public_key()  # type: ignore[union-attr]

    @property
    def can_sign(self) -> bool:
        """Whether this authority holds a signing key (the development provider)."""
        return self._private is not None

    def public_jwk(self) -> dict:
        """The verification key as a JWK (RFC 7517), for ``/.well-known/jwks.json``."""
        jwk = jwt.algorithms.get_default_algorithms()[self.algorithm].to_jwk(self._public, as_dict=True)
        return {**jwk, "alg": self.algorithm, "use": "sig", "kid": self.key_id}

    @property
    def key_id(self) -> str:
        """``kid``: first 16 hex digits of the SHA-256 of the public key (DER)."""
        der = self._public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        return hashlib.sha256(der).hexdigest()[:16]

    def issue_access_token(self, customer_id: str, *, now: datetime | None = None) -> str:
        """A signed access token for ``customer_id`` valid ``access_ttl_s`` seconds.

        Raises:
            RuntimeError: this authority has only a verification key.
        """
        if self._private is None:
            raise RuntimeError("no signing key: the development identity provider is not configured")
        now = now or datetime.now(UTC)
        claims = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": customer_id,
            "iat": now,
            "nbf": now,
            "exp": now + timedelta(seconds=self.access_ttl_s),
            "jti": uuid.uuid4().hex,
            "scope": CUSTOMER_SCOPE,
        }
        return jwt.encode(claims, self._private, algorithm=self.algorithm, headers={"kid": self.key_id})

    def verify(self, token: str) -> CustomerPrincipal:
        """Check signature, ``exp``/``nbf``, ``iss``, ``aud`` and the customer scope.

        Raises:
            Problem: 401 ``unauthorized`` for any invalid, expired or foreign token.
        """
        try:
            claims = jwt.decode(
                token,
                self._public,
                algorithms=[self.algorithm],
                issuer=self.issuer,
                audience=self.audience,
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            )
        except (jwt.PyJWTError, ValueError, TypeError) as exc:  # ValueError: a key the header's algorithm cannot load
            raise unauthorized(f"invalid access token: {exc}") from exc
        if CUSTOMER_SCOPE not in str(claims.get("scope", "")).split():
            raise unauthorized("token lacks the customer scope")
        return CustomerPrincipal(customer_id=str(claims["sub"]), expires_at=datetime.fromtimestamp(int(claims["exp"]), UTC))


def generate_private_key(algorithm: str):  # noqa: ANN201 - a cryptography private key
    """A new signing key: P-256 for ES256, 2048-bit RSA for RS256 (NIST SP 800-57 minimum)."""
    if algorithm == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def private_key_pem(key) -> str:  # noqa: ANN001
    """PEM (PKCS#8, unencrypted) of a private key, for settings and benchmarks."""
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()


def new_refresh_token() -> tuple[str, str]:
    """A new refresh token and the SHA-256 hex digest that is stored: ``(token, hash)``."""
    token = secrets.token_urlsafe(32)
    return token, hash_refresh_token(token)


def hash_refresh_token(token: str) -> str:
    """SHA-256 hex digest of a refresh token (a 256-bit random token needs no slow hash)."""
    return hashlib.sha256(token.encode()).hexdigest()
