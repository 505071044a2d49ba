"""The staff API over the imported book: scores with explanations, tier distribution,
roles and branch scopes, problem+json errors."""

from __future__ import annotations

import httpx
import pytest

from counterflow_scoring.settings import ScoringSettings

from .conftest import token

PROBLEM = "application/problem+json"


async def test_customer_score_with_explanation_that_adds_up(imported: dict, book_app: httpx.AsyncClient, book_settings: ScoringSettings) -> None:
    r = await book_app.get("/v1/customers/C2/score", headers=token(book_settings, "analyst", ["*"]))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["home_branch_id"] == "D1"  # client 2 owns account 2 of district 1 (account.asc)
    assert body["tier"] in {"private", "vip", "premium", "mass", "basic"}
    assert set(body["propensity"]) == {"self_service", "mobile", "appointment"}
    assert all(0.0 < p < 1.0 for p in body["propensity"].values())
    assert sum(f["points"] for f in body["explanation"]) == pytest.approx(body["score"], abs=0.05)
    assert {f["factor"] for f in body["explanation"]} >= {"balance", "loan_principal", "card", "tenure"}


async def test_higher_tiers_have_higher_scores(imported: dict, book_app: httpx.AsyncClient, book_settings: ScoringSettings) -> None:
    headers = token(book_settings, "analyst", ["*"])
    by_tier: dict[str, list[float]] = {}
    for cid in ("C1", "C2", "C3", "C4", "C5", "C6", "C7", "C8", "C9", "C10", "C11", "C12", "C13", "C14", "C15", "C16", "C17", "C18", "C19", "C20"):
        body = (await book_app.get(f"/v1/customers/{cid}/score", headers=headers)).json()
        by_tier.setdefault(body["tier"], []).append(body["score"])
    order = ["private", "vip", "premium", "mass", "basic"]
    present = [t for t in order if t in by_tier]
    for upper, lower in zip(present, present[1:]):
        assert min(by_tier[upper]) >= max(by_tier[lower])


async def test_staff_only_and_branch_scoped(imported: dict, book_app: httpx.AsyncClient, book_settings: ScoringSettings) -> None:
    r = await book_app.get("/v1/customers/C2/score")
    assert r.status_code == 401 and r.headers["content-type"].startswith(PROBLEM)
    r = await book_app.get("/v1/customers/C2/score", headers={"Authorization": "Bearer not-a-token"})
    assert r.status_code == 401
    r = await book_app.get("/v1/customers/C2/score", headers=token(book_settings, "teller", ["D2"]))
    assert r.status_code == 403 and r.json()["type"].endswith("/forbidden-branch")
    assert (await book_app.get("/v1/customers/C2/score", headers=token(book_settings, "lobby_manager", ["D1"]))).status_code == 200
    assert (await book_app.get("/v1/branches/D1/tiers", headers=token(book_settings, "teller", ["D2"]))).status_code == 403
    r = await book_app.post("/v1/operations/rescore", headers=token(book_settings, "analyst", ["*"]))
    assert r.status_code == 403 and r.headers["content-type"].startswith(PROBLEM)


async def test_unknown_and_malformed_ids(imported: dict, book_app: httpx.AsyncClient, book_settings: ScoringSettings) -> None:
    headers = token(book_settings, "analyst", ["*"])
    r = await book_app.get("/v1/customers/C999999999/score", headers=headers)
    assert r.status_code == 404 and r.headers["content-type"].startswith(PROBLEM)
    r = await book_app.get("/v1/customers/C%201/score", headers=headers)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "path.customer_id"


async def test_tier_distribution_of_a_branch(imported: dict, book_app: httpx.AsyncClient, book_settings: ScoringSettings) -> None:
    r = await book_app.get("/v1/branches/D1/tiers", headers=token(book_settings, "lobby_manager", ["D1"]))
    assert r.status_code == 200
    body = r.json()
    assert set(body["tiers"]) == {"private", "vip", "premium", "mass", "basic"}
    assert body["customers"] == sum(body["tiers"].values()) > 500  # Prague (D1) is the largest district
    empty = await book_app.get("/v1/branches/D999/tiers", headers=token(book_settings, "analyst", ["*"]))
    assert empty.status_code == 200 and empty.json()["customers"] == 0
