"""The published JSON Schema of a channel rule set document (JSON Schema 2020-12).

A rule set is bank data, written in YAML or JSON by operations staff and governed by
maker-checker approval. This module is the single source of its shape; the published
copy lives in ``docs/rules/ruleset.schema.json`` (a test fails when it drifts;
``python -m counterflow_shared.rules.schema > docs/rules/ruleset.schema.json`` updates it).

Shape (every duration in seconds, every amount a decimal string in major currency units)::

    schema_version: 1
    name: retail-default
    settings: {min_counter_wait_s, min_time_saved_s, cash_out_horizon_s, protected_needs, ...}
    default: {type: ticket}
    rules: [{id, description, priority, enabled, when: {...conditions}, then: {...action}}]
    overrides: [{branches: [...], settings: {...}, disable: [rule ids], rules: [...], default: {...}}]

Spec: JSON Schema 2020-12, https://json-schema.org/draft/2020-12/json-schema-core
"""

from __future__ import annotations

import json
import sys
from typing import Any

SCHEMA_ID = "https://counterflow.dev/schemas/ruleset/v1.json"

#: Action types. ``offer_*`` divert; ``ticket`` and ``never_divert`` issue a counter ticket
#: (optionally with a priority boost, a route to the VIP room / a relationship manager and a
#: fee notice). The first matching rule decides, so both stop later rules; ``never_divert``
#: states the intent (keep this customer at the counter) for readers and audits.
ACTION_TYPES = ("offer_device", "offer_mobile", "offer_appointment", "ticket", "never_divert")
OFFER_TYPES = ("offer_device", "offer_mobile", "offer_appointment")
ROUTES = ("vip_room", "relationship_manager", "wealth_desk")
DAY_TYPES = ("weekday", "saturday", "sunday", "holiday")
NEEDS = ("accessibility", "elderly", "asks_for_person")
DEVICE_KINDS = ("atm", "cash_recycler", "kiosk")
PROPENSITY_CHANNELS = ("self_service", "mobile", "appointment")

_DECIMAL = {"type": "string", "pattern": r"^\d+(\.\d+)?$", "description": "decimal amount in major currency units, as a string"}
_ID = {"type": "string", "pattern": r"^[a-z0-9][a-z0-9_.-]{0,63}$"}
_CLOCK = {"type": "string", "pattern": r"^([01]\d|2[0-3]):[0-5]\d$", "description": "local wall-clock time HH:MM in the branch time zone"}
_SHARE = {"type": "number", "minimum": 0, "maximum": 1}
_SECONDS = {"type": "number", "minimum": 0}
_STRINGS = {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1, "uniqueItems": True}


def _range(item: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "type": "object",
        "description": description,
        "properties": {"min": item, "max": item},
        "additionalProperties": False,
        "minProperties": 1,
    }


CONDITIONS: dict[str, Any] = {
    "type": "object",
    "description": "All given conditions must hold (AND); an absent condition always holds.",
    "additionalProperties": False,
    "properties": {
        "service_types": {**_STRINGS, "description": "service type is one of these"},
        "amount": {
            "type": "object",
            "description": "the transaction amount (major units); a rule with an amount condition never matches a request without amount",
            "additionalProperties": False,
            "minProperties": 1,
            "properties": {"min": _DECIMAL, "max": _DECIMAL, "currencies": {"type": "array", "items": {"type": "string", "pattern": r"^[A-Z]{3}$"}, "minItems": 1}},
        },
        "currencies": {"type": "array", "items": {"type": "string", "pattern": r"^[A-Z]{3}$"}, "minItems": 1, "description": "ISO 4217 currency is one of these"},
        "tiers": {**_STRINGS, "description": "customer tier is one of these (``anonymous`` = no tier known)"},
        "not_tiers": {**_STRINGS, "description": "customer tier is none of these"},
        "known_customer": {"type": "boolean", "description": "the customer is identified (true) or an anonymous walk-in (false)"},
        "propensity": {
            "type": "object",
            "description": "minimum/maximum propensity per channel (calibrated probability); an unknown propensity fails the condition",
            "additionalProperties": False,
            "minProperties": 1,
            "properties": {c: _range(_SHARE, f"propensity to accept {c}") for c in PROPENSITY_CHANNELS},
        },
        "needs_any": {"type": "array", "items": {"enum": list(NEEDS)}, "minItems": 1, "description": "customer has at least one of these needs flags"},
        "needs_none": {"type": "array", "items": {"enum": list(NEEDS)}, "minItems": 1, "description": "customer has none of these needs flags"},
        "counter_wait_s": _range(_SECONDS, "estimated (median) counter wait for this service now (seconds); unknown fails the condition"),
        "counter_wait_p90_s": _range(_SECONDS, "90th percentile of the counter wait for this service now (seconds): 9 customers in 10 are called sooner; unknown fails the condition"),
        "p_called_within_sla": _range(_SHARE, "probability (0..1) that a ticket issued now is called within the SLA target; unknown fails the condition"),
        "sla_share": _range(_SHARE, "share of customers called within the SLA target in the last window (0..1); unknown fails the condition"),
        "device_available": {"type": "boolean", "description": "a device in the branch can do this transaction now (in service, cash enough, queue within device_queue_max)"},
        "device_queue_max": {"type": "integer", "minimum": 0, "description": "longest device queue (customers) acceptable for a device offer"},
        "device_kinds": {"type": "array", "items": {"enum": list(DEVICE_KINDS)}, "minItems": 1, "description": "device kinds that count for device_available / offer_device"},
        "time_of_day": {
            "type": "object",
            "description": "local time in [from, to); from > to wraps past midnight",
            "additionalProperties": False,
            "required": ["from", "to"],
            "properties": {"from": _CLOCK, "to": _CLOCK},
        },
        "day_types": {"type": "array", "items": {"enum": list(DAY_TYPES)}, "minItems": 1, "uniqueItems": True},
        "branches": {**_STRINGS, "description": "branch id is one of these"},
        "zones": {**_STRINGS, "description": "the request comes from one of these zones"},
        "channels_of_request": {"type": "array", "items": {"enum": ["kiosk", "mobile", "online", "lobby_manager"]}, "minItems": 1},
    },
}

