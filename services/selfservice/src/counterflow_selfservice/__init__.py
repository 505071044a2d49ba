"""Counterflow selfservice service."""
