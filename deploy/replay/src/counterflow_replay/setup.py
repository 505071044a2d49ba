"""Prepare the platform for a replay day through the services' operations APIs: the
customer book (scoring import), the service catalog, branches with counters and kiosks,
self-service devices with cash, and the rule set of each scenario (maker-checker).

Branch equipment is a modelling choice, not data (PKDD'99 says nothing about devices):
each branch gets one ATM and one cash recycler in the self-service zone and one
multi-function kiosk for payments, so that every channel of the diversion loop can be
exercised. Cassettes hold CZK notes of the 1993 Czech series from 100 to 5,000 CZK,
:data:`CASSETTE_NOTES` notes each, filled to :data:`FILL_SHARE`.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from counterflow_replay.berka import CURRENCY
from counterflow_replay.platform import Platform, PlatformError
from counterflow_replay.traffic import Day

#: Branch time zone: the PKDD'99 bank is Czech.
TIME_ZONE = "Europe/Prague"
#: Notes a cassette holds (a common ATM cassette size; an assumption, see docs/replay.md).
CASSETTE_NOTES = 2000
#: Share of a cassette filled at the start of each scenario.
FILL_SHARE = 0.5
#: CZK notes dispensed (the 1993 series from 100 CZK up; the 20 and 50 CZK notes are left out
#: as ATMs do not stock them).
DENOMINATIONS = (Decimal("100"), Decimal("200"), Decimal("500"), Decimal("1000"), Decimal("2000"), Decimal("5000"))
#: Service types the replay uses and the ticket zone / skill the standard catalog gives them.
SERVICE_TYPES = ("cash_withdrawal", "cash_deposit", "bill_payment", "account_opening", "loan_consultation", "card_services")
#: Skills of a replay counter: every teller serves every replayed service type.
COUNTER_SKILLS = ["cash", "payments", "accounts", "loans", "cards"]
RULESETS = Path(__file__).parent / "rulesets"


def devices_of(branch_id: str) -> list[dict[str, Any]]:
    """Device registrations of a branch (see the module docstring)."""
    units = [
        {"unit_id": f"u{int(d)}", "currency": CURRENCY, "denomination": str(d), "capacity": CASSETTE_NOTES, "low_threshold": CASSETTE_NOTES // 10, "full_threshold": CASSETTE_NOTES - CASSETTE_NOTES // 20, "count": int(CASSETTE_NOTES * FILL_SHARE)}
        for d in DENOMINATIONS
    ]
    base = {"branch_id": branch_id, "zone": "self_service", "accessible": True, "time_zone": TIME_ZONE}
    return [
        {**base, "device_id": f"{branch_id}-ATM1", "kind": "atm", "capabilities": {"service_types": ["cash_withdrawal"], "currencies": [CURRENCY], "denominations": [str(d) for d in DENOMINATIONS]}, "cash_units": units},
        {**base, "device_id": f"{branch_id}-CRM1", "kind": "cash_recycler", "capabilities": {"service_types": ["cash_withdrawal", "cash_deposit"], "currencies": [CURRENCY], "denominations": [str(d) for d in DENOMINATIONS]}, "cash_units": units},
        {**base, "device_id": f"{branch_id}-KIO1", "kind": "kiosk", "capabilities": {"service_types": ["bill_payment", "transfer", "statement"], "currencies": [CURRENCY]}},
    ]


async def import_book(p: Platform, data_dir: Path) -> dict[str, Any]:
    """Scoring: import the PKDD'99 book and rescore it (tiers and propensities are then
    published on ``customer.scores.v1`` for ticketing's read model)."""
    r = await p.call("POST", f"{p.endpoints.scoring}/v1/operations/import-berka", json={"data_dir": str(data_dir.resolve()), "rescore": True}, headers=p.ops, timeout=1800.0)
    return r.json()


async def put_catalog(p: Platform, mean_service_s: dict[str, float]) -> None:
    """Service types: keep each type's catalog entry, set ``default_service_s`` to the
    fitted mean (seconds; the services run on the simulated clock, nothing is scaled)."""
    r = await p.call("GET", f"{p.endpoints.ticketing}/v1/service-types", headers=p.ops)
    by_code = {row["service_type"]: row for row in r.json()}
    for code in SERVICE_TYPES:
        row = by_code.get(code)
        if row is None:
            raise PlatformError(f"ticketing has no service type {code!r}")
        body = {k: row[k] for k in ("name", "prefix", "skill", "handles_cash", "zone")}
        body["default_service_s"] = mean_service_s[code]
        await p.call("PUT", f"{p.endpoints.ticketing}/v1/service-types/{code}", json=body, headers=p.ops)


