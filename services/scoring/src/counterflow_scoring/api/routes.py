"""Routers of the scoring service."""

from fastapi import APIRouter

routers: list[APIRouter] = []
