"""problem+json rendering and Idempotency-Key semantics against PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Annotated

import httpx
from fastapi import FastAPI, Header
from pydantic import BaseModel
from sqlalchemy import text

from counterflow_shared.money import Amount
from counterflow_shared.web.idempotency import run_idempotent
from counterflow_shared.web.problems import MEDIA_TYPE, Problem, install_problem_handlers


class Transfer(BaseModel):
    payee: str
    amount: Amount


def make_app(sessions, tables) -> FastAPI:  # noqa: ANN001
    app = FastAPI()
    install_problem_handlers(app)

    @app.post("/transfers", status_code=201)
    async def create(body: Transfer, idempotency_key: Annotated[str | None, Header()] = None):
        async with sessions() as session, session.begin():
            async def compute():
                await asyncio.sleep(0.05)  # widen the race window
                new_id = (await session.execute(text("INSERT INTO things (name) VALUES (:n) RETURNING id"), {"n": body.payee})).scalar_one()
                return 201, {"id": new_id, "payee": body.payee, "amount": str(body.amount)}

            return await run_idempotent(session, tables["idempotency_keys"], scope="test", key=idempotency_key, body=body.model_dump(mode="json"), compute=compute)

    @app.get("/boom")
    async def boom():
        raise ValueError("internal detail that must not leak")

    @app.get("/conflict")
    async def conflict():
        raise Problem(409, "ticket-already-called", "Ticket already called", "ticket A017 was called by counter 3", counter_id="3")

    return app


def client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, raise_app_exceptions=False), base_url="http://t")


async def test_validation_error_is_problem_json_naming_the_field(backbone_db):
    _, sessions, tables = backbone_db
    async with client(make_app(sessions, tables)) as c:
        r = await c.post("/transfers", json={"payee": "x", "amount": 10.5})
    assert r.status_code == 422
    assert r.headers["content-type"].startswith(MEDIA_TYPE)
    body = r.json()
    assert body["type"].endswith("/validation-error")
    assert body["errors"][0]["field"] == "body.amount"
    assert "float" in body["errors"][0]["message"]


async def test_unexpected_error_is_a_problem_without_internals(backbone_db):
    _, sessions, tables = backbone_db
    async with client(make_app(sessions, tables)) as c:
        r = await c.get("/boom")
    assert r.status_code == 500 and r.headers["content-type"].startswith(MEDIA_TYPE)
    assert "internal detail" not in r.text


async def test_problem_carries_its_status_and_extension_members(backbone_db):
    _, sessions, tables = backbone_db
    async with client(make_app(sessions, tables)) as c:
        r = await c.get("/conflict")
    assert r.status_code == 409
    assert r.json()["counter_id"] == "3" and r.json()["type"].endswith("/ticket-already-called")


async def test_idempotency_key_replays_the_same_result_and_refuses_another_body(backbone_db):
    _, sessions, tables = backbone_db
    async with client(make_app(sessions, tables)) as c:
        first = await c.post("/transfers", json={"payee": "a", "amount": "1.00"}, headers={"Idempotency-Key": "k1"})
        again = await c.post("/transfers", json={"amount": "1.00", "payee": "a"}, headers={"Idempotency-Key": "k1"})
        other = await c.post("/transfers", json={"payee": "b", "amount": "1.00"}, headers={"Idempotency-Key": "k1"})
    assert first.status_code == 201 and again.status_code == 201
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    assert other.status_code == 422 and other.json()["type"].endswith("/idempotency-key-reused")
    async with sessions() as s:
        assert (await s.execute(text("SELECT count(*) FROM things"))).scalar_one() == 1


async def test_concurrent_duplicates_have_one_effect(backbone_db):
    _, sessions, tables = backbone_db
    async with client(make_app(sessions, tables)) as c:
        results = await asyncio.gather(*(c.post("/transfers", json={"payee": "z", "amount": "5"}, headers={"Idempotency-Key": "same"}) for _ in range(8)))
    assert {r.status_code for r in results} == {201}
    assert len({r.json()["id"] for r in results}) == 1
    async with sessions() as s:
        assert (await s.execute(text("SELECT count(*) FROM things"))).scalar_one() == 1
