"""The edge guard and the money type against hostile input (staff tokens: test_staff_tokens.py):
every refusal is problem+json naming the field, never a 500 and never a rounded value."""

from __future__ import annotations

import json
from decimal import Decimal
from urllib.parse import quote

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from counterflow_shared.constraints import BankDate, BankDateTime, Id
from counterflow_shared.money import CurrencyAmount, CurrencyCode, check_minor_unit, minor_unit, parse_amount
from counterflow_shared.web.edge import DEFAULT_MAX_BODY_BYTES, EdgeGuard, body_limit
from counterflow_shared.web.problems import install_problem_handlers



class Out(BaseModel):
    n: int


class Thing(BaseModel):
    name: str
    tags: list[str] = []


def _app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    app.add_middleware(EdgeGuard)

    @app.put("/items/{item_id}")
    async def put(item_id: str, body: Thing, q: str | None = None) -> dict:
        return {"item_id": item_id, "name": body.name}

    @app.post("/small", openapi_extra=body_limit(100))
    async def small(body: Thing) -> dict:
        return {"ok": True}

    @app.post("/form")
    async def form(request: Request) -> dict:
        return {"length": len(await request.body())}


    return app


@pytest.fixture
async def client():
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=_app()), base_url="http://t") as c:
        yield c


def _field(r: httpx.Response) -> str:
    assert r.headers["content-type"] == "application/problem+json", r.text
    return r.json()["errors"][0]["field"]


@pytest.mark.parametrize("char", ["\x00", "\x01", "\x1b", "\x7f", "\x85", "\n"])
async def test_control_characters_in_path_query_and_body_are_422_naming_the_field(client, char):
    ok = {"name": "x"}
    r = await client.put(f"/items/a{quote(char, safe='')}b", json=ok)
    assert (r.status_code, _field(r)) == (422, "path.item_id")
    r = await client.put("/items/a", params={"q": f"x{char}"}, json=ok)
    assert (r.status_code, _field(r)) == (422, "query.q")
    if char != "\n":  # line breaks are allowed in body text, JSON or form
        r = await client.post("/form", data={"username": f"u{char}"})
        assert (r.status_code, _field(r)) == (422, "body.username")
        r = await client.put("/items/a", json={"name": "x", "tags": ["ok", f"x{char}y"]})
        assert (r.status_code, _field(r)) == (422, "body.tags.1")


async def test_a_form_value_may_hold_line_breaks_but_not_a_nul(client):
    """A textarea or a pasted token ends in a line break: that is text, not an attack."""
    r = await client.post("/form", data={"username": "a token\r\n\twith breaks\n"})
    assert r.status_code == 200, r.text
    r = await client.post("/form", data={"user\nname": "x"})
    assert (r.status_code, _field(r)) == (422, "body.user\\nname")


async def test_line_breaks_and_an_escaped_backslash_u0000_pass(client):
    r = await client.put("/items/a", json={"name": "two\nlines\tand \\u0000 as text"})
    assert r.status_code == 200, r.text


async def test_a_path_id_longer_than_64_characters_is_422(client):
    assert (await client.put("/items/" + "x" * 64, json={"name": "x"})).status_code == 200
    r = await client.put("/items/" + "x" * 65, json={"name": "x"})
    assert (r.status_code, _field(r)) == (422, "path.item_id")


async def test_bodies_over_the_route_limit_are_413_problem_json(client):
    r = await client.post("/small", json={"name": "x" * 200})
    assert r.status_code == 413 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"].endswith("/body-too-large")
    assert (await client.post("/small", json={"name": "x"})).status_code == 200
    big = json.dumps({"name": "x" * DEFAULT_MAX_BODY_BYTES}).encode()
    assert (await client.put("/items/a", content=big, headers={"content-type": "application/json"})).status_code == 413

    async def chunks():  # no Content-Length: the guard counts what arrives
        for _ in range(200):
            yield b"x" * 1024

    r = await client.put("/items/a", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413


# -- money ---------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["0.123456", "12345678901234567.89", "1E+16", "1E+20", "1e5", "99999999999999999", "1E+200000", "1_000", "٣", "1 000", " 1", "+1", "1.", ".5", "0x10", "NaN", "-Infinity", 10**16, 12.5, True])
def test_amounts_that_do_not_fit_are_refused_never_rounded(raw):
    with pytest.raises(ValueError):
        parse_amount(raw)


@pytest.mark.parametrize(("amount", "currency"), [("0.005", "CZK"), ("2.665", "EUR"), ("0.5", "JPY"), ("1.0001", "KWD")])
def test_more_decimals_than_the_iso_4217_minor_unit_are_refused(amount, currency):
    class Priced(BaseModel):
        currency: CurrencyCode
        amount: CurrencyAmount

    with pytest.raises(ValidationError) as err:
        Priced.model_validate({"currency": currency, "amount": amount})
    assert err.value.errors()[0]["loc"] == ("amount",)
    assert "minor unit" in err.value.errors()[0]["msg"]


def test_minor_units_follow_iso_4217():
    assert [minor_unit(c) for c in ("CZK", "EUR", "JPY", "KRW", "KWD", "BHD", "CLF")] == [2, 2, 0, 0, 3, 3, 4]
    assert check_minor_unit(Decimal("0.005"), "KWD") == Decimal("0.005")
    assert check_minor_unit(Decimal("2.50"), "CZK") == Decimal("2.50")  # trailing zeros are not decimals


@given(st.decimals(allow_nan=False, allow_infinity=False, places=4, min_value=Decimal("-9999999999999999.9999"), max_value=Decimal("9999999999999999.9999")))
def test_every_amount_of_the_column_parses_exactly(value):
    assert parse_amount(format(value, "f")) == value


@given(st.text(min_size=1, max_size=25))
def test_strings_outside_the_pattern_never_parse(text):
    import re

    if re.fullmatch(r"-?[0-9]{1,16}(\.[0-9]{1,4})?", text, re.ASCII):
        assert parse_amount(text) == Decimal(text)
    else:
        with pytest.raises(ValueError):
            parse_amount(text)


# -- dates and ids -------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["0001-01-01", "9999-12-31", "1899-12-31", "3000-01-01"])
def test_dates_outside_the_bank_calendar_are_refused(raw):
    class Day(BaseModel):
        day: BankDate
        at: BankDateTime | None = None
        ident: Id = "x"

    with pytest.raises(ValidationError):
        Day.model_validate({"day": raw})
    with pytest.raises(ValidationError):
        Day.model_validate({"day": "2026-01-01", "at": f"{raw}T00:00:00+01:00"})
    with pytest.raises(ValidationError):
        Day.model_validate({"day": "2026-01-01", "ident": "x" * 65})


# -- the fuzzing runner finds what it is meant to find ---------------------------------


async def test_the_fuzz_runner_reports_server_errors_and_schema_breaking_responses():
    from counterflow_testkit import fuzz_openapi

    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/crash/{n}")
    async def crash(n: int) -> dict:
        if n % 2:
            raise RuntimeError("boom")
        return {}

    @app.get("/liar", responses={200: {"model": Out}}, response_class=JSONResponse)
    async def liar():  # noqa: ANN201 - the undeclared return lets it break its documented schema
        return JSONResponse({"n": "not a number"})

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app, raise_app_exceptions=False), base_url="http://t") as client:
        sent, failures = await fuzz_openapi(client, app, {"anonymous": {}}, examples=10)
    assert sent > 0
    assert any("GET /crash/{n} -> 500" in f for f in failures), failures
    assert any("GET /liar -> 200" in f for f in failures), failures
