"""The layout kit of the branch pages: a base template, one stylesheet, one script, the
vendored Swagger UI, gettext catalogs, and staff sign-in with a cookie session.

Each service renders its own pages (the service owns their data) with
:class:`PageKit`::

    kit = PageKit(package_dir / "pages", nav=...)
    kit.install(app)                     # /static/kit, /static/app, /signin, /signout, /lang
    staff = Depends(kit.staff("lobby_manager"))   # page dependency: 303 to /signin when signed out
    return kit.render(request, "lobby.html", staff=staff, lobby=...)

Nothing is loaded from the internet: the scripts and styles are files of this package,
served by the service itself (Swagger UI: :mod:`counterflow_shared.web.docs`).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape

from counterflow_shared.web.auth import STAFF_ROLES, StaffPrincipal, staff_verifier, verify_staff_token
from counterflow_shared.web.pages.i18n import DEFAULT_LANGUAGE, LANGUAGES, from_accept_language, load_translations, normalise
from counterflow_shared.web.problems import Problem
from counterflow_shared.web.session import CSRF_FIELD, LANG_COOKIE, SESSION_COOKIE, clear_cookie, csrf_ok, csrf_token_for, set_cookie

KIT_DIR = Path(__file__).parent
SIGNIN_COOKIE = "cf_signin"
#: how each staff role is named on the pages (English msgids)
ROLE_LABELS = {"teller": "Teller", "lobby_manager": "Lobby manager", "operations": "Operations", "approver": "Approver", "analyst": "Analyst", "admin": "Administrator"}
#: texts of the kit shown on pages besides its templates' (see :mod:`.texts`)
KIT_TEXTS = (
    *ROLE_LABELS.values(),
    "The form expired. Please sign in again.",
    "Choose a role, a staff id and at least one branch.",
    "Paste the staff token issued by the bank's identity provider.",
    "This is not a valid staff token.",
    "Role not allowed",
    "Not allowed for this branch",
    "Not found",
    "CSRF token missing or wrong",
)
#: a page session lasts a teller's shift (seconds); the token inside expires with it
SESSION_TTL_S = 10 * 3600


class PageRedirect(Exception):
    """Raised by a page dependency to send the browser elsewhere (303)."""

    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.location = location


class PageProblem(Exception):
    """An error shown as an HTML page with its status (403 other branch, 404 unknown)."""

    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail = status, title, detail


@dataclass(frozen=True)
class NavLink:
    """A header link: ``label`` (English msgid), ``href`` (may contain ``{branch}``),
    shown to ``roles`` (all staff when empty)."""

    label: str
    href: str
    roles: tuple[str, ...] = ()


@dataclass
class PageKit:
    """Templates, translations and sign-in of one service's pages.

    ``pages_dir`` holds the service's ``templates/``, ``static/`` and ``locales/``;
    ``branch_language`` (optional, async) gives a branch's default language code;
    ``nav`` is the header navigation; ``texts`` the English msgids the service shows
    besides its templates' literal ``_()`` calls (scripts' strings, statuses, names).
    """

    pages_dir: Path
    service: str
    nav: Sequence[NavLink] = ()
    texts: Sequence[str] = ()
    branch_language: Callable[[Request, str], Awaitable[str | None]] | None = None
    env: Environment = field(init=False)
    translations: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        self.env = Environment(
            loader=ChoiceLoader([FileSystemLoader(self.pages_dir / "templates"), FileSystemLoader(KIT_DIR / "templates")]),
            autoescape=select_autoescape(["html"]),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.translations = load_translations([KIT_DIR / "locales", self.pages_dir / "locales"])

    # -- installation -------------------------------------------------------------------
    def install(self, app: FastAPI) -> None:
        """Mount the static files, sign-in / sign-out / language
        routes and the HTML error handlers on ``app``."""
        app.mount("/static/kit", StaticFiles(directory=KIT_DIR / "static"), name="kit-static")
        if (self.pages_dir / "static").is_dir():
            app.mount("/static/app", StaticFiles(directory=self.pages_dir / "static"), name="app-static")
        app.state.page_kit = self

        @app.get("/signin", include_in_schema=False)
        async def signin_form(request: Request, next: str = "/") -> Response:
            return self._signin_page(request, next=next)

        @app.post("/signin", include_in_schema=False)
        async def signin(
            request: Request,
            csrf_token: str = Form(""),
            next: str = Form("/"),
            token: str = Form(""),
            role: str = Form(""),
            subject: str = Form(""),
            branches: str = Form(""),
            lang: str = Form(""),
        ) -> Response:
            return await self._signin(request, csrf_token=csrf_token, next=next, token=token, role=role, subject=subject, branches=branches, lang=lang)

        @app.post("/signout", include_in_schema=False)
        async def signout(request: Request, csrf_token: str = Form("")) -> Response:
            cookie = request.cookies.get(SESSION_COOKIE, "")
            if cookie and not csrf_ok(cookie, csrf_token, secret=app.state.settings.session_secret):
                raise PageProblem(403, "CSRF token missing or wrong", "Reload the page and try again.")
            response = RedirectResponse("/signin", status_code=303)
            clear_cookie(response, request, SESSION_COOKIE)
            return response

        @app.get("/lang/{code}", include_in_schema=False)
        async def choose_language(request: Request, code: str, next: str = "/") -> Response:
            lang = normalise(code) or DEFAULT_LANGUAGE
            response = RedirectResponse(_safe_next(next), status_code=303)
            set_cookie(response, request, LANG_COOKIE, lang, max_age_s=365 * 86400)
            return response

        @app.exception_handler(PageRedirect)
        async def _redirect(request: Request, exc: PageRedirect) -> Response:
            return RedirectResponse(exc.location, status_code=303)

        @app.exception_handler(PageProblem)
        async def _page_problem(request: Request, exc: PageProblem) -> Response:
            return self.render(request, "error.html", status_code=exc.status, staff=None, error=exc)

    # -- sign-in ------------------------------------------------------------------------
    def _signin_page(self, request: Request, *, next: str, error: str | None = None, status_code: int = 200) -> Response:
        nonce = request.cookies.get(SIGNIN_COOKIE) or secrets.token_urlsafe(24)
        settings = request.app.state.settings
        response = self.render(request, "signin.html", status_code=status_code, staff=None, next=_safe_next(next), signin_csrf=nonce, error=error, dev_sign_in=settings.dev_sign_in, roles=STAFF_ROLES)
        set_cookie(response, request, SIGNIN_COOKIE, nonce, max_age_s=3600)
        return response

    async def _signin(self, request: Request, *, csrf_token: str, next: str, token: str, role: str, subject: str, branches: str, lang: str) -> Response:
        s = request.app.state.settings
        nonce = request.cookies.get(SIGNIN_COOKIE)
        if not nonce or not secrets.compare_digest(nonce, csrf_token):
            return self._signin_page(request, next=next, error="The form expired. Please sign in again.", status_code=403)
        if token.strip():
            token = token.strip()
        elif s.dev_sign_in:
            names = [b.strip() for b in branches.split(",") if b.strip()]
            if role not in STAFF_ROLES or not subject.strip() or not names:
                return self._signin_page(request, next=next, error="Choose a role, a staff id and at least one branch.", status_code=422)
            from counterflow_shared.devidp import STAFF_AUDIENCES, issue_staff_token  # development only

            # every service's audience: the pages of all four share the cookie on one host
            token = issue_staff_token(issuer=s.jwt_issuer, audience=sorted({s.jwt_audience, *STAFF_AUDIENCES}), subject=subject.strip(), role=role, branches=names, ttl_s=SESSION_TTL_S)
        else:
            return self._signin_page(request, next=next, error="Paste the staff token issued by the bank's identity provider.", status_code=422)
        try:
            await verify_staff_token(token, staff_verifier(request.app))
        except Problem:
            return self._signin_page(request, next=next, error="This is not a valid staff token.", status_code=401)
        response = RedirectResponse(_safe_next(next), status_code=303)
        set_cookie(response, request, SESSION_COOKIE, token, max_age_s=SESSION_TTL_S)
        clear_cookie(response, request, SIGNIN_COOKIE)
        if (chosen := normalise(lang)) is not None:
            set_cookie(response, request, LANG_COOKIE, chosen, max_age_s=365 * 86400)
        return response

    def staff(self, *roles: str) -> Callable[[Request], Awaitable[StaffPrincipal]]:
        """Page dependency: the signed-in :class:`StaffPrincipal`; a 303 to ``/signin``
        when there is no valid session; a 403 page when the role is not in ``roles``
        (``admin`` always passes)."""

        async def _dep(request: Request) -> StaffPrincipal:
            token = request.cookies.get(SESSION_COOKIE)
            target = "/signin?next=" + quote(request.url.path + (f"?{request.url.query}" if request.url.query else ""), safe="")
            if not token:
                raise PageRedirect(target)
            try:
                principal = await verify_staff_token(token, staff_verifier(request.app))
            except Problem as exc:
                raise PageRedirect(target) from exc
            if roles and principal.role not in roles and principal.role != "admin":
                raise PageProblem(403, "Role not allowed", f"role {principal.role} may not open this page")
            return principal

        return _dep

    @staticmethod
    def require_branch(staff: StaffPrincipal, branch_id: str) -> None:
        """403 page unless ``staff`` covers ``branch_id``."""
        if not staff.may_act_on(branch_id):
            raise PageProblem(403, "Not allowed for this branch", f"staff {staff.subject} may not see branch {branch_id}")

    # -- rendering ----------------------------------------------------------------------
    def language(self, request: Request, branch_language: str | None = None) -> str:
        """The user's language: cookie, else the branch's, else ``Accept-Language``, else English."""
        return normalise(request.cookies.get(LANG_COOKIE)) or normalise(branch_language) or from_accept_language(request.headers.get("accept-language")) or DEFAULT_LANGUAGE

    def render(self, request: Request, template: str, *, status_code: int = 200, staff: StaffPrincipal | None, branch_language: str | None = None, js_strings: Sequence[str] = (), **context: Any) -> HTMLResponse:
        """Render ``template`` in the user's language. ``js_strings``: English msgids the
        page's script needs, passed to it translated (``CF.t``)."""
        lang = self.language(request, branch_language)
        tr = self.translations.get(lang) or self.translations["en"]
        cookie = request.cookies.get(SESSION_COOKIE, "")
        csrf = csrf_token_for(cookie, secret=request.app.state.settings.session_secret) if cookie and staff is not None else ""
        nav = [
            {"label": tr.gettext(link.label), "href": link.href, "active": request.url.path == link.href}
            for link in self.nav
            if staff is not None and (not link.roles or staff.role in link.roles or staff.role == "admin")
        ]
        html = self.env.get_template(template).render(
            request=request,
            _=tr.gettext,
            lang=lang,
            html_lang="zh-Hans" if lang == "zh_CN" else "en",
            languages=LANGUAGES,
            role_labels=ROLE_LABELS,
            staff=staff,
            csrf_token=csrf,
            csrf_field=CSRF_FIELD,
            service=self.service,
            nav=nav,
            i18n_json=json.dumps({s: tr.gettext(s) for s in js_strings}, ensure_ascii=False),
            **context,
        )
        response = HTMLResponse(html, status_code=status_code)
        response.headers["Content-Security-Policy"] = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["Cache-Control"] = "no-store"
        return response


def _safe_next(next_url: str) -> str:
    """Only same-origin paths (``/...`` but not ``//host``) are followed after sign-in."""
    return next_url if next_url.startswith("/") and not next_url.startswith("//") and "\\" not in next_url else "/"
