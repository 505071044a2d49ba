"""Reading the PKDD'99 Discovery Challenge "financial" data set (Berka and Sochorová,
PKDD'99) in its original format.

Quirks handled here (``data_description.pdf`` and ``../shared/data/README.md``):
semicolon-separated ASCII with CRLF line ends and double-quoted strings; dates as
``YYMMDD`` (all 19xx); ``card.issued`` carries a ``00:00:00`` time part; a client's
``birth_number`` is ``YYMMDD`` with 50 added to the month for women; ``district.asc``
has ``?`` for unknown figures (district 69, 1995 unemployment and crimes); ``k_symbol``,
``bank`` and ``account`` are often empty. Amounts stay decimal strings until they become
:class:`~decimal.Decimal` (CZK, major units); nothing passes through float.

Identifiers used across Counterflow: a client is customer ``C<client_id>``, an account's
``district_id`` is its branch, ``D<district_id>``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd


def customer_id(client_id: int) -> str:
    """Counterflow customer id of PKDD'99 client ``client_id`` (``C<client_id>``)."""
    return f"C{client_id}"


def branch_id(district_id: int) -> str:
    """Counterflow branch id of PKDD'99 district ``district_id`` (``D<district_id>``)."""
    return f"D{district_id}"


def parse_yymmdd(value: str) -> date:
    """``YYMMDD`` (optionally followed by a time part) of the 1900s as a date.

    Raises:
        ValueError: not six digits or not a calendar date.
    """
    text = value.strip().split(" ")[0]
    if len(text) != 6 or not text.isdigit():
        raise ValueError(f"not a YYMMDD date: {value!r}")
    return date(1900 + int(text[:2]), int(text[2:4]), int(text[4:6]))


def parse_birth_number(value: str) -> tuple[date, str]:
    """Birth date and sex (``F``/``M``) from a PKDD'99 ``birth_number``.

    The Czech birth number gives women's month plus 50 (data_description.pdf, table client).

    Raises:
        ValueError: malformed number.
    """
    text = value.strip()
    if len(text) != 6 or not text.isdigit():
        raise ValueError(f"not a birth number: {value!r}")
    month = int(text[2:4])
    sex = "F" if month > 50 else "M"
    return date(1900 + int(text[:2]), month - 50 if month > 50 else month, int(text[4:6])), sex


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NA:
        return None
    text = str(value).strip()
    return text or None


def _int_or_none(value: Any) -> int | None:
    text = _text(value)
    return None if text in (None, "?") else int(text)


def _decimal_or_none(value: Any) -> Decimal | None:
    text = _text(value)
    return None if text in (None, "?") else Decimal(text)


@dataclass(frozen=True)
class BerkaTable:
    """One file of the data set and how a row becomes a database row.

    Attributes:
        name: table name in the service database (also the checkpoint name).
        file: file name under the data folder.
        key: primary-key column of the database row.
        convert: raw row (dict of strings) -> database row.
    """

    name: str
    file: str
    key: str
    convert: Callable[[dict[str, Any]], dict[str, Any]]


def _district(r: dict[str, Any]) -> dict[str, Any]:
    return {
        "district_id": int(r["A1"]),
        "name": _text(r["A2"]),
        "region": _text(r["A3"]),
        "inhabitants": int(r["A4"]),
        "urban_ratio_pct": _decimal_or_none(r["A10"]),
        "average_salary": _decimal_or_none(r["A11"]),
        "unemployment_95_pct": _decimal_or_none(r["A12"]),
        "unemployment_96_pct": _decimal_or_none(r["A13"]),
        "entrepreneurs_per_1000": _int_or_none(r["A14"]),
        "crimes_95": _int_or_none(r["A15"]),
        "crimes_96": _int_or_none(r["A16"]),
    }


def _account(r: dict[str, Any]) -> dict[str, Any]:
    district = int(r["district_id"])
    return {
        "account_id": int(r["account_id"]),
        "district_id": district,
        "branch_id": branch_id(district),
        "frequency": _text(r["frequency"]),
        "opened_on": parse_yymmdd(str(r["date"])),
    }


