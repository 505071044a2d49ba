"""Swagger UI at ``/docs`` served from the service itself: the scripts and styles come from
the ``swagger-ui-bundle`` wheel (Swagger UI 4.15.5), so the page renders on a bank's
closed network (FastAPI's default loads them from a public CDN)."""

from __future__ import annotations

from pathlib import Path

import swagger_ui_bundle
from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

SWAGGER_STATIC = "/static/swagger"


def install_offline_docs(app: FastAPI) -> None:
    """Serve Swagger UI's files under ``/static/swagger`` and the UI at ``/docs``
    (create the app with ``docs_url=None, redoc_url=None``)."""
    app.mount(SWAGGER_STATIC, StaticFiles(directory=Path(swagger_ui_bundle.swagger_ui_path)), name="swagger-static")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} - API",
            swagger_js_url=f"{SWAGGER_STATIC}/swagger-ui-bundle.js",
            swagger_css_url=f"{SWAGGER_STATIC}/swagger-ui.css",
            swagger_favicon_url=f"{SWAGGER_STATIC}/favicon-32x32.png",
        )
