"""Base of the services' response bodies (pydantic models used as ``response_model``).

Responses may gain fields later (an additive change): the base lets fields that a model
does not declare yet pass through instead of silently dropping them, and clients ignore
fields they do not know. Times are ISO 8601 strings with offset, marked
``format: date-time`` (:data:`DATE_TIME`) or ``format: date`` (:data:`DATE`) in the schema.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

#: ``json_schema_extra`` of an ISO 8601 instant kept as the string the domain formats
DATE_TIME: dict[str, Any] = {"format": "date-time"}
#: ``json_schema_extra`` of an ISO 8601 calendar date
DATE: dict[str, Any] = {"format": "date"}


class ResponseBody(BaseModel):
    """Base of response bodies: undeclared fields pass through."""

    model_config = ConfigDict(extra="allow")


def event_stream(description: str) -> dict[int | str, dict[str, Any]]:
    """``responses=`` entry of a server-sent events route: 200 ``text/event-stream``
    (RFC 8895 / WHATWG HTML "server-sent events"); ``description`` names the events and
    their ``data`` (JSON)."""
    return {200: {"description": description, "content": {"text/event-stream": {"schema": {"type": "string"}}}}}
