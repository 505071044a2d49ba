"""The catalog as a machine-readable contract: an AsyncAPI 3.1 document generated from
the code (``docs/events/asyncapi.json``). A test regenerates it and fails on drift;
``python -m counterflow_shared.events.contract > docs/events/asyncapi.json`` updates it.

Spec: AsyncAPI 3.1.0, https://www.asyncapi.com/docs/reference/specification/v3.1.0
(validated with the reference parser, ``@asyncapi/parser``: tests/deploy/test_contracts.py)
"""

from __future__ import annotations

import json
import sys
from typing import Any

from counterflow_shared.events.catalog import CONSUMER_GROUPS, EVENT_TYPES, all_topics
from counterflow_shared.events.envelope import Envelope


def asyncapi_document() -> dict[str, Any]:
    """Build the AsyncAPI document: one channel per topic, one message per event type,
    the CloudEvents envelope with each payload's JSON Schema under ``data``."""
    channels: dict[str, Any] = {}
    for topic in all_topics():
        channels[topic.name] = {
            "address": topic.name,
            "description": topic.description,
            "messages": {},
            "bindings": {
                "kafka": {
                    "partitions": topic.partitions,
                    "topicConfiguration": {
                        "cleanup.policy": ["compact"] if topic.compacted else ["delete"],
                        **({"retention.ms": topic.retention_ms} if topic.retention_ms else {}),
                    },
                }
            },
            "x-key": topic.key,
        }
    messages: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    envelope_schema = Envelope.model_json_schema(ref_template=REF_TEMPLATE)
    _hoist_defs(envelope_schema, schemas, "Envelope")
    for et in EVENT_TYPES:
        payload_schema = et.payload.model_json_schema(mode="serialization", ref_template=REF_TEMPLATE)
        _hoist_defs(payload_schema, schemas, et.type)
        schema = json.loads(json.dumps(envelope_schema))
        schema["properties"]["type"] = {"const": et.type, "type": "string"}
        schema["properties"]["data"] = payload_schema
        messages[et.type] = {
            "name": et.type,
            "title": et.payload.__name__,
            "summary": et.description,
            "contentType": "application/cloudevents+json",
            "payload": schema,
        }
        channels[et.topic.name]["messages"][et.type] = {"$ref": f"#/components/messages/{et.type.replace('.', '_')}"}
    operations = {
        f"consume_{g.name}" + ("" if i == 0 else f"_{t.name.replace('.', '_')}"): {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{t.name}"},
            "summary": f"consumer group {g.name} ({g.service}): {g.description}",
        }
        for g in CONSUMER_GROUPS
        for i, t in enumerate(g.topics)
    }
    return {
        "asyncapi": "3.1.0",
        "info": {"title": "Counterflow events", "version": "1", "description": "Every event crossing a Counterflow service border."},
        "defaultContentType": "application/cloudevents+json",
        "channels": channels,
        "operations": operations,
        "components": {
            "messages": {k.replace(".", "_"): v for k, v in messages.items()},
            "schemas": dict(sorted(schemas.items())),
        },
    }


#: Where a payload's nested models are referenced from: one shared ``components.schemas``
#: (pydantic would put them under each schema's own ``$defs`` and point ``#/$defs/...`` at the
#: document root, where AsyncAPI parsers cannot resolve them).
REF_TEMPLATE = "#/components/schemas/{model}"


def _hoist_defs(schema: dict[str, Any], into: dict[str, Any], owner: str) -> None:
    """Move ``schema["$defs"]`` into ``into`` (the document's ``components.schemas``).

    Raises:
        ValueError: two payloads define different schemas under one model name (the refs
            would silently point at the wrong one).
    """
    for name, definition in schema.pop("$defs", {}).items():
        if name in into and into[name] != definition:
            raise ValueError(f"{owner}: model {name!r} differs from another payload's {name!r}; rename one")
        into[name] = definition


def render() -> str:
    """The document as stable, pretty JSON text (what is checked in)."""
    return json.dumps(asyncapi_document(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
