"""Import of the full PKDD'99 tables into real PostgreSQL: completeness, idempotence,
resumption, tier shares, and no event storm on a rescore."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select, text

from counterflow_shared.persistence.db import create_engine, session_factory, session_scope
from counterflow_testkit import drop_database, migrated_database
from counterflow_scoring.domain.berka import TABLES
from counterflow_scoring.domain.importing import ImportInterrupted, data_dir_under, import_berka
from counterflow_scoring.main import PACKAGE_DIR
from counterflow_scoring.persistence import tables as t
from counterflow_scoring.settings import DEFAULT_BERKA_DIR, ScoringSettings

from .conftest import token


def data_lines(file: str) -> int:
    """Data rows of a file counted independently of the parser (non-empty lines - header)."""
    return sum(1 for line in (DEFAULT_BERKA_DIR / file).read_bytes().splitlines() if line.strip()) - 1


def first_column(file: str) -> set[int]:
    lines = (DEFAULT_BERKA_DIR / file).read_text().splitlines()[1:]
    return {int(line.split(";")[0]) for line in lines if line.strip()}


async def _scalar(url: str, stmt) -> object:  # noqa: ANN001
    engine = create_engine(url)
    try:
        async with session_scope(session_factory(engine)) as session:
            return (await session.execute(stmt)).scalar_one()
    finally:
        await engine.dispose()


async def _table_digest(url: str) -> dict[str, str]:
    """md5 of every book table's content, ordered by key (detects any change)."""
    engine = create_engine(url)
    out = {}
    try:
        async with session_scope(session_factory(engine)) as session:
            for table in TABLES:
                q = f"SELECT md5(string_agg(x::text, '|' ORDER BY x.{table.key})) FROM {table.name} x"
                out[table.name] = (await session.execute(text(q))).scalar_one()
    finally:
        await engine.dispose()
    return out


async def test_every_row_of_every_file_is_imported(imported: dict, book_database: tuple[str, str]) -> None:
    url = book_database[1]
    by_table = {r["table"]: r for r in imported["tables"]}
    for table in TABLES:
        expected = data_lines(table.file)
        assert by_table[table.name]["file_rows"] == expected, table.name
        assert by_table[table.name]["stored"] == expected, table.name
    accounts = set((await _all(url, select(t.accounts.c.account_id))))
    assert accounts == first_column("account.asc") and len(accounts) == 4500
    clients = set(await _all(url, select(t.clients.c.client_id)))
    assert clients == first_column("client.asc") and len(clients) == 5369
    customers = set(await _all(url, select(t.customers.c.customer_id)))
    assert {f"C{c}" for c in clients} <= customers
    scored = set(await _all(url, select(t.customer_scores.c.customer_id)))
    assert {f"C{c}" for c in clients} <= scored
    branches = set(await _all(url, select(t.accounts.c.branch_id).distinct()))
    assert branches == {f"D{d}" for d in first_column("district.asc")}


async def _all(url: str, stmt) -> list:  # noqa: ANN001
    engine = create_engine(url)
    try:
        async with session_scope(session_factory(engine)) as session:
            return list((await session.execute(stmt)).scalars())
    finally:
        await engine.dispose()


async def test_tier_shares_match_the_configuration_on_the_book(imported: dict, book_settings: ScoringSettings, book_app: httpx.AsyncClient) -> None:
    tiers = imported["rescore"]["tiers"]
    n = sum(tiers.values())
    assert n == imported["rescore"]["scored"] >= 5369
    cumulative = 0.0
    for tier, share in book_settings.tier_shares.items():
        cumulative += share
        assert sum(tiers.get(x, 0) for x in list(book_settings.tier_shares)[: list(book_settings.tier_shares).index(tier) + 1]) == round(cumulative * n)
    assert tiers["basic"] == n - round(cumulative * n)
    # the per-branch distribution adds up to the book
    headers = token(book_settings, "analyst", ["*"])
    total = 0
    for district in first_column("district.asc"):
        r = await book_app.get(f"/v1/branches/D{district}/tiers", headers=headers)
        assert r.status_code == 200
        total += r.json()["customers"]
    assert total == 5369


async def test_reimport_and_rescore_change_nothing_and_publish_nothing(imported: dict, book_app: httpx.AsyncClient, book_settings: ScoringSettings, book_database: tuple[str, str]) -> None:
    url = book_database[1]
    assert imported["rescore"]["published"] == imported["rescore"]["scored"]  # first scoring: everyone is new
    # settle whatever other tests' live events changed (a customer first seen in events
    # is published at its first rescore), so that only the re-import is measured
    settle = await book_app.post("/v1/operations/rescore", headers=token(book_settings, "operations", ["*"]))
    assert settle.status_code == 200
    before = await _table_digest(url)
    outbox_before = await _scalar(url, select(func.count()).select_from(t.backbone["outbox"]))
    r = await book_app.post("/v1/operations/import-berka", json={"data_dir": str(DEFAULT_BERKA_DIR)}, headers=token(book_settings, "operations", ["*"]))
    assert r.status_code == 200, r.text
    body = r.json()
    assert all(x["skipped"] and x["written"] == 0 for x in body["tables"])
    assert body["rescore"]["published"] == 0 and body["rescore"]["scored"] == settle.json()["scored"]
    assert await _table_digest(url) == before
    assert await _scalar(url, select(func.count()).select_from(t.backbone["outbox"])) == outbox_before


