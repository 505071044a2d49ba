"""Customer identity: access tokens of the bank's OpenID Connect provider, verified here.

The app signs customers in at the bank's provider (authorization code with PKCE, RFC 7636,
done by the app); the gateway implements no grant (the password grant is gone: RFC 9700
§2.4 says it must not be used) and holds no signing key. It verifies each access token
(JWT, RFC 9068 profile) against the provider's JWKS (:mod:`counterflow_shared.web.tokens`:
asymmetric algorithms fixed by the key, ``none``/``HS*`` refused, keys cached and rotated):
``iss``, ``aud``, ``exp``, ``iat`` and a ``sub`` (the customer id) are required, and the
``scope`` must include ``customer``. Locally the development provider
(:mod:`counterflow_shared.devidp`) signs the tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from counterflow_shared.web.problems import Problem
from counterflow_shared.web.tokens import JwksVerifier

CUSTOMER_SCOPE = "customer"


@dataclass(frozen=True)
class CustomerPrincipal:
    """An authenticated customer: ``customer_id`` from the token's ``sub``;
    ``expires_at`` (UTC) from its ``exp``, when the token stops being valid."""

    customer_id: str
    expires_at: datetime | None = None


def unauthorized(detail: str) -> Problem:
    """401 problem (RFC 6750 §3 ``invalid_token``)."""
    return Problem(401, "unauthorized", "Authentication required", detail)


class CustomerTokens:
    """Verifies customer access tokens against the provider's JWKS.

    Args:
        jwks_url: the provider's key set (``https://``; locally ``file://``).
        issuer / audience: required ``iss`` and ``aud``.
        cache_s / refresh_cooldown_s: see :class:`JwksVerifier`.
    """

    def __init__(self, *, jwks_url: str, issuer: str, audience: str, cache_s: float = 300.0, refresh_cooldown_s: float = 5.0) -> None:
        self._verifier = JwksVerifier(jwks_url=jwks_url, issuer=issuer, audience=audience, cache_s=cache_s, refresh_cooldown_s=refresh_cooldown_s)

    async def verify(self, token: str) -> CustomerPrincipal:
        """The customer of ``token``.

        Raises:
            Problem: 401 for any token not signed by the provider for this audience
                (expired, foreign, ``alg`` none or HS*, over-long ``sub``...) or without
                the customer scope; 503 when the provider's keys cannot be fetched.
        """
        claims = await self._verifier.claims(token)
        if CUSTOMER_SCOPE not in str(claims.get("scope", "")).split():
            raise unauthorized("token lacks the customer scope")
        return CustomerPrincipal(customer_id=claims["sub"], expires_at=datetime.fromtimestamp(int(claims["exp"]), UTC))
