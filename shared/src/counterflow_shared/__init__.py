"""Counterflow service defaults shared by every service.

What lives here is what all four services need and nothing of any one service's
business: the event envelope and catalog (:mod:`counterflow_shared.events`), the
transactional outbox and the consumer runtime, settings, telemetry, the RFC 9457
error format, health checks, idempotency keys and the channel-rules engine.
"""

__version__ = "0.1.0"
