"""Routers of the ticketing service."""

from fastapi import APIRouter

from counterflow_ticketing.api import kiosk, lobby, operations, teller

routers: list[APIRouter] = [operations.router, kiosk.router, teller.router, lobby.router]

from counterflow_ticketing.api.rules import router as rules_router  # noqa: E402 - channel rules governance (issue 7)
routers.append(rules_router)

from counterflow_ticketing.api.decisions import router as decisions_router  # noqa: E402 - reading decisions back (issue 17)
routers.append(decisions_router)

from counterflow_ticketing.api.sla import router as sla_router  # noqa: E402 - SLA per branch and service type (issue 17)
routers.append(sla_router)

from counterflow_ticketing.api.productivity import router as productivity_router  # noqa: E402 - productivity per teller and branch (issue 17)
routers.append(productivity_router)

from counterflow_ticketing.api.feedback import router as feedback_router  # noqa: E402 - feedback after service (issue 17)
routers.append(feedback_router)