async def put_branches(p: Platform, day: Day, kiosks_per_branch: int = 2) -> None:
    """Branches, counters (one per teller, serving every replayed service) and kiosks."""
    for b in day.branches:
        body = {
            "name": day.names.get(b, f"PKDD'99 district {b[1:]}"),
            "time_zone": TIME_ZONE,
            "opening_hours": [{"weekday": d, "opens": "00:00", "closes": "23:59"} for d in range(7)],
            "zones": [{"zone": "cash", "name": "Cash counters"}, {"zone": "non_cash", "name": "Counters"}, {"zone": "self_service", "name": "Self-service"}],
            "services": list(SERVICE_TYPES),
        }
        await p.call("PUT", f"{p.endpoints.ticketing}/v1/branches/{b}", json=body, headers=p.ops)
        for t in day.tellers[b]:
            await p.call("PUT", f"{p.endpoints.ticketing}/v1/branches/{b}/counters/{t.counter_id}", json={"name": t.counter_id, "kind": "cash", "zone": "cash", "skills": COUNTER_SKILLS}, headers=p.ops)
        creds = []
        for k in range(kiosks_per_branch):
            kiosk_id, secret = f"{b}-K{k + 1}", f"replay-kiosk-secret-{b}-{k + 1}-{uuid.uuid4().hex[:8]}"
            await p.call("PUT", f"{p.endpoints.ticketing}/v1/branches/{b}/kiosks/{kiosk_id}", json={"secret": secret}, headers=p.ops)
            creds.append(f"{kiosk_id}:{secret}")
        p.kiosk_auth[b] = creds


async def put_devices(p: Platform, day: Day) -> None:
    """Register (or re-key) every device; the secrets are kept for the device actors."""
    for b in day.branches:
        for d in devices_of(b):
            r = await p.call("POST", f"{p.endpoints.selfservice}/v1/devices", json=d, headers=p.ops, ok=(201, 409))
            if r.status_code == 409:
                r = await p.call("POST", f"{p.endpoints.selfservice}/v1/devices/{d['device_id']}/credentials", headers=p.ops)
                await p.call("PUT", f"{p.endpoints.selfservice}/v1/devices/{d['device_id']}/cash-units", json={"cash_units": d.get("cash_units", [])}, headers=p.ops)
            p.device_auth[d["device_id"]] = f"{d['device_id']}:{r.json()['secret']}"


async def refill(p: Platform, day: Day, at: datetime) -> None:
    """Bring every cassette back to its starting count (a replenishment report at the
    simulated instant ``at``)."""
    now = at.isoformat()
    for b in day.branches:
        for d in devices_of(b):
            if d.get("cash_units"):
                await p.device(d["device_id"], "replenishments", {"cash_units": [{"unit_id": u["unit_id"], "count": u["count"]} for u in d["cash_units"]], "replenished_at": now})


async def heartbeat_round(p: Platform, day: Day, at: datetime) -> None:
    """Every device of ``day`` sends an ``online`` heartbeat stamped with the simulated
    instant ``at`` (selfservice refuses a ``sent_at`` more than its clock skew bound away
    from its own clock)."""
    ids = [d["device_id"] for b in day.branches for d in devices_of(b)]
    await asyncio.gather(*(p.device(i, "heartbeats", {"status": "online", "sent_at": at.isoformat(), "queue_length": 0}) for i in ids))


def ruleset_document(scenario: str, default_ruleset: Path) -> dict[str, Any]:
    """The rule set of ``scenario`` as written (durations are real seconds of the
    simulated day)."""
    path = default_ruleset if scenario == "rules" else RULESETS / f"{scenario}.yaml"
    return yaml.safe_load(path.read_text())


#: Names of the replay's own rule sets (``rulesets/*.yaml``).
REPLAY_RULESET_NAMES = ("replay-no-diversion", "replay-offer-all", "replay-oracle")


async def active_ruleset(p: Platform) -> int | None:
    """The version active in ticketing now; ``None`` when none was ever activated or the
    active one is a replay-only set (left by an interrupted replay: not the bank's)."""
    r = await p.call("GET", f"{p.endpoints.ticketing}/v1/rules/active", headers=p.ops, ok=(200, 404))
    if r.status_code != 200 or r.json().get("name") in REPLAY_RULESET_NAMES:
        return None
    return int(r.json()["version"])


async def restore_ruleset(p: Platform, version: int) -> None:
    """Re-activate ``version`` (ticketing's rollback, by an approver)."""
    await p.call("POST", f"{p.endpoints.ticketing}/v1/rules/rollback", json={"to_version": version}, headers=p.approver)


async def diversion_accounting(p: Platform, since: datetime, until: datetime) -> list[dict[str, Any]]:
    """Ticketing's own diversion accounting of offers made in ``[since, until)``: one row
    per (rule, branch) with ``offered, declined, accepted, completed, expired, pending,
    in_progress`` (``GET /v1/rules/completion-rates``)."""
    r = await p.call("GET", f"{p.endpoints.ticketing}/v1/rules/completion-rates", params={"since": since.isoformat(), "until": until.isoformat()}, headers=p.ops)
    return list(r.json()["rates"])


async def activate_ruleset(p: Platform, doc: dict[str, Any], comment: str) -> int:
    """Propose ``doc`` as operations (maker) and approve-and-activate it as an approver
    (checker); returns the active version."""
    r = await p.call("POST", f"{p.endpoints.ticketing}/v1/rules/sets", json={"document": doc, "comment": comment}, headers=p.ops)
    version = int(r.json()["version"])
    await p.call("POST", f"{p.endpoints.ticketing}/v1/rules/sets/{version}/approve", json={"comment": "replay scenario", "activate": True}, headers=p.approver)
    return version
