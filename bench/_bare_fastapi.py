"""The baseline of bench/ticketing.py: a bare FastAPI endpoint with the same request
body validation and a JSON answer of the same shape, no database, no broker.
Run with ``uvicorn bench._bare_fastapi:app``."""

from __future__ import annotations

import itertools

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict

app = FastAPI(title="bare baseline")
_numbers = itertools.count(1)


class ServiceRequest(BaseModel):
    """Same shape as the kiosk's service request."""

    model_config = ConfigDict(extra="forbid")
    service_type: str
    customer_id: str | None = None


@app.post("/v1/kiosk/service-requests", status_code=201)
async def request_service(body: ServiceRequest) -> dict:
    """Return a ticket-shaped answer."""
    n = next(_numbers)
    return {"kind": "ticket", "ticket": {"number": f"A{n:03d}", "service_type": body.service_type, "position": 1, "estimated_wait_s": 0.0, "priority": 0}}
