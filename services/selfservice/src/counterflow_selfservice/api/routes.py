"""Routers of the selfservice service."""

from fastapi import APIRouter

routers: list[APIRouter] = []
