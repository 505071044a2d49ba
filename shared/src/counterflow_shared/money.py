"""Money, one type for the platform: :class:`decimal.Decimal` amounts in major units of an
ISO 4217 currency, never rounded.

On the wire an amount is a JSON string of ASCII digits, ``^-?[0-9]{1,16}(\\.[0-9]{1,4})?$``
(``"1234567890123456.78"`` round-trips exactly); a JSON integer is accepted too. Refused,
each with a validation error naming the field (a 422 at an API):

* JSON floats (precision already lost when Python parsed them), booleans;
* exponents (``"1E+16"``, ``"1E+200000"``), underscores (``"1_000"``), non-ASCII digits
  (``"٣"``), spaces, ``NaN``/``Infinity``;
* more than :data:`MAX_INTEGER_DIGITS` digits before the point or :data:`MAX_SCALE`
  after it: the bounds of the platform's money column :data:`MONEY_COLUMN`
  (``NUMERIC(20, 4)``), so a value that passes always fits and is stored exactly;
* with a currency: more decimals than the currency's ISO 4217 minor unit
  (:func:`check_minor_unit`; ``"0.005"`` CZK, ``"0.5"`` JPY).

Every API, event and table that carries money uses :data:`Amount` (or a bounded form of
it) and :data:`MONEY_COLUMN`; a model with ``currency`` and amount fields puts
``currency`` FIRST and types the amounts :data:`CurrencyAmount`, whose validator reads the
already-validated currency.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, PlainSerializer, ValidationInfo, WithJsonSchema
from sqlalchemy import Numeric

#: ISO 4217 alphabetic code (three upper-case letters). Source: ISO 4217:2015.
CurrencyCode = Annotated[str, Field(pattern=r"^[A-Z]{3}$", examples=["CZK", "EUR"])]

#: digits before / after the decimal point that an amount may have (``NUMERIC(20, 4)``)
MAX_INTEGER_DIGITS = 16
MAX_SCALE = 4
#: the column type of every amount in every service's tables
MONEY_COLUMN = Numeric(MAX_INTEGER_DIGITS + MAX_SCALE, MAX_SCALE)
AMOUNT_PATTERN = rf"^-?[0-9]{{1,{MAX_INTEGER_DIGITS}}}(\.[0-9]{{1,{MAX_SCALE}}})?$"
_AMOUNT = re.compile(AMOUNT_PATTERN, re.ASCII)

#: ISO 4217 minor units (decimal places) of the active codes whose minor unit is not 2.
#: Source: ISO 4217 Amendment 176 "List One" (SIX Group, current codes), column "Minor
#: unit". Codes absent here have 2; codes whose minor unit is "N.A." (XAU, XDR, ...) are
#: treated as 2 too.
MINOR_UNITS: dict[str, int] = {
    **dict.fromkeys(("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF"), 0),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
    **dict.fromkeys(("CLF", "UYW"), 4),
}


def minor_unit(currency: str) -> int:
    """Decimal places of ``currency`` (ISO 4217 minor unit; 2 when not listed)."""
    return MINOR_UNITS.get(currency, 2)


def decimal_places(value: Decimal) -> int:
    """Decimal places ``value`` needs (trailing zeros do not count: ``1.50`` needs 1)."""
    _, digits, exponent = value.as_tuple()
    if not isinstance(exponent, int) or exponent >= 0:
        return 0
    places = -exponent
    for d in reversed(digits):
        if d != 0 or places == 0:
            break
        places -= 1
    return places


def _bounded(value: Decimal) -> Decimal:
    if not value.is_finite():
        raise ValueError("amount must be finite")
    if value != 0 and value.adjusted() >= MAX_INTEGER_DIGITS:
        raise ValueError(f"amount has more than {MAX_INTEGER_DIGITS} digits before the decimal point")
    if decimal_places(value) > MAX_SCALE:
        raise ValueError(f"amount has more than {MAX_SCALE} decimal places")
    return value


def parse_amount(value: Any) -> Decimal:
    """Parse an amount from a string of ASCII digits, an int or a Decimal; refuse the rest.

    Raises:
        ValueError: floats, booleans, exponents, underscores, non-ASCII digits, spaces,
            non-finite values, or more digits than :data:`MONEY_COLUMN` holds.
    """
    if isinstance(value, bool):
        raise ValueError("amount must be a decimal string such as \"12.50\", not a boolean")
    if isinstance(value, float):
        raise ValueError("amount must be a decimal string such as \"12.50\", not a JSON float (precision would be lost)")
    if isinstance(value, Decimal):
        return _bounded(value)
    if isinstance(value, int):
        return _bounded(Decimal(value))
    if isinstance(value, str):
        if not _AMOUNT.fullmatch(value):
            raise ValueError(f"amount must match {AMOUNT_PATTERN} (ASCII digits, at most {MAX_INTEGER_DIGITS} before and {MAX_SCALE} after the point, no exponent)")
        try:
            return Decimal(value)
        except InvalidOperation as exc:  # pragma: no cover - the pattern admits only valid decimals
            raise ValueError(f"amount {value!r} is not a decimal number") from exc
    raise ValueError("amount must be a decimal string")


def check_minor_unit(amount: Decimal, currency: str) -> Decimal:
    """Return ``amount`` if it has no more decimals than ``currency``'s minor unit.

    Raises:
        ValueError: ``"0.005"`` CZK (minor unit 2), ``"0.5"`` JPY (0); the amount is
            refused, never rounded.
    """
    places = minor_unit(currency)
    if decimal_places(amount) > places:
        raise ValueError(f"{currency} amounts have at most {places} decimal places (ISO 4217 minor unit); this one has more and is not rounded")
    return amount


def _against_currency(amount: Decimal, info: ValidationInfo) -> Decimal:
    currency = info.data.get("currency")
    return check_minor_unit(amount, currency) if isinstance(currency, str) else amount


def amount_text(value: Decimal) -> str:
    """The JSON text of an amount: plain notation (never an exponent), and zeros that the
    money column pads beyond the second decimal dropped (``NUMERIC(20, 4)`` returns
    ``1500.0000`` for ``1500.00``); no digit that carries value is ever dropped."""
    exponent = value.as_tuple().exponent  # "n", "N" or "F" for NaN and infinities
    if isinstance(exponent, int) and exponent < -2:
        value = value.quantize(Decimal(1).scaleb(-max(2, decimal_places(value))))
    return format(value, "f")


#: A Decimal amount, serialised to JSON as a string, parsed without ever touching float.
Amount = Annotated[
    Decimal,
    BeforeValidator(parse_amount),
    PlainSerializer(amount_text, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": AMOUNT_PATTERN, "examples": ["2000.00"]}),
]

#: A non-negative :data:`Amount`.
NonNegativeAmount = Annotated[Amount, Field(ge=0)]
#: A positive :data:`Amount`.
PositiveAmount = Annotated[Amount, Field(gt=0)]
#: An :data:`Amount` checked against the model's ``currency`` field (declared before it).
CurrencyAmount = Annotated[Amount, AfterValidator(_against_currency)]
