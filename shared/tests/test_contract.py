"""The event contract cannot drift from the code, and the catalog is consistent."""

from pathlib import Path

from counterflow_shared.events.catalog import CONSUMER_GROUPS, EVENT_TYPES, TOPICS, all_topics, entry, entry_for_payload
from counterflow_shared.events.contract import asyncapi_document, render

CONTRACT = Path(__file__).resolve().parents[2] / "docs" / "events" / "asyncapi.json"


def test_checked_in_contract_matches_the_catalog():
    assert CONTRACT.read_text() == render(), "docs/events/asyncapi.json is stale: run `make contract`"


def test_every_event_type_is_unique_versioned_and_on_a_catalog_topic():
    types = [e.type for e in EVENT_TYPES]
    assert len(types) == len(set(types))
    assert all(t.endswith(".v1") for t in types)
    assert {e.topic for e in EVENT_TYPES} <= set(TOPICS)
    for e in EVENT_TYPES:
        assert entry(e.type) is e
        assert entry_for_payload(e.payload) is e


def test_state_topics_are_compacted_and_fact_topics_are_not():
    compacted = {t.name for t in TOPICS if t.compacted}
    assert compacted == {"branch.load.v1", "branch.directory.v1", "channel.rules.v1", "selfservice.devices.v1", "customer.scores.v1"}
    for t in TOPICS:
        assert t.config["cleanup.policy"] == ("compact" if t.compacted else "delete")


def test_every_consumer_group_has_a_dead_letter_topic():
    names = {t.name for t in all_topics()}
    for group in CONSUMER_GROUPS:
        assert group.dead_letter_topic.name in names
        assert group.dead_letter_topic.config["cleanup.policy"] == "delete"


def test_contract_messages_carry_cloudevents_attributes_and_typed_data():
    doc = asyncapi_document()
    msg = doc["components"]["messages"]["branch_ticket_issued_v1"]["payload"]
    assert {"id", "source", "type", "specversion", "time", "subject", "datacontenttype", "dataschema", "data"} <= set(msg["properties"])
    assert msg["properties"]["type"]["const"] == "branch.ticket.issued.v1"
    assert "ticket_id" in msg["properties"]["data"]["properties"]