ACTION: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["type"],
    "properties": {
        "type": {"enum": list(ACTION_TYPES)},
        "priority_boost": {"type": "integer", "minimum": 0, "maximum": 10, "description": "ticket priority raised by this many levels"},
        "route_to": {"enum": list(ROUTES), "description": "send the ticket to the VIP room / a relationship manager / the wealth desk"},
        "fee_notice": {"type": "string", "minLength": 1, "maxLength": 280, "description": "fee notice shown with the ticket or offer (differentiated pricing)"},
        "device_kinds": {"type": "array", "items": {"enum": list(DEVICE_KINDS)}, "minItems": 1, "description": "offer_device: kinds eligible"},
        "message": {"type": "string", "maxLength": 280, "description": "text shown to the customer"},
        "offer_ttl_s": {"type": "integer", "minimum": 60, "maximum": 86400, "description": "an accepted offer expires after this many seconds"},
    },
}

RULE: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["id", "then"],
    "properties": {
        "id": _ID,
        "description": {"type": "string", "maxLength": 500},
        "priority": {"type": "integer", "minimum": -1000, "maximum": 1000, "description": "higher is evaluated first; ties keep document order"},
        "enabled": {"type": "boolean"},
        "when": CONDITIONS,
        "then": ACTION,
    },
}

SETTINGS: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "description": "parameters of the protections no rule can override",
    "properties": {
        "min_counter_wait_s": {**_SECONDS, "description": "no diversion when the counter wait for the service is below this (seconds)"},
        "min_time_saved_s": {**_SECONDS, "description": "a device offer must save at least this much wait against the counter (seconds)"},
        "cash_out_horizon_s": {**_SECONDS, "description": "a device forecast to run out of cash within this many seconds is not offered"},
        "protected_needs": {"type": "array", "items": {"enum": list(NEEDS)}, "description": "needs flags that forbid any diversion (asks_for_person always does)"},
        "cash_service_types": {**_STRINGS, "description": "service types that take cash from the device"},
        "default_offer_ttl_s": {"type": "integer", "minimum": 60, "maximum": 86400},
    },
}

OVERRIDE: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["branches"],
    "properties": {
        "branches": _STRINGS,
        "settings": SETTINGS,
        "disable": {"type": "array", "items": _ID, "uniqueItems": True, "description": "global rule ids not used in these branches"},
        "rules": {"type": "array", "items": RULE, "description": "branch rules; an id equal to a global rule replaces it"},
        "default": ACTION,
    },
}

RULESET_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": SCHEMA_ID,
    "title": "Counterflow channel rule set",
    "type": "object",
    "additionalProperties": False,
    "required": ["schema_version", "name", "rules"],
    "properties": {
        "schema_version": {"const": 1},
        "version": {"type": "integer", "minimum": 0, "description": "stamped by the governance service when the version is stored; a proposal's own value is replaced"},
        "name": {"type": "string", "minLength": 1, "maxLength": 100},
        "description": {"type": "string", "maxLength": 2000},
        "settings": SETTINGS,
        "default": ACTION,
        "rules": {"type": "array", "items": RULE, "maxItems": 2000},
        "overrides": {"type": "array", "items": OVERRIDE},
    },
}


def schema_json() -> str:
    """The schema as pretty JSON text with a trailing newline (the published file)."""
    return json.dumps(RULESET_SCHEMA, indent=2, sort_keys=False) + "\n"


if __name__ == "__main__":
    sys.stdout.write(schema_json())
