"""Swagger UI at ``/docs`` served from the service itself: the script and stylesheet are
vendored in ``swagger-ui/`` beside this module (``swagger-ui-dist`` 5.35.0 from npm; its
README says how to update), so the page renders on a bank's closed network (FastAPI's
default loads them from a public CDN)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

SWAGGER_STATIC = "/static/swagger"
SWAGGER_DIR = Path(__file__).parent / "swagger-ui"


def install_offline_docs(app: FastAPI) -> None:
    """Serve Swagger UI's files under ``/static/swagger`` and the UI at ``/docs``
    (create the app with ``docs_url=None, redoc_url=None``)."""
    app.mount(SWAGGER_STATIC, StaticFiles(directory=SWAGGER_DIR), name="swagger-static")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} - API",
            swagger_js_url=f"{SWAGGER_STATIC}/swagger-ui-bundle.js",
            swagger_css_url=f"{SWAGGER_STATIC}/swagger-ui.css",
            swagger_favicon_url=f"{SWAGGER_STATIC}/favicon-32x32.png",
        )
