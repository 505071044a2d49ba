"""Development identity provider endpoints: customer registration, the OAuth 2.0 token
endpoint (``application/x-www-form-urlencoded``, RFC 6749 §3.2) and the JWKS."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import parse_qs

from fastapi import APIRouter, Body, Request
from fastapi.responses import JSONResponse

from counterflow_shared.web.problems import Problem, invalid
from counterflow_mobile_gateway.api.dependencies import AuthorityDep, SessionDep
from counterflow_mobile_gateway.api.schemas import RegisterCustomer
from counterflow_mobile_gateway.domain import customers

router = APIRouter(prefix="/v1/auth", tags=["auth"])
wellknown = APIRouter(tags=["auth"])


def _require_dev_idp(request: Request) -> None:
    if not request.app.state.settings.dev_idp_enabled or not request.app.state.authority.can_sign:
        raise Problem(404, "not-found", "Not found", "the development identity provider is disabled")


@router.post("/customers", status_code=201, summary="Register a customer login (development identity provider)")
async def register(request: Request, body: Annotated[RegisterCustomer, Body()], session: SessionDep) -> dict:
    """Create a login; 409 when the username is taken."""
    now = datetime.now(UTC)
    _require_dev_idp(request)
    return await customers.register(session, username=body.username, password=body.password, customer_id=body.customer_id, now=now)


#: longest accepted form fields (characters): the registration limits, and a refresh token
#: is 43 URL-safe characters (32 random bytes)
_FORM_MAX = {"username": 200, "password": 200, "refresh_token": 256}


@router.post(
    "/token",
    summary="OAuth 2.0 token endpoint (password and refresh_token grants)",
    openapi_extra={
        "requestBody": {
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": {
                        "type": "object",
                        "required": ["grant_type"],
                        "properties": {
                            "grant_type": {"type": "string", "enum": ["password", "refresh_token"]},
                            "username": {"type": "string", "maxLength": _FORM_MAX["username"]},
                            "password": {"type": "string", "maxLength": _FORM_MAX["password"]},
                            "refresh_token": {"type": "string", "maxLength": _FORM_MAX["refresh_token"]},
                        },
                    }
                }
            },
            "required": True,
        }
    },
)
async def token(request: Request, session: SessionDep, authority: AuthorityDep) -> JSONResponse:
    """Issue an access token (``expires_in`` seconds) and a single-use refresh token.
    Token times always follow the real clock (never the API's overridable ``Now``)."""
    now = datetime.now(UTC)
    _require_dev_idp(request)
    form = {k: v[0] for k, v in parse_qs((await request.body()).decode(errors="replace")).items()}
    for name, longest in _FORM_MAX.items():
        if len(form.get(name, "")) > longest:
            raise invalid(f"body.{name}", f"at most {longest} characters")
    grant = form.get("grant_type")
    ttl = request.app.state.settings.refresh_token_ttl_s
    if grant == "password":
        for name in ("username", "password"):
            if not form.get(name):
                raise invalid(f"body.{name}", "required for grant_type=password")
        tokens = await customers.password_grant(session, authority, username=form["username"], password=form["password"], refresh_ttl_s=ttl, now=now)
    elif grant == "refresh_token":
        if not form.get("refresh_token"):
            raise invalid("body.refresh_token", "required for grant_type=refresh_token")
        tokens = await customers.refresh_grant(session, authority, refresh_token=form["refresh_token"], refresh_ttl_s=ttl, now=now)
    else:
        raise Problem(400, "unsupported-grant-type", "Unsupported grant type", "grant_type must be password or refresh_token",
                      error="unsupported_grant_type", errors=[{"field": "body.grant_type", "message": "must be password or refresh_token"}])
    return JSONResponse(tokens, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


@wellknown.get("/.well-known/jwks.json", summary="Verification key of customer access tokens (RFC 7517)")
async def jwks(authority: AuthorityDep) -> dict:
    """The JSON Web Key Set with the token verification key."""
    return {"keys": [authority.public_jwk()]}
