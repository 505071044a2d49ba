"""Routers of the ticketing service."""

from fastapi import APIRouter

from counterflow_ticketing.api import kiosk, lobby, operations, teller

routers: list[APIRouter] = [operations.router, kiosk.router, teller.router, lobby.router]
