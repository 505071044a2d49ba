"""Counterflow mobile-gateway service."""
