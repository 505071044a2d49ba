"""Parsing the PKDD'99 files: the quirks of the format (no database needed)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from counterflow_scoring.domain.berka import TABLES, file_rows, parse_birth_number, parse_yymmdd, read_raw
from counterflow_scoring.settings import DEFAULT_BERKA_DIR


def test_birth_number_month_plus_50_is_a_woman() -> None:
    assert parse_birth_number("706213") == (date(1970, 12, 13), "F")
    assert parse_birth_number("450204") == (date(1945, 2, 4), "M")


@pytest.mark.parametrize("bad", ["7062", "70621a", "701313"])
def test_malformed_birth_numbers_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_birth_number(bad)


def test_dates_with_and_without_time_part() -> None:
    assert parse_yymmdd("930101") == date(1993, 1, 1)
    assert parse_yymmdd("931107 00:00:00") == date(1993, 11, 7)
    with pytest.raises(ValueError):
        parse_yymmdd("93-01-01")


def test_district_question_marks_become_unknown_not_zero() -> None:
    districts = {r["district_id"]: r for r in file_rows(DEFAULT_BERKA_DIR, TABLES[0])}
    assert districts[69]["unemployment_95_pct"] is None and districts[69]["crimes_95"] is None
    assert districts[1]["average_salary"] == Decimal("12541")


def test_amounts_are_decimal_and_empty_cells_none() -> None:
    trans = next(t for t in TABLES if t.name == "transactions")
    rows = file_rows(DEFAULT_BERKA_DIR, trans)
    assert all(isinstance(r["amount"], Decimal) for r in rows)
    interest = [r for r in rows if r["operation"] is None]
    assert interest and all(r["bank"] is None or r["bank"] for r in rows)
    raw = read_raw(DEFAULT_BERKA_DIR / trans.file)
    assert len(raw) == len(rows)


def test_a_broken_row_names_its_line(tmp_path) -> None:  # noqa: ANN001
    (tmp_path / "client.asc").write_text('"client_id";"birth_number";"district_id"\r\n1;"706213";18\r\n2;"70x213";1\r\n')
    clients = next(t for t in TABLES if t.name == "clients")
    with pytest.raises(ValueError, match="data row 2"):
        file_rows(tmp_path, clients)
