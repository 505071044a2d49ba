"""Constrained scalar types every API and event uses, so that no value reaches a column
it does not fit (which PostgreSQL would refuse with a 500) or arithmetic it overflows.

* :data:`Id`: 1-64 characters (the platform's id columns are ``varchar(64)``).
* :data:`Int32` / :data:`PositiveInt32`: fit PostgreSQL ``integer`` (-2**31 .. 2**31-1).
* :data:`BankDate` / :data:`BankDateTime`: years :data:`MIN_YEAR`-:data:`MAX_YEAR`;
  ``date.min`` or ``datetime.max`` would overflow as soon as a day or a time-zone offset
  is added (``OverflowError``).

Pydantic ``Field`` metadata serves bodies, events and (inside ``Annotated[..., Query()]``)
query parameters; :data:`VersionPath` and :data:`IdPath` are the path forms.
Control characters are refused for every string at the edge
(:mod:`counterflow_shared.web.edge`).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Path
from pydantic import AfterValidator, AwareDatetime, Field

#: PostgreSQL ``integer`` bounds (PostgreSQL 16 manual, 8.1.1 Integer Types).
INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1
#: widest id column of the platform (``varchar(64)``)
ID_MAX_CHARS = 64
#: the calendar the platform works in: wide enough for any booking or record, narrow
#: enough that adding a day or an offset can never overflow Python's datetime (years 1-9999)
MIN_YEAR = 1900
MAX_YEAR = 2999

Id = Annotated[str, Field(min_length=1, max_length=ID_MAX_CHARS)]
Int32 = Annotated[int, Field(ge=INT32_MIN, le=INT32_MAX)]
PositiveInt32 = Annotated[int, Field(ge=1, le=INT32_MAX)]


def _date_in_range(value: date) -> date:
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise ValueError(f"year must be between {MIN_YEAR} and {MAX_YEAR}")
    return value


#: A calendar date of years 1900-2999.
BankDate = Annotated[date, AfterValidator(_date_in_range)]
#: A timezone-aware instant of years 1900-2999.
BankDateTime = Annotated[AwareDatetime, AfterValidator(_date_in_range)]

#: A rule-set version (or any ``integer`` serial) in a path.
VersionPath = Annotated[int, Path(ge=1, le=INT32_MAX)]
#: An id in a path.
IdPath = Annotated[str, Path(min_length=1, max_length=ID_MAX_CHARS)]

