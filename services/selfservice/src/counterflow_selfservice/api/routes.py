"""Routers of the selfservice service."""

from fastapi import APIRouter

from counterflow_selfservice.api import device, operations

routers: list[APIRouter] = [operations.router, device.router]
