"""Routers of the ticketing service."""

from fastapi import APIRouter

routers: list[APIRouter] = []
