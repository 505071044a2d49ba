"""Verification of bearer JWTs (RFC 7519) against an identity provider's JWKS (RFC 7517).

One :class:`JwksVerifier` per audience and process (staff tokens in every service, customer
access tokens in the mobile gateway). It keeps PyJWT's :class:`jwt.PyJWKClient` caches:
the key set is fetched once and reused for ``cache_s`` seconds; a token whose ``kid`` is not
in the cached set triggers one refetch (at most every ``refresh_cooldown_s`` seconds), so a
key the provider rotates in is picked up at the first token signed with it, and a key it
removes stops verifying within ``cache_s``.

Algorithms are fixed by the key, never by the token (RFC 8725 section 3.1): the token's
``alg`` must equal the algorithm of the JWK its ``kid`` names (``RS256``/``PS256`` family
for RSA keys, ``ES256``/``ES384``/``ES512`` by curve, ``EdDSA`` for OKP keys). Symmetric
(``oct``) keys and the ``none`` and ``HS*`` algorithms are refused outright: a service that
can verify an HMAC token can also mint one.

Cost per request on the hot path: one unverified header parse, a dictionary look-up in the
cached key set, one signature verification (ES256: about 0.1 ms of CPU); no I/O and no
thread hop unless the set is stale or the ``kid`` unknown.

The JWKS URL is ``https://...`` (the bank's provider) or, locally, ``file:///...`` (the
JWKS file of the development identity provider, :mod:`counterflow_shared.devidp`).
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any
from urllib.parse import unquote, urlparse

import jwt
from jwt import PyJWK, PyJWKClient
from jwt.exceptions import PyJWKClientConnectionError, PyJWKClientError, PyJWKSetError

from counterflow_shared.web.problems import Problem

#: algorithms a token may name; everything else (``none``, ``HS256``...) is refused before
#: any key is looked up
ASYMMETRIC_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"})
#: longest ``sub`` accepted (characters): ids of staff and customers are far shorter, and
#: every service stores the subject in audit columns of this width
MAX_SUBJECT_CHARS = 128


class _FileAwareJWKClient(PyJWKClient):
    """:class:`PyJWKClient` that also reads a ``file://`` JWKS (the local development
    provider's key file), with the same caching and rotation behaviour as over HTTPS."""

    def __init__(self, uri: str, **kwargs: Any) -> None:
        parsed = urlparse(uri)
        self._path = unquote(parsed.path) if parsed.scheme == "file" else None
        # PyJWKClient accepts only http(s) (it refuses attacker-chosen schemes); the file
        # path here comes from our own settings, never from a token.
        super().__init__("https://jwks.invalid/" if self._path else uri, **kwargs)
        self.uri = uri

    def fetch_data(self) -> Any:
        """Read the key set (from the file, or over HTTP(S) by PyJWT)."""
        if self._path is None:
            return super().fetch_data()
        try:
            with open(self._path, encoding="utf-8") as fh:
                data = json.load(fh)
        except (OSError, ValueError) as exc:
            raise PyJWKClientConnectionError(f"cannot read JWKS file {self._path}: {exc}") from exc
        self._last_successful_fetch = time.monotonic()
        return data


class JwksVerifier:
    """Verifies bearer JWTs of one issuer and audience against the issuer's JWKS.

    Args:
        jwks_url: ``https://...`` or ``file:///...`` URL of the key set.
        issuer: required ``iss``.
        audience: required ``aud`` (this service's own audience).
        cache_s: seconds the fetched key set is reused (PyJWKClient ``lifespan``).
        refresh_cooldown_s: least seconds between two refetches caused by unknown ``kid``s
            (bounds what a flood of forged ``kid``s can cost the provider).
        timeout_s: bound on one fetch of the key set (seconds).
        leeway_s: clock skew tolerated on ``exp``/``nbf``/``iat`` (seconds).
    """

    def __init__(self, *, jwks_url: str, issuer: str, audience: str, cache_s: float = 300.0, refresh_cooldown_s: float = 5.0, timeout_s: float = 2.0, leeway_s: float = 30.0) -> None:
        self.issuer = issuer
        self.audience = audience
        self.leeway_s = leeway_s
        self._client = _FileAwareJWKClient(jwks_url, cache_jwk_set=True, lifespan=cache_s, timeout=timeout_s, cooldown_duration=refresh_cooldown_s)

    def _cached_key(self, kid: str) -> PyJWK | None:
        cache = self._client.jwk_set_cache
        jwk_set = cache.get() if cache is not None else None
        if jwk_set is None:
            return None
        return next((k for k in jwk_set.keys if k.key_id == kid and k.public_key_use in ("sig", None)), None)

    async def signing_key(self, kid: str) -> PyJWK:
        """The JWK named ``kid``: from the cached set, else fetched (in a worker thread).

        Raises:
            Problem: 401 when no key has this ``kid``; 503 (``Retry-After: 5``) when the key
                set cannot be fetched (the identity provider is down and nothing is cached).
        """
        key = self._cached_key(kid)
        if key is not None:
            return key
        try:
            return await asyncio.to_thread(self._client.get_signing_key, kid)
        except PyJWKClientConnectionError as exc:
            raise Problem(503, "identity-provider-unavailable", "Identity provider unavailable", "the token signing keys cannot be fetched; try again shortly", retry_after_s=5) from exc
        except (PyJWKClientError, PyJWKSetError) as exc:
            raise _unauthorized(f"no signing key {kid!r} at the identity provider") from exc

    async def claims(self, token: str, *, required: tuple[str, ...] = ("exp", "iat", "sub", "iss", "aud")) -> dict[str, Any]:
        """The verified claims of ``token``.

        Raises:
            Problem: 401 ``unauthorized`` when the token is malformed, names ``none``/``HS*``
                or another algorithm than its key's, has no ``kid``, an unknown key, a bad
                signature, is expired or not yet valid, has another issuer or audience, or a
                ``sub`` that is not a string of 1..:data:`MAX_SUBJECT_CHARS` characters;
                503 when the key set cannot be fetched.
        """
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise _unauthorized(f"malformed token: {exc}") from exc
        alg, kid = header.get("alg"), header.get("kid")
        if alg not in ASYMMETRIC_ALGORITHMS:
            raise _unauthorized(f"algorithm {alg!r} is not accepted (asymmetric signatures only)")
        if not isinstance(kid, str) or not kid:
            raise _unauthorized("token header has no key id (kid)")
        key = await self.signing_key(kid)
        if key.key_type == "oct" or key.algorithm_name != alg:
            raise _unauthorized(f"algorithm {alg!r} does not match the key {kid!r} ({key.algorithm_name})")
        try:
            claims = jwt.decode(token, key.key, algorithms=[key.algorithm_name], issuer=self.issuer, audience=self.audience, leeway=self.leeway_s, options={"require": list(required)})
        except (jwt.PyJWTError, ValueError, TypeError) as exc:
            raise _unauthorized(f"invalid token: {exc}") from exc
        sub = claims.get("sub")
        if not isinstance(sub, str) or not 0 < len(sub) <= MAX_SUBJECT_CHARS:
            raise _unauthorized(f"token subject (sub) must be a string of 1 to {MAX_SUBJECT_CHARS} characters")
        return claims


def _unauthorized(detail: str) -> Problem:
    return Problem(401, "unauthorized", "Authentication required", detail)
