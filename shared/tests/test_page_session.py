"""The pages' session cookie and CSRF token (counterflow_shared.web.session) and the
staff dependency accepting the cookie."""

from __future__ import annotations

import httpx
from fastapi import Depends, FastAPI
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from counterflow_shared.settings import ServiceSettings
from counterflow_shared.devidp import issue_staff_token
from counterflow_shared.web.auth import StaffPrincipal, staff_dependency
from counterflow_shared.web.problems import install_problem_handlers
from counterflow_shared.web.session import SESSION_COOKIE, csrf_ok, csrf_token_for, set_cookie


def _request(host: str) -> Request:
    return Request({"type": "http", "method": "GET", "path": "/", "headers": [(b"host", host.encode())], "scheme": "https", "server": (host, 443), "query_string": b""})


def test_the_cookie_is_secure_outside_localhost_and_always_httponly_and_strict() -> None:
    for host, secure in (("branch.bank.example", True), ("127.0.0.1:8101", False), ("localhost:8101", False)):
        response = Response()
        set_cookie(response, _request(host), SESSION_COOKIE, "token", max_age_s=60)
        header = response.headers["set-cookie"]
        assert "HttpOnly" in header and "SameSite=strict" in header
        assert ("Secure" in header) is secure, (host, header)


def test_the_csrf_token_is_bound_to_the_session_and_the_secret() -> None:
    token = csrf_token_for("session-a", secret="s1")
    assert csrf_ok("session-a", token, secret="s1")
    assert not csrf_ok("session-b", token, secret="s1")
    assert not csrf_ok("session-a", token, secret="s2")
    assert not csrf_ok("session-a", None, secret="s1")


class _Out(BaseModel):
    subject: str


async def test_a_cookie_session_authenticates_and_needs_the_csrf_header_to_change_state() -> None:
    settings = ServiceSettings()
    app = FastAPI()
    app.state.settings = settings
    install_problem_handlers(app)
    dep = staff_dependency("lobby_manager")

    @app.get("/who")
    async def who(staff: StaffPrincipal = Depends(dep)) -> _Out:
        return _Out(subject=staff.subject)

    @app.post("/act")
    async def act(staff: StaffPrincipal = Depends(dep)) -> _Out:
        return _Out(subject=staff.subject)

    token = issue_staff_token(issuer=settings.jwt_issuer, audience=settings.jwt_audience, subject="m1", role="lobby_manager", branches=["b1"])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1", cookies={SESSION_COOKIE: token}) as client:
        assert (await client.get("/who")).json() == {"subject": "m1"}
        refused = await client.post("/act")
        assert refused.status_code == 403 and refused.json()["type"].endswith("/csrf-failed")
        ok = await client.post("/act", headers={"X-CSRF-Token": csrf_token_for(token, secret=settings.session_secret)})
        assert ok.status_code == 200
        # a bearer token needs no CSRF token (no ambient credential)
        client.cookies.clear()
        assert (await client.post("/act", headers={"Authorization": f"Bearer {token}"})).status_code == 200
        assert (await client.get("/who")).status_code == 401
