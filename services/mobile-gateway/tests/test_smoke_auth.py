"""Customer authentication: the development identity provider and token checks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt

from counterflow_mobile_gateway.domain.identity import TokenAuthority, generate_private_key, private_key_pem


async def test_register_login_and_use_token(client, kit):
    customer = await kit.new_customer(client)
    tokens = customer.tokens
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 300
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    assert claims["sub"] == customer.customer_id
    assert claims["iss"] == "counterflow-dev-customer-idp" and claims["aud"] == "counterflow-mobile"
    assert claims["exp"] - claims["iat"] == 300
    assert jwt.get_unverified_header(tokens["access_token"])["alg"] == "ES256"
    r = await client.get("/v1/tickets", headers=customer.headers)
    assert r.status_code == 200 and r.json() == []


async def test_refresh_token_rotates_and_cannot_be_reused(client, kit):
    customer = await kit.new_customer(client)
    refresh = customer.tokens["refresh_token"]
    r1 = await client.post("/v1/auth/token", data={"grant_type": "refresh_token", "refresh_token": refresh})
    assert r1.status_code == 200, r1.text
    assert r1.json()["refresh_token"] != refresh
    assert r1.headers["cache-control"] == "no-store"
    again = await client.post("/v1/auth/token", data={"grant_type": "refresh_token", "refresh_token": refresh})
    assert again.status_code == 400
    assert again.headers["content-type"].startswith("application/problem+json")
    assert again.json()["error"] == "invalid_grant"
    new_access = {"Authorization": f"Bearer {r1.json()['access_token']}"}
    assert (await client.get("/v1/drafts", headers=new_access)).status_code == 200


async def test_wrong_password_and_unknown_user_get_the_same_answer(client, kit):
    customer = await kit.new_customer(client)
    wrong = await client.post("/v1/auth/token", data={"grant_type": "password", "username": customer.username, "password": "not the password"})
    unknown = await client.post("/v1/auth/token", data={"grant_type": "password", "username": "nobody-here", "password": "whatever123"})
    assert wrong.status_code == unknown.status_code == 400
    assert wrong.json()["detail"] == unknown.json()["detail"]


async def test_missing_grant_fields_name_the_field(client):
    r = await client.post("/v1/auth/token", data={"grant_type": "password", "username": "x"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.password"
    r = await client.post("/v1/auth/token", data={"grant_type": "client_credentials"})
    assert r.status_code == 400 and r.json()["error"] == "unsupported_grant_type"


async def test_username_taken(client, kit):
    customer = await kit.new_customer(client)
    r = await client.post("/v1/auth/customers", json={"username": customer.username, "password": "another password"})
    assert r.status_code == 409


async def test_bad_tokens_are_refused(client, app, kit):
    customer = await kit.new_customer(client)
    s = app.state.settings
    now = datetime.now(UTC)
    expired = TokenAuthority(issuer=s.customer_jwt_issuer, audience=s.customer_jwt_audience, algorithm="ES256",
                             private_key_pem=kit.DEV_KEY_PEM, public_key_pem="", access_ttl_s=300).issue_access_token(customer.customer_id, now=now - timedelta(minutes=10))
    foreign_key = TokenAuthority(issuer=s.customer_jwt_issuer, audience=s.customer_jwt_audience, algorithm="ES256",
                                 private_key_pem=private_key_pem(generate_private_key("ES256")), public_key_pem="", access_ttl_s=300).issue_access_token(customer.customer_id)
    other_audience = TokenAuthority(issuer=s.customer_jwt_issuer, audience="someone-else", algorithm="ES256",
                                    private_key_pem=kit.DEV_KEY_PEM, public_key_pem="", access_ttl_s=300).issue_access_token(customer.customer_id)
    staff_hs256 = jwt.encode({"sub": customer.customer_id, "iss": s.customer_jwt_issuer, "aud": s.customer_jwt_audience, "exp": now + timedelta(minutes=5), "iat": now, "scope": "customer"}, s.jwt_secret, algorithm="HS256")
    for token in (expired, foreign_key, other_audience, staff_hs256, "not-a-jwt"):
        r = await client.get("/v1/tickets", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401, token
        assert r.headers["content-type"].startswith("application/problem+json")
    assert (await client.get("/v1/tickets")).status_code == 401


async def test_jwks_publishes_the_verification_key(client, kit):
    customer = await kit.new_customer(client)
    keys = (await client.get("/.well-known/jwks.json")).json()["keys"]
    assert keys[0]["kty"] == "EC" and keys[0]["crv"] == "P-256" and "d" not in keys[0]
    key = jwt.PyJWK(keys[0])
    claims = jwt.decode(customer.tokens["access_token"], key.key, algorithms=["ES256"], audience="counterflow-mobile")
    assert claims["sub"] == customer.customer_id
