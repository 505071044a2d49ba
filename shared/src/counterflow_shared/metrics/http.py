"""HTTP server metrics and the JSON access log, in one pure ASGI middleware.

Runs inside the OpenTelemetry FastAPI middleware (which wraps the whole stack), so the
access log line carries the trace id of the request's span.
"""

from __future__ import annotations

import time
from typing import Any

import structlog
from prometheus_client import Gauge, Histogram

log = structlog.get_logger("counterflow.access")

#: Bucket boundaries (seconds) recommended by the semantic conventions for
#: ``http.server.request.duration``.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)

REQUEST_DURATION = Histogram(
    "http_server_request_duration_seconds",
    "Duration of HTTP server requests (semconv http.server.request.duration), by method, route template and status.",
    ["http_request_method", "http_route", "http_response_status_code"],
    buckets=DURATION_BUCKETS,
)
ACTIVE_REQUESTS = Gauge("http_server_active_requests", "HTTP server requests in flight (semconv http.server.active_requests).", ["http_request_method"])

#: Routes polled by probes and scrapers: logged at debug level only.
QUIET_ROUTES = frozenset({"/healthz", "/readyz", "/metrics"})
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def route_template(scope: dict[str, Any]) -> str:
    """The matched route's path template (``/v1/tickets/{ticket_id}``), ``""`` when no route
    matched (a 404): the raw path would put ids into the label."""
    route = scope.get("route")
    return getattr(route, "path", "") or ""


class HttpMetricsMiddleware:
    """Times every HTTP request, counts it by route template and status, and writes one
    ``http.request`` JSON log line (method, route, path, status, ``duration_ms``)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope["method"] if scope["method"] in _METHODS else "_OTHER"
        status = 500
        started = time.perf_counter()

        async def send_with_status(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        ACTIVE_REQUESTS.labels(method).inc()
        try:
            await self.app(scope, receive, send_with_status)
        finally:
            ACTIVE_REQUESTS.labels(method).dec()
            elapsed = time.perf_counter() - started
            route = route_template(scope)
            REQUEST_DURATION.labels(method, route, str(status)).observe(elapsed)
            emit = log.debug if route in QUIET_ROUTES else (log.warning if status >= 500 else log.info)
            emit("http.request", method=method, route=route, path=scope.get("path", ""), status=status, duration_ms=round(elapsed * 1000, 2))
