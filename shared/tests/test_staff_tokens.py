"""Staff tokens verified against a JWKS (counterflow_shared.web.tokens, .web.auth): every
token the identity provider did not sign for this service is a 401 problem+json; key
rotation is picked up without a restart; an unreachable provider is a 503 with
Retry-After; the development provider's command prints a token the services accept."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi import Depends, FastAPI

from counterflow_shared.devidp import DevIdentityProvider
from counterflow_shared.web.auth import staff_dependency
from counterflow_shared.web.problems import install_problem_handlers
from counterflow_shared.web.tokens import MAX_SUBJECT_CHARS

ISSUER, AUDIENCE = "https://idp.bank.example", "counterflow-ticketing"


def _app(idp: DevIdentityProvider, **overrides: object) -> FastAPI:
    app = FastAPI()
    app.state.settings = SimpleNamespace(**{"jwt_jwks_url": idp.jwks_url, "jwt_issuer": ISSUER, "jwt_audience": AUDIENCE, "jwks_cache_s": 300.0, "jwks_refresh_cooldown_s": 0.0, "session_secret": "s", **overrides})
    install_problem_handlers(app)

    @app.get("/staff")
    async def staff(principal=Depends(staff_dependency("operations"))) -> dict:  # noqa: ANN001, B008
        return {"sub": principal.subject, "branches": list(principal.branches)}

    return app


@pytest.fixture
def idp(tmp_path) -> DevIdentityProvider:
    return DevIdentityProvider(tmp_path / "idp").ensure()


async def _get(app: FastAPI, token: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        return await client.get("/staff", headers=headers)


def _claims(**over: object) -> dict:
    now = datetime.now(UTC)
    return {"iss": ISSUER, "aud": AUDIENCE, "sub": "ops-1", "role": "operations", "branches": ["A"], "iat": now, "exp": now + timedelta(minutes=5), **over}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _hmac_token(claims: dict, key: bytes, kid: str) -> str:
    """HS256 keyed with ``key`` built by hand (PyJWT rightly refuses a JWK as HMAC secret)."""
    body = {k: int(v.timestamp()) if isinstance(v, datetime) else v for k, v in claims.items()}
    signing_input = f"{_b64(json.dumps({'alg': 'HS256', 'typ': 'JWT', 'kid': kid}).encode())}.{_b64(json.dumps(body).encode())}"
    return f"{signing_input}.{_b64(hmac.new(key, signing_input.encode(), hashlib.sha256).digest())}"


def _hostile_tokens(idp: DevIdentityProvider) -> dict[str, str]:
    kid, _ = idp.signing_key()
    public_jwk = json.loads(idp.jwks_path.read_text())["keys"][0]
    other_ec = ec.generate_private_key(ec.SECP256R1())
    other_rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    claims = _claims()
    unsigned = f"{_b64(json.dumps({'alg': 'none', 'kid': kid}).encode())}.{_b64(json.dumps(_claims(iat=0, exp=4_000_000_000)).encode())}."
    return {
        "alg-none": unsigned,
        # the classic confusion attack: HMAC keyed with the published public key
        "hs256-with-the-public-key": _hmac_token(claims, json.dumps(public_jwk).encode(), kid),
        "hs256-secret": jwt.encode(claims, "a-shared-secret-0123456789-0123456789", algorithm="HS256", headers={"kid": kid}),
        "other-key-same-kid": jwt.encode(claims, other_ec, algorithm="ES256", headers={"kid": kid}),
        "rs256-unknown-kid": jwt.encode(claims, other_rsa, algorithm="RS256", headers={"kid": "someone-else"}),
        "no-kid": jwt.encode(claims, other_ec, algorithm="ES256"),
        "expired": idp.sign(_claims(iat=datetime.now(UTC) - timedelta(hours=2), exp=datetime.now(UTC) - timedelta(hours=1))),
        "wrong-issuer": idp.sign(_claims(iss="https://evil.example")),
        "wrong-audience": idp.sign(_claims(aud="counterflow-selfservice")),
        "no-exp": idp.sign({k: v for k, v in _claims().items() if k != "exp"}),
        "sub-too-long": idp.sign(_claims(sub="x" * (MAX_SUBJECT_CHARS + 1))),
        "sub-not-a-string": idp.sign(_claims(sub=123)),
        "no-role": idp.sign({k: v for k, v in _claims().items() if k != "role"}),
        "branches-as-string": idp.sign(_claims(branches="AB")),
        "garbage": "not.a.token",
        "empty-segments": "..",
        "base64-junk": "eyJhbGciOiJFUzI1NiJ9.e30.AAAA",
    }


HOSTILE = ["alg-none", "hs256-with-the-public-key", "hs256-secret", "other-key-same-kid", "rs256-unknown-kid", "no-kid", "expired", "wrong-issuer", "wrong-audience", "no-exp", "sub-too-long", "sub-not-a-string", "no-role", "branches-as-string", "garbage", "empty-segments", "base64-junk"]


@pytest.mark.parametrize("kind", HOSTILE)
async def test_every_token_the_provider_did_not_sign_for_this_service_is_401_problem_json(idp, kind):
    tokens = _hostile_tokens(idp)
    assert set(tokens) == set(HOSTILE)
    r = await _get(_app(idp), tokens[kind])
    assert r.status_code == 401, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"].endswith("/unauthorized")


async def test_a_token_of_the_provider_for_this_audience_passes_and_one_without_is_401(idp):
    app = _app(idp)
    r = await _get(app, idp.staff_token(role="operations", branches=["A"], subject="ops-1", audience=AUDIENCE, issuer=ISSUER))
    assert r.status_code == 200 and r.json() == {"sub": "ops-1", "branches": ["A"]}
    # a token naming several audiences passes when this service's is among them
    assert (await _get(app, idp.staff_token(role="operations", branches=["A"], subject="ops-1", audience=["x", AUDIENCE], issuer=ISSUER))).status_code == 200
    assert (await _get(app, None)).status_code == 401
    # a teller's valid token is a 403 on an operations route
    r = await _get(app, idp.staff_token(role="teller", branches=["A"], subject="t-1", audience=AUDIENCE, issuer=ISSUER))
    assert r.status_code == 403 and r.headers["content-type"] == "application/problem+json"


async def test_a_rotated_in_key_is_fetched_at_its_first_token_and_a_retired_key_stops_after_the_cache(idp):
    app = _app(idp, jwks_cache_s=0.5)
    old_token = idp.staff_token(role="operations", branches=["A"], subject="ops-1", audience=AUDIENCE, issuer=ISSUER)
    assert (await _get(app, old_token)).status_code == 200  # the set is now cached
    old_kid, _ = idp.signing_key()
    new_kid = idp.rotate()
    new_token = idp.staff_token(role="operations", branches=["A"], subject="ops-2", audience=AUDIENCE, issuer=ISSUER)
    assert jwt.get_unverified_header(new_token)["kid"] == new_kid != old_kid
    # same process, same verifier: the unknown kid triggers one refetch
    assert (await _get(app, new_token)).status_code == 200
    assert (await _get(app, old_token)).status_code == 200  # the old key is still published
    idp.retire(old_kid)
    await asyncio.sleep(0.6)  # past jwks_cache_s
    assert (await _get(app, old_token)).status_code == 401
    assert (await _get(app, new_token)).status_code == 200


async def test_a_symmetric_key_in_the_key_set_is_never_used(idp):
    secret = b"0123456789abcdef0123456789abcdef"
    idp.jwks_path.write_text(json.dumps({"keys": [{"kty": "oct", "k": _b64(secret), "kid": "hmac", "alg": "HS256", "use": "sig"}]}))
    token = jwt.encode(_claims(), secret, algorithm="HS256", headers={"kid": "hmac"})
    assert (await _get(_app(idp), token)).status_code == 401


async def test_an_unreachable_identity_provider_is_503_with_retry_after(tmp_path):
    idp = DevIdentityProvider(tmp_path / "idp").ensure()
    token = idp.staff_token(role="operations", branches=["A"], subject="ops-1", audience=AUDIENCE, issuer=ISSUER)
    app = _app(idp, jwt_jwks_url="http://127.0.0.1:9/jwks.json")
    r = await _get(app, token)
    assert r.status_code == 503 and r.headers["retry-after"] == "5"
    assert r.json()["type"].endswith("/identity-provider-unavailable")


def test_the_documented_command_prints_a_token_for_a_role_and_branch(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "counterflow_shared.devidp", "token", "--role", "teller", "--branch", "B01", "--audience", AUDIENCE],
        env={"CF_DEV_IDP_DIR": str(tmp_path / "idp"), "PATH": "/usr/bin:/bin"}, capture_output=True, text=True, check=True, timeout=60,
    ).stdout.strip()
    public = jwt.PyJWKSet.from_json((tmp_path / "idp" / "jwks.json").read_text()).keys[0]
    claims = jwt.decode(out, public.key, algorithms=["ES256"], audience=AUDIENCE, issuer="counterflow-dev-idp")
    assert claims["role"] == "teller" and claims["branches"] == ["B01"] and claims["sub"] == "dev-teller"
