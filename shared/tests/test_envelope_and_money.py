"""Envelope round trip and Decimal money on the wire."""

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from counterflow_shared.events.catalog import payload_of
from counterflow_shared.events.envelope import Envelope, new_event
from counterflow_shared.events.payloads.devices import DeviceTransactionDone
from counterflow_shared.money import Amount


class Priced(BaseModel):
    amount: Amount


def test_envelope_round_trips_and_keys_by_catalog_subject():
    payload = DeviceTransactionDone(
        transaction_id="t1", device_id="ATM-1", branch_id="D1", kind="withdrawal", service_type="cash_withdrawal",
        amount=Decimal("1234567890123456.78"), currency="CZK", occurred_at=datetime(2024, 3, 31, 1, 30, tzinfo=UTC),
    )
    event = new_event(payload, source="/counterflow/selfservice")
    assert event.type == "selfservice.transaction.done.v1"
    assert event.subject == "ATM-1"
    assert event.specversion == "1.0"
    assert event.time.tzinfo is not None
    back = Envelope.from_bytes(event.to_bytes())
    assert back == event
    assert payload_of(back).amount == Decimal("1234567890123456.78")
    assert b'"amount":"1234567890123456.78"' in event.to_bytes()


def test_envelope_refuses_naive_time():
    with pytest.raises(ValidationError):
        Envelope(id="x", source="/s", type="t.v1", time=datetime(2024, 1, 1), subject="k", dataschema="u", data={})


def test_envelope_keeps_offset_times_exact():
    t = datetime(2024, 10, 27, 2, 30, tzinfo=timezone(timedelta(hours=2)))
    e = Envelope(id="x", source="/s", type="t.v1", time=t, subject="k", dataschema="u", data={})
    assert Envelope.from_bytes(e.to_bytes()).time == t


@pytest.mark.parametrize("raw", ["1234567890123456.78", "0.01", "-5", "0", 12])
def test_amount_accepts_strings_and_integers_exactly(raw):
    assert Priced.model_validate({"amount": raw}).amount == Decimal(str(raw))


@pytest.mark.parametrize("raw", [12.5, "abc", "NaN", "Infinity", True, None])
def test_amount_refuses_floats_and_garbage(raw):
    with pytest.raises(ValidationError) as err:
        Priced.model_validate({"amount": raw})
    assert err.value.errors()[0]["loc"] == ("amount",)


def test_json_float_amount_is_refused_with_a_message_that_says_so():
    with pytest.raises(ValidationError, match="not a JSON float"):
        Priced.model_validate_json('{"amount": 12.5}')


@given(st.decimals(allow_nan=False, allow_infinity=False, places=2, min_value=Decimal("-1e15"), max_value=Decimal("1e15")))
def test_amount_json_round_trip_is_exact(value):
    assert Priced.model_validate_json(Priced(amount=value).model_dump_json()).amount == value
