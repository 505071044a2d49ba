"""Routers of the selfservice service."""

from fastapi import APIRouter

from counterflow_selfservice.api import device, fleet, operations

routers: list[APIRouter] = [operations.router, fleet.router, device.router]
