"""Routers of the mobile-gateway service."""

from fastapi import APIRouter

routers: list[APIRouter] = []