async def test_interrupted_import_resumes_without_duplicates(infrastructure) -> None:  # noqa: ANN001
    name, url = migrated_database(PACKAGE_DIR, "scoring_resume")
    engine = create_engine(url)
    try:
        sessions = session_factory(engine)
        with pytest.raises(ImportInterrupted):
            await import_berka(sessions, DEFAULT_BERKA_DIR, chunk_rows=2000, stop_after_chunks=1)
        assert await _scalar(url, select(func.count()).select_from(t.accounts)) == 2000
        report = await import_berka(sessions, DEFAULT_BERKA_DIR, chunk_rows=2000)
        accounts = next(x for x in report.tables if x.table == "accounts")
        assert accounts.written == 4500 - 2000 and accounts.stored == 4500
        assert next(x for x in report.tables if x.table == "districts").skipped
        for table in TABLES:
            assert next(x for x in report.tables if x.table == table.name).stored == data_lines(table.file)
    finally:
        await engine.dispose()
        drop_database(name)


async def test_missing_files_are_a_problem_naming_the_field(imported: dict, book_app: httpx.AsyncClient, book_settings: ScoringSettings) -> None:
    r = await book_app.post("/v1/operations/import-berka", json={"data_dir": "."}, headers=token(book_settings, "operations", ["*"]))  # the data root: no *.asc there
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["errors"][0]["field"] == "body.data_dir" and "missing" in r.text
    r = await book_app.post("/v1/operations/import-berka", json={"rescore": "maybe"}, headers=token(book_settings, "operations", ["*"]))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.rescore"


async def test_tier_changes_publish_exactly_the_customers_whose_tier_changed(imported: dict, book_settings: ScoringSettings, book_database: tuple[str, str]) -> None:
    from counterflow_scoring.domain.scoring import rescore_book

    url = book_database[1]
    engine = create_engine(url)
    published: list = []

    async def capture(session, *payloads):  # noqa: ANN001, ANN002 - stands in for runtime.publish to see the payloads
        published.extend(payloads)

    async def tiers() -> dict[str, str]:
        async with session_scope(session_factory(engine)) as session:
            return dict((await session.execute(select(t.customer_scores.c.customer_id, t.customer_scores.c.tier))).all())

    try:
        before = await tiers()
        published.clear()
        wider_private = book_settings.model_copy(update={"tier_shares": {"private": 0.04, "vip": 0.05, "premium": 0.15, "mass": 0.48}})
        async with session_scope(session_factory(engine)) as session:
            report = await rescore_book(session, capture, wider_private)
        after = await tiers()
        changed = {c for c in after if before.get(c) != after[c]}
        assert report.tiers["private"] == round(0.04 * report.scored)
        assert changed and {p.customer_id for p in published} == changed
        assert all(p.tier == after[p.customer_id] for p in published)
        published.clear()
        async with session_scope(session_factory(engine)) as session:
            await rescore_book(session, capture, book_settings)  # back to the configured shares
        assert {p.customer_id for p in published} == changed
    finally:
        await engine.dispose()


@pytest.mark.parametrize("data_dir", ["/etc", "../../../../../../etc", "berka/../../.."])
async def test_import_reads_only_under_the_configured_data_root(imported: dict, book_app: httpx.AsyncClient, book_settings: ScoringSettings, data_dir: str) -> None:
    """Any server folder outside ``import_data_root`` is refused before anything is read
    (422 naming ``body.data_dir``); a relative folder under the root is accepted."""
    r = await book_app.post("/v1/operations/import-berka", json={"data_dir": data_dir, "rescore": False}, headers=token(book_settings, "operations", ["*"]))
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["errors"][0]["field"] == "body.data_dir" and "outside the import data root" in r.text
    ok = await book_app.post("/v1/operations/import-berka", json={"data_dir": "berka", "rescore": False}, headers=token(book_settings, "operations", ["*"]))
    assert ok.status_code == 200, ok.text


def test_a_symlink_leading_out_of_the_data_root_is_refused(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "berka").mkdir(parents=True)
    outside.mkdir()
    (root / "escape").symlink_to(outside)
    assert data_dir_under(root, "berka") == (root / "berka").resolve()
    assert data_dir_under(root, str(root / "berka")) == (root / "berka").resolve()
    for given in ("escape", str(outside), "..", "berka/../../outside"):
        with pytest.raises(ValueError, match="outside the import data root"):
            data_dir_under(root, given)
