"""Fast refusal under overload (ADR 0152): at most ``limit`` HTTP requests of a process
are in flight; one more is answered at once with ``503`` problem+json and
``Retry-After``, instead of queueing behind the others until a client or pool timeout.

A bounded queue in front of a saturated server only converts overload into latency
(Little's law: waiting time = queue length / throughput); a kiosk is better served by
an immediate "busy, retry in 1 s" that it can show and retry. A request counts until
its response starts, so server-sent-event streams (answered at once, then open for
hours) do not hold a slot. Health probes (``/healthz``, ``/readyz``) and requests asking for an event stream
are never refused, so an overloaded pod is not restarted for
being busy.
"""

from __future__ import annotations

import json
from typing import Any

from counterflow_shared.web.problems import MEDIA_TYPE, PROBLEM_BASE

#: paths never refused (liveness and readiness probes)
EXEMPT = ("/healthz", "/readyz")


def _wants_stream(scope: dict) -> bool:
    """A server-sent-event subscription (``Accept: text/event-stream``): cheap to open,
    and a burst of reconnecting displays or apps must not be refused."""
    return any(k == b"accept" and b"text/event-stream" in v for k, v in scope.get("headers", ()))


class InFlightLimit:
    """ASGI middleware bounding the requests in flight.

    Args:
        app: the wrapped ASGI app.
        limit: requests handled at once (``ServiceSettings.max_in_flight``).
        retry_after_s: the ``Retry-After`` value of a refusal (whole seconds).

    Attributes:
        in_flight: requests being handled now.
        refused: requests refused since start.
    """

    def __init__(self, app: Any, *, limit: int, retry_after_s: int = 1) -> None:
        self.app = app
        self.limit = limit
        self.in_flight = 0
        self.refused = 0
        body = {
            "type": PROBLEM_BASE + "overloaded",
            "title": "Service overloaded",
            "status": 503,
            "detail": f"more than {limit} requests in flight; nothing was applied, retry after {retry_after_s} s",
        }
        self._body = json.dumps(body).encode()
        self._headers = [(b"content-type", MEDIA_TYPE.encode()), (b"retry-after", str(retry_after_s).encode()), (b"content-length", str(len(self._body)).encode())]

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] in EXEMPT or _wants_stream(scope):
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.limit:
            self.refused += 1
            await send({"type": "http.response.start", "status": 503, "headers": self._headers})
            await send({"type": "http.response.body", "body": self._body})
            return
        self.in_flight += 1
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                self.in_flight -= 1

        async def send_and_release(message: dict) -> None:
            if message["type"] == "http.response.start":
                release()  # answered: a long stream (SSE) no longer counts as pending work
            await send(message)

        try:
            await self.app(scope, receive, send_and_release)
        finally:
            release()
