"""Counterflow scoring service."""
