"""``GET /metrics`` of an API process and the metrics listener of a worker process."""

from __future__ import annotations

import structlog
from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest, start_http_server


def metrics_router() -> APIRouter:
    """Router with ``GET /metrics`` (Prometheus text exposition format 0.0.4; not in the
    OpenAPI document, it is for the scraper)."""
    router = APIRouter()

    @router.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

    return router


def serve_worker_metrics(port: int, host: str = "0.0.0.0") -> None:  # noqa: S104 - scraped from the pod network
    """Serve the registry on ``host:port`` in a daemon thread (worker processes have no
    HTTP app). ``port`` 0 turns it off."""
    if not port:
        return
    try:
        start_http_server(port, addr=host)
    except OSError as exc:  # a second worker on one machine: run on, unscraped, and say so
        structlog.get_logger(__name__).warning("metrics.listener_failed", port=port, error=repr(exc))
