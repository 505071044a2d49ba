"""The staff session of the pages: a cookie holding the staff token, and CSRF tokens.

The cookie (``cf_staff``) carries the same signed staff JWT that API clients send as a
bearer token, so the pages authenticate with exactly the identity, roles and branch
scoping the APIs trust (see :mod:`counterflow_shared.web.auth`). It is ``HttpOnly``,
``SameSite=Strict`` and ``Secure`` unless the page is served to ``localhost`` /
``127.0.0.1`` (a local run over plain HTTP).

CSRF: a request authenticated by the cookie that changes state must carry the session's
CSRF token, in the ``X-CSRF-Token`` header (scripts) or a ``csrf_token`` form field. The
token is ``HMAC-SHA256(session_secret, "csrf:" + cookie)``: bound to this session, stateless,
unguessable without the signing secret (OWASP CSRF Prevention Cheat Sheet, "Signed
Double-Submit Cookie"). ``SameSite=Strict`` is the second layer.
"""

from __future__ import annotations

import hashlib
import hmac

from starlette.requests import Request
from starlette.responses import Response

SESSION_COOKIE = "cf_staff"
LANG_COOKIE = "cf_lang"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def csrf_token_for(session_value: str, *, secret: str) -> str:
    """The CSRF token (64 hex chars) of the session cookie value ``session_value``."""
    return hmac.new(secret.encode(), b"csrf:" + session_value.encode(), hashlib.sha256).hexdigest()


def csrf_ok(session_value: str, presented: str | None, *, secret: str) -> bool:
    """Whether ``presented`` is the CSRF token of ``session_value`` (constant time)."""
    return bool(presented) and hmac.compare_digest(csrf_token_for(session_value, secret=secret), presented or "")


def is_local(request: Request) -> bool:
    """Whether the page is served to the local machine (then cookies may omit ``Secure``)."""
    return (request.url.hostname or "") in _LOCAL_HOSTS


def set_cookie(response: Response, request: Request, name: str, value: str, *, max_age_s: int) -> None:
    """Set a ``HttpOnly; SameSite=Strict; Path=/`` cookie, ``Secure`` outside localhost."""
    response.set_cookie(name, value, max_age=max_age_s, httponly=True, samesite="strict", secure=not is_local(request), path="/")


def clear_cookie(response: Response, request: Request, name: str) -> None:
    """Expire cookie ``name`` (same attributes as :func:`set_cookie`)."""
    response.delete_cookie(name, httponly=True, samesite="strict", secure=not is_local(request), path="/")
