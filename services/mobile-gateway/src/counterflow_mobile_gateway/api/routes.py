"""Routers of the mobile-gateway service."""

from fastapi import APIRouter

from counterflow_mobile_gateway.api import appointments, branches, decisions, drafts, notifications, offers, tickets

routers: list[APIRouter] = [branches.router, tickets.router, offers.router, appointments.router, drafts.router, notifications.router, decisions.router]
