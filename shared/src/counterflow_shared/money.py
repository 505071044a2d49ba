"""Money on the wire: :class:`decimal.Decimal` amounts with an ISO 4217 currency.

JSON carries amounts as strings (``"1234567890123456.78"`` round-trips exactly). A
JSON number with a fractional part arrives in Python as ``float`` and has already
lost precision, so it is refused with a validation error that says so; integers and
strings are accepted. Amounts are in major currency units (``"12.50"`` CZK), never
minor units.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, PlainSerializer, WithJsonSchema

#: ISO 4217 alphabetic code (three upper-case letters). Source: ISO 4217:2015.
CurrencyCode = Annotated[str, Field(pattern=r"^[A-Z]{3}$", examples=["CZK", "EUR"])]


def _parse_amount(value: Any) -> Decimal:
    """Parse an amount from a string, int or Decimal; refuse floats.

    Raises:
        ValueError: for floats (precision already lost), booleans, non-finite or
            unparsable values.
    """
    if isinstance(value, bool):
        raise ValueError("amount must be a decimal string such as \"12.50\", not a boolean")
    if isinstance(value, float):
        raise ValueError("amount must be a decimal string such as \"12.50\", not a JSON float (precision would be lost)")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, (int, str)):
        try:
            result = Decimal(str(value).strip())
        except InvalidOperation as exc:
            raise ValueError(f"amount {value!r} is not a decimal number") from exc
    else:
        raise ValueError("amount must be a decimal string")
    if not result.is_finite():
        raise ValueError("amount must be finite")
    return result


#: A Decimal amount, serialised to JSON as a string, parsed without ever touching float.
Amount = Annotated[
    Decimal,
    BeforeValidator(_parse_amount),
    PlainSerializer(lambda d: format(d, "f"), return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": r"^-?\d+(\.\d+)?$", "examples": ["2000.00"]}),
]

#: A non-negative :data:`Amount`.
NonNegativeAmount = Annotated[Amount, Field(ge=0)]
