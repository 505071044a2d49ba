"""Customer authentication: the gateway implements no OAuth grant (the password grant is
gone, RFC 9700 §2.4) and verifies the access tokens of the bank's OpenID Connect provider
against its JWKS (locally the development provider, counterflow_shared.devidp)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

from counterflow_shared.devidp import issue_customer_token, issue_staff_token, provider


async def test_a_token_of_the_provider_is_accepted(client, kit):
    customer = await kit.new_customer(client)
    claims = jwt.decode(customer.tokens["access_token"], options={"verify_signature": False})
    assert claims["iss"] == "counterflow-dev-customer-idp" and claims["aud"] == "counterflow-mobile" and claims["sub"] == customer.customer_id
    r = await client.get("/v1/tickets", headers=customer.headers)
    assert r.status_code == 200 and r.json() == []


async def test_the_password_grant_and_the_gateways_own_provider_are_gone(client):
    form = {"grant_type": "password", "username": "someone", "password": "correct horse battery"}
    assert (await client.post("/v1/auth/token", data=form)).status_code == 404
    assert (await client.post("/v1/auth/customers", json={"username": "someone", "password": "correct horse battery"})).status_code == 404
    assert (await client.get("/.well-known/jwks.json")).status_code == 404
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert not [p for p in paths if p.startswith("/v1/auth") or "jwks" in p]


async def test_tokens_the_provider_did_not_issue_for_the_app_are_401(client, app):
    s = app.state.settings
    now = datetime.now(UTC)
    claims = {"iss": s.customer_jwt_issuer, "aud": s.customer_jwt_audience, "sub": "c-1", "scope": "customer", "iat": now, "exp": now + timedelta(minutes=5)}
    kid, _ = provider().signing_key()
    tokens = {
        "expired": provider().sign({**claims, "iat": now - timedelta(hours=2), "exp": now - timedelta(hours=1)}),
        "other key": jwt.encode(claims, ec.generate_private_key(ec.SECP256R1()), algorithm="ES256", headers={"kid": kid}),
        "other audience": provider().sign({**claims, "aud": "someone-else"}),
        "other issuer": provider().sign({**claims, "iss": "https://evil.example"}),
        "no customer scope": provider().sign({k: v for k, v in claims.items() if k != "scope"}),
        "staff token": issue_staff_token(subject="c-1", role="operations", branches=["*"]),
        "hs256": jwt.encode(claims, "a-shared-secret-0123456789-0123456789", algorithm="HS256", headers={"kid": kid}),
        "sub over 128 characters": issue_customer_token(customer_id="c" * 200),
        "garbage": "not-a-jwt",
    }
    for kind, token in tokens.items():
        r = await client.get("/v1/tickets", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401, (kind, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
    assert (await client.get("/v1/tickets")).status_code == 401
