"""The event backbone: envelope, catalog, outbox, consumer runtime, topic admin."""

from counterflow_shared.events.envelope import Envelope, new_event

__all__ = ["Envelope", "new_event"]
