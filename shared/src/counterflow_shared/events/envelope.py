"""CloudEvents 1.0 envelope (JSON structured mode) around a typed pydantic payload.

Spec: CloudEvents 1.0.2, https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/spec.md
(required: ``id``, ``source``, ``specversion``, ``type``; optional used here:
``subject``, ``time``, ``datacontenttype``, ``dataschema``). The Kafka record key is the
``subject`` (the partition key named in the catalog); the value is the JSON envelope.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

SCHEMA_BASE = "https://counterflow.dev/schemas/events/"


class Envelope(BaseModel):
    """One event as it travels: CloudEvents attributes plus ``data`` (a JSON object).

    ``data`` is kept as a plain dict so that a consumer can route on ``type`` before
    choosing the payload model; :func:`counterflow_shared.events.catalog.payload_of`
    validates it into the catalog's model.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(description="unique event id (UUID4); consumers deduplicate on it")
    source: str = Field(description="URI reference of the producing service, e.g. /counterflow/ticketing")
    type: str = Field(description="catalog event type, e.g. branch.ticket.issued.v1")
    specversion: Literal["1.0"] = "1.0"
    time: AwareDatetime = Field(description="when the fact happened (UTC)")
    subject: str = Field(description="partition key of the event (see the catalog)")
    datacontenttype: Literal["application/json"] = "application/json"
    dataschema: str = Field(description="URI of the JSON Schema of data")
    data: dict[str, Any]

    def to_bytes(self) -> bytes:
        """Serialise to the UTF-8 JSON bytes written to Kafka."""
        return self.model_dump_json().encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> "Envelope":
        """Parse Kafka record bytes; raises :class:`pydantic.ValidationError` when malformed."""
        return cls.model_validate_json(raw)


def new_event(payload: BaseModel, *, source: str, time: datetime | None = None, event_id: str | None = None) -> Envelope:
    """Wrap ``payload`` (an instance of a catalog payload model) in an envelope.

    The event type, schema URI and subject (the Kafka key) come from the catalog entry
    registered for ``type(payload)``.

    Raises:
        KeyError: when the payload's class is not in the catalog.
    """
    from counterflow_shared.events.catalog import entry_for_payload

    entry = entry_for_payload(type(payload))
    return Envelope(
        id=event_id or str(uuid.uuid4()),
        source=source,
        type=entry.type,
        time=time or datetime.now(UTC),
        subject=entry.key_of(payload),
        dataschema=f"{SCHEMA_BASE}{entry.type}.json",
        data=payload.model_dump(mode="json"),
    )
