"""Loading and validating rule set documents (YAML or JSON) with errors that name the
rule and the field.

:func:`validate_document` returns every problem of a document at once, each as a
:class:`RuleError` (``rule`` = the rule id when the problem is inside a rule, ``field`` = a
dotted path such as ``rules[3].when.amount.min``); :func:`load_rule_set` raises
:class:`RuleSetInvalid` with that list, or returns the compiled :class:`RuleSet`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import yaml
from jsonschema import Draft202012Validator

from counterflow_shared.rules.schema import OFFER_TYPES, RULESET_SCHEMA

if TYPE_CHECKING:  # the engine imports this module
    from counterflow_shared.rules.engine import RuleSet

_VALIDATOR = Draft202012Validator(RULESET_SCHEMA)


@dataclass(frozen=True)
class RuleError:
    """One problem of a rule set document: ``field`` is a dotted/indexed path from the
    document root, ``rule`` the id of the rule it is in (``None`` outside rules)."""

    field: str
    message: str
    rule: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """``{"field", "message", "rule"}`` for problem+json ``errors``."""
        return {"field": self.field, "message": self.message, "rule": self.rule}


class RuleSetInvalid(ValueError):
    """A rule set document failed validation; ``errors`` lists every problem."""

    def __init__(self, errors: list[RuleError]) -> None:
        self.errors = errors
        super().__init__("; ".join(_describe(e) for e in errors[:10]))


def _describe(error: RuleError) -> str:
    where = f"rule {error.rule!r} " if error.rule else ""
    return f"{where}{error.field}: {error.message}"


def parse_text(text: str) -> Any:
    """Parse YAML (a superset of JSON) into plain data.

    Raises:
        RuleSetInvalid: the text is not YAML/JSON (field ``document``).
    """
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RuleSetInvalid([RuleError("document", f"not valid YAML/JSON: {exc}")]) from exc


def _path(parts: Any) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "document"


def _rule_id_at(document: Any, parts: list[Any]) -> str | None:
    """The id of the rule that ``parts`` points into (``rules[i]`` or ``overrides[j].rules[i]``)."""
    try:
        if len(parts) >= 2 and parts[0] == "rules":
            return str(document["rules"][parts[1]].get("id")) if isinstance(document["rules"][parts[1]], dict) else None
        if len(parts) >= 4 and parts[0] == "overrides" and parts[2] == "rules":
            rule = document["overrides"][parts[1]]["rules"][parts[3]]
            return str(rule.get("id")) if isinstance(rule, dict) else None
    except (KeyError, IndexError, TypeError):
        return None
    return None


def _schema_errors(document: Any) -> list[RuleError]:
    errors = []
    for err in sorted(_VALIDATOR.iter_errors(document), key=lambda e: list(map(str, e.absolute_path))):
        parts = list(err.absolute_path)
        if err.validator == "additionalProperties":
            # name the unexpected property itself, not its parent
            extra = sorted(set((err.instance or {}).keys()) - set(err.schema.get("properties", {})))
            for name in extra:
                errors.append(RuleError(_path([*parts, name]), "unknown field", _rule_id_at(document, parts)))
            continue
        if err.validator == "required":
            missing = err.message.split("'")[1] if "'" in err.message else "?"
            errors.append(RuleError(_path([*parts, missing]), "is required", _rule_id_at(document, parts)))
            continue
        message = err.message
        if parts and parts[-1] in ("from", "to") and isinstance(err.instance, int):
            message += " (YAML reads an unquoted HH:MM as a number: quote it, e.g. '17:00')"
        errors.append(RuleError(_path(parts), message, _rule_id_at(document, parts)))
    return errors


def _semantic_errors(document: dict[str, Any]) -> list[RuleError]:
    """Checks JSON Schema cannot express: unique ids, min <= max, known ids in overrides,
    offer actions' fields."""
    errors: list[RuleError] = []
    global_ids: set[str] = set()

    def check_rules(rules: list[dict[str, Any]], prefix: str, seen: set[str]) -> None:
        for i, rule in enumerate(rules):
            rid = rule["id"]
            where = f"{prefix}[{i}]"
            if rid in seen:
                errors.append(RuleError(f"{where}.id", f"duplicate rule id {rid!r}", rid))
            seen.add(rid)
            when = rule.get("when", {})
            for name in ("counter_wait_s", "counter_wait_p90_s", "p_called_within_sla", "sla_share"):
                rng = when.get(name)
                if rng and "min" in rng and "max" in rng and rng["min"] > rng["max"]:
                    errors.append(RuleError(f"{where}.when.{name}", "min is greater than max", rid))
            for ch, rng in when.get("propensity", {}).items():
                if "min" in rng and "max" in rng and rng["min"] > rng["max"]:
                    errors.append(RuleError(f"{where}.when.propensity.{ch}", "min is greater than max", rid))
            amount = when.get("amount")
            if amount and "min" in amount and "max" in amount and Decimal(amount["min"]) > Decimal(amount["max"]):
                errors.append(RuleError(f"{where}.when.amount", "min is greater than max", rid))
            then = rule["then"]
            if then["type"] in OFFER_TYPES and "route_to" in then:
                errors.append(RuleError(f"{where}.then.route_to", "only ticket actions route to a room", rid))
            if then["type"] in OFFER_TYPES and then.get("priority_boost"):
                errors.append(RuleError(f"{where}.then.priority_boost", "only ticket actions carry a priority boost", rid))
            if then["type"] != "offer_device" and "device_kinds" in then:
                errors.append(RuleError(f"{where}.then.device_kinds", "only offer_device chooses device kinds", rid))

    check_rules(document.get("rules", []), "rules", global_ids)
    for default_at, action in [("default", document.get("default"))] + [
        (f"overrides[{j}].default", o.get("default")) for j, o in enumerate(document.get("overrides", []))
    ]:
        if action and action["type"] in OFFER_TYPES:
            errors.append(RuleError(f"{default_at}.type", "the default must issue a ticket (ticket or never_divert)"))
    for j, override in enumerate(document.get("overrides", [])):
        for k, rid in enumerate(override.get("disable", [])):
            if rid not in global_ids:
                errors.append(RuleError(f"overrides[{j}].disable[{k}]", f"no global rule with id {rid!r}", rid))
        check_rules(override.get("rules", []), f"overrides[{j}].rules", set())
    return errors