def _client(r: dict[str, Any]) -> dict[str, Any]:
    born, sex = parse_birth_number(str(r["birth_number"]))
    return {
        "client_id": int(r["client_id"]),
        "customer_id": customer_id(int(r["client_id"])),
        "birth_date": born,
        "sex": sex,
        "district_id": int(r["district_id"]),
    }


def _disp(r: dict[str, Any]) -> dict[str, Any]:
    return {"disp_id": int(r["disp_id"]), "client_id": int(r["client_id"]), "account_id": int(r["account_id"]), "type": _text(r["type"])}


def _order(r: dict[str, Any]) -> dict[str, Any]:
    return {
        "order_id": int(r["order_id"]),
        "account_id": int(r["account_id"]),
        "bank_to": _text(r["bank_to"]),
        "account_to": _text(r["account_to"]),
        "amount": _decimal_or_none(r["amount"]),
        "k_symbol": _text(r["k_symbol"]),
    }


def _loan(r: dict[str, Any]) -> dict[str, Any]:
    return {
        "loan_id": int(r["loan_id"]),
        "account_id": int(r["account_id"]),
        "granted_on": parse_yymmdd(str(r["date"])),
        "amount": _decimal_or_none(r["amount"]),
        "duration_months": int(r["duration"]),
        "monthly_payment": _decimal_or_none(r["payments"]),
        "status": _text(r["status"]),
    }


def _card(r: dict[str, Any]) -> dict[str, Any]:
    return {"card_id": int(r["card_id"]), "disp_id": int(r["disp_id"]), "type": _text(r["type"]), "issued_on": parse_yymmdd(str(r["issued"]))}


def _trans(r: dict[str, Any]) -> dict[str, Any]:
    return {
        "trans_id": int(r["trans_id"]),
        "account_id": int(r["account_id"]),
        "booked_on": parse_yymmdd(str(r["date"])),
        "type": _text(r["type"]),
        "operation": _text(r["operation"]),
        "amount": _decimal_or_none(r["amount"]),
        "balance": _decimal_or_none(r["balance"]),
        "k_symbol": _text(r["k_symbol"]),
        "bank": _text(r["bank"]),
        "account": _text(r["account"]),
    }


#: Import order: every table after the ones its rows refer to.
TABLES: tuple[BerkaTable, ...] = (
    BerkaTable("districts", "district.asc", "district_id", _district),
    BerkaTable("accounts", "account.asc", "account_id", _account),
    BerkaTable("clients", "client.asc", "client_id", _client),
    BerkaTable("dispositions", "disp.asc", "disp_id", _disp),
    BerkaTable("standing_orders", "order.asc", "order_id", _order),
    BerkaTable("loans", "loan.asc", "loan_id", _loan),
    BerkaTable("cards", "card.asc", "card_id", _card),
    BerkaTable("transactions", "trans.asc", "trans_id", _trans),
)


def read_raw(path: Path) -> pd.DataFrame:
    """Read one ``.asc`` file with every cell as a string (empty cells as ``None``).

    Raises:
        FileNotFoundError: the file is missing.
    """
    frame = pd.read_csv(path, sep=";", quotechar='"', dtype=str, keep_default_na=False, na_values=[""], encoding="ascii")
    return frame.astype(object).where(frame.notna(), None)


def file_rows(data_dir: Path, table: BerkaTable) -> list[dict[str, Any]]:
    """Every row of ``table``'s file converted to database rows, in file order.

    Raises:
        FileNotFoundError: the file is missing.
        ValueError: a row cannot be converted (its 1-based data line is in the message).
    """
    raw = read_raw(data_dir / table.file)
    rows = []
    for number, record in enumerate(raw.to_dict("records"), start=1):
        try:
            rows.append(table.convert(record))
        except (ValueError, ArithmeticError, TypeError, KeyError) as exc:
            raise ValueError(f"{table.file} data row {number}: {exc}") from exc
    return rows


def chunks(rows: list[dict[str, Any]], start: int, size: int) -> Iterator[tuple[int, list[dict[str, Any]]]]:
    """``(end offset, rows)`` slices of ``rows`` from ``start`` on, ``size`` rows each."""
    for offset in range(start, len(rows), size):
        part = rows[offset : offset + size]
        yield offset + len(part), part
