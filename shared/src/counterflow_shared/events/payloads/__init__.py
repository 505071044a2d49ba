"""Payload models of every event, one module per topic.

Backward compatible within a version: add optional fields only; anything else is a
new ``.v2`` event type on a new topic version.
"""