def validate_document(document: Any) -> list[RuleError]:
    """Every problem of ``document`` (plain data): schema errors first, then semantic
    ones (only when the schema holds). An empty list means valid."""
    errors = _schema_errors(document)
    if errors:
        return errors
    return _semantic_errors(document)


def load_document(source: str | bytes | dict[str, Any]) -> dict[str, Any]:
    """Parse (if text) and validate a document; returns the plain data.

    Raises:
        RuleSetInvalid: parse or validation problems, each naming rule and field.
    """
    document = parse_text(source.decode() if isinstance(source, bytes) else source) if isinstance(source, (str, bytes)) else source
    # round-trip through JSON: YAML may produce dates/timestamps the schema must see as strings
    try:
        document = json.loads(json.dumps(document))
    except (TypeError, ValueError) as exc:
        raise RuleSetInvalid([RuleError("document", f"not representable as JSON: {exc}")]) from exc
    errors = validate_document(document)
    if errors:
        raise RuleSetInvalid(errors)
    return document


def load_rule_set(source: str | bytes | dict[str, Any], *, version: int | None = None, rule_set_id: str = "channel-rules") -> RuleSet:
    """Validate and compile ``source`` into a :class:`~counterflow_shared.rules.engine.RuleSet`
    stamped with ``version`` (default: the document's own ``version``, else 0).

    Raises:
        RuleSetInvalid: parse or validation problems, each naming rule and field.
    """
    from counterflow_shared.rules.engine import compile_rule_set

    document = load_document(source)
    return compile_rule_set(document, version=version if version is not None else int(document.get("version", 0)), rule_set_id=rule_set_id)
