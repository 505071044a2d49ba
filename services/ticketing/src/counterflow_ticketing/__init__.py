"""Counterflow ticketing service."""
