"""W3C trace context in Kafka headers (https://www.w3.org/TR/trace-context/).

aiokafka wants headers as a list of ``(str, bytes)`` tuples; the outbox stores them as a
``{str: str}`` JSON object captured when the event is written, so the trace of the
HTTP request that made the change continues in every consumer of its events.
"""

from __future__ import annotations

from opentelemetry import propagate
from opentelemetry.context import Context


def current_trace_headers() -> dict[str, str]:
    """The current trace context as ``traceparent``/``tracestate`` strings (may be empty)."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


def to_kafka_headers(headers: dict[str, str]) -> list[tuple[str, bytes]]:
    """``{"traceparent": "00-..."}`` -> ``[("traceparent", b"00-...")]``."""
    return [(k, v.encode()) for k, v in headers.items()]


def context_from_kafka_headers(headers: list[tuple[str, bytes]] | tuple | None) -> Context:
    """Extract the producer's trace context from Kafka record headers."""
    carrier = {k: v.decode(errors="replace") for k, v in (headers or []) if v is not None}
    return propagate.extract(carrier)
