"""Rule set documents: the published schema, and errors that name the rule and field."""

from __future__ import annotations

import json

import pytest

from counterflow_shared.rules import RuleSetInvalid, load_rule_set, validate_document
from counterflow_shared.rules.schema import RULESET_SCHEMA, schema_json

from .conftest import REPO


def _doc(*rules: dict, **extra) -> dict:
    return {"schema_version": 1, "name": "t", "rules": list(rules), **extra}


def test_published_schema_matches_the_code() -> None:
    published = REPO / "docs/rules/ruleset.schema.json"
    assert published.read_text() == schema_json(), "run: python -m counterflow_shared.rules.schema > docs/rules/ruleset.schema.json"
    assert json.loads(published.read_text())["$id"] == RULESET_SCHEMA["$id"]


def test_default_rule_set_is_valid(default_yaml: str) -> None:
    rs = load_rule_set(default_yaml, version=3)
    assert rs.version == 3 and "cash-withdrawal-device" in rs.rule_ids


def test_wrong_type_names_rule_and_field() -> None:
    doc = _doc({"id": "ok", "then": {"type": "ticket"}}, {"id": "cash", "when": {"counter_wait_s": {"min": "ten"}}, "then": {"type": "offer_device"}})
    errors = validate_document(doc)
    assert [(e.rule, e.field) for e in errors] == [("cash", "rules[1].when.counter_wait_s.min")]


def test_unknown_field_is_named_itself() -> None:
    errors = validate_document(_doc({"id": "r1", "when": {"servce_types": ["x"]}, "then": {"type": "ticket"}}))
    assert [(e.rule, e.field, e.message) for e in errors] == [("r1", "rules[0].when.servce_types", "unknown field")]


def test_missing_action_and_unknown_action_type() -> None:
    errors = validate_document(_doc({"id": "r1"}, {"id": "r2", "then": {"type": "teleport"}}))
    fields = {(e.rule, e.field) for e in errors}
    assert ("r1", "rules[0].then") in fields
    assert ("r2", "rules[1].then.type") in fields


def test_amounts_are_decimal_strings_not_numbers() -> None:
    errors = validate_document(_doc({"id": "r1", "when": {"amount": {"max": 2000.5}}, "then": {"type": "ticket"}}))
    assert [(e.rule, e.field) for e in errors] == [("r1", "rules[0].when.amount.max")]


def test_semantic_errors_name_the_field() -> None:
    doc = _doc(
        {"id": "a", "then": {"type": "ticket"}},
        {"id": "a", "then": {"type": "offer_mobile", "route_to": "vip_room"}},
        {"id": "c", "when": {"sla_share": {"min": 0.9, "max": 0.5}}, "then": {"type": "ticket"}},
        default={"type": "offer_device"},
        overrides=[{"branches": ["b1"], "disable": ["nope"]}],
    )
    fields = {(e.rule, e.field) for e in validate_document(doc)}
    assert fields == {
        ("a", "rules[1].id"),
        ("a", "rules[1].then.route_to"),
        ("c", "rules[2].when.sla_share"),
        (None, "default.type"),
        ("nope", "overrides[0].disable[0]"),
    }


def test_unquoted_yaml_time_gets_a_hint() -> None:
    text = "schema_version: 1\nname: t\nrules:\n  - id: late\n    when: {time_of_day: {from: 17:00, to: '20:00'}}\n    then: {type: ticket}\n"
    with pytest.raises(RuleSetInvalid) as caught:
        load_rule_set(text)
    (error,) = caught.value.errors
    assert error.rule == "late" and error.field == "rules[0].when.time_of_day.from" and "quote" in error.message


def test_not_yaml_at_all() -> None:
    with pytest.raises(RuleSetInvalid) as caught:
        load_rule_set("rules: [unclosed")
    assert caught.value.errors[0].field == "document"
