"""``python -m counterflow_ticketing rules ...``: validate a rule set file, print the
published schema, and run a what-if over recorded traffic (JSON lines of recorded
DecisionInputs, e.g. exported decision records)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from counterflow_shared.rules import RuleSetInvalid, load_rule_set
from counterflow_shared.rules.engine import RuleSet
from counterflow_shared.rules.schema import schema_json
from counterflow_shared.rules.whatif import Assumptions, TrafficInvalid, parse_traffic, what_if

T = TypeVar("T")
app = typer.Typer(help="Channel rule sets: validate, schema, what-if", no_args_is_help=True)


def _load_file(path: Path) -> RuleSet:
    """Load a rule set file (version: its stamped ``version`` or 0); exit 2 listing errors."""
    try:
        return load_rule_set(path.read_text())
    except RuleSetInvalid as exc:
        for e in exc.errors:
            typer.echo(f"{path}: {'rule ' + e.rule + ': ' if e.rule else ''}{e.field}: {e.message}", err=True)
        raise typer.Exit(2) from exc


async def _in_transaction(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run ``work`` in one transaction on the service database (``CF_TICKETING_DATABASE_URL``)."""
    from counterflow_shared.persistence.db import create_engine, session_factory, session_scope
    from counterflow_ticketing.settings import get_settings

    engine = create_engine(get_settings().database_url)
    try:
        async with session_scope(session_factory(engine)) as session:
            return await work(session)
    finally:
        await engine.dispose()


async def _stored_version(version: int | None) -> RuleSet | None:
    """A version from the service database (``None`` = the active one, which may not exist)."""
    from counterflow_ticketing.persistence import rules_repo

    row = await _in_transaction(lambda s: rules_repo.get_version(s, version) if version is not None else rules_repo.active_version(s))
    if row is None:
        if version is not None:
            typer.echo(f"no rule set version {version}", err=True)
            raise typer.Exit(2)
        return None
    return load_rule_set(row.document, version=row.version)


@app.command()
def validate(path: Path = typer.Argument(..., exists=True, dir_okay=False, help="rule set YAML or JSON")) -> None:
    """Validate a rule set file; every error names the rule and the field (exit code 2)."""
    rs = _load_file(path)
    typer.echo(f"{path}: valid ({len(rs.rule_ids)} rules, {len(rs.by_branch)} branch overrides)")


@app.command()
def schema() -> None:
    """Print the published JSON Schema of rule sets."""
    typer.echo(schema_json(), nl=False)


@app.command("what-if")
def what_if_command(
    traffic: Path = typer.Option(..., exists=True, dir_okay=False, help="recorded traffic: JSON lines of recorded DecisionInputs"),
    proposed: Path | None = typer.Option(None, exists=True, dir_okay=False, help="proposed rule set file"),
    proposed_version: int | None = typer.Option(None, help="or a stored version (service database)"),
    active: Path | None = typer.Option(None, exists=True, dir_okay=False, help="rule set to compare with (default: the active version in the service database)"),
    no_active: bool = typer.Option(False, help="compare with no rule set (everyone gets a ticket)"),
    counters: int = typer.Option(3, min=1, help="open counters per branch in the load model"),
    service_times: Path | None = typer.Option(None, exists=True, dir_okay=False, help='JSON {"service_type": seconds} overriding the default service times'),
    default_accept: float = typer.Option(0.3, min=0.0, max=1.0, help="acceptance probability when propensity is unknown"),
) -> None:
    """Report what the proposed set would have done with the recorded traffic, side by
    side with the active one (JSON on stdout; deterministic)."""
    if (proposed is None) == (proposed_version is None):
        typer.echo("give exactly one of --proposed or --proposed-version", err=True)
        raise typer.Exit(2)
    try:
        with traffic.open() as lines:
            records = parse_traffic(lines)
    except TrafficInvalid as exc:
        typer.echo(f"{traffic}: {exc}", err=True)
        raise typer.Exit(2) from exc
    new = _load_file(proposed) if proposed is not None else asyncio.run(_stored_version(proposed_version))
    assert new is not None
    old: RuleSet | None
    if no_active:
        old = None
    elif active is not None:
        old = _load_file(active)
    else:
        old = asyncio.run(_stored_version(None))
    assumptions: dict[str, Any] = {"counters": counters, "default_accept": default_accept}
    if service_times is not None:
        from counterflow_shared.rules.whatif import DEFAULT_SERVICE_TIME_S

        assumptions["service_time_s"] = {**DEFAULT_SERVICE_TIME_S, **json.loads(service_times.read_text())}
    report = what_if(new, old, records, Assumptions(**assumptions))
    typer.echo(json.dumps(report, indent=2, sort_keys=True))


@app.command("export-window")
def export_window(
    since: datetime = typer.Option(..., help="start of the window (ISO 8601 with offset)"),
    until: datetime = typer.Option(..., help="end of the window, exclusive"),
    branch_id: str | None = typer.Option(None, help="one branch only"),
) -> None:
    """Print the decision records of ``[since, until)`` as recorded traffic (JSON lines),
    the input of ``what-if --traffic``; each line also keeps what was decided under
    ``decision`` (rule id and version, kind, channel, device, ticket / offer, vetoes and
    devices not offered), which the what-if ignores."""
    if since.tzinfo is None or until.tzinfo is None:
        typer.echo("since and until need a UTC offset, e.g. 2026-11-24T00:00:00+00:00", err=True)
        raise typer.Exit(2)

    from counterflow_ticketing.persistence import rules_repo

    for record in asyncio.run(_in_transaction(lambda s: rules_repo.decision_records(s, since=since, until=until, branch_id=branch_id))):
        record.pop("used", None)
        typer.echo(json.dumps(record, sort_keys=True))


@app.command()
def propose(
    path: Path = typer.Argument(..., exists=True, dir_okay=False, help="rule set YAML or JSON (e.g. the ConfigMap's default.yaml)"),
    maker: str = typer.Option(..., help="staff id of the maker (recorded in the audit trail)"),
    comment: str | None = typer.Option(None, help="why"),
) -> None:
    """Propose a rule set file as a new version (deployment bootstrap of the ConfigMap).
    Idempotent: when a version with the same content exists, nothing is written. It is
    NOT activated: a different approver approves it through ``POST /v1/rules/sets/{v}/approve``."""
    _load_file(path)

    from counterflow_shared.rules import load_document
    from counterflow_shared.web.auth import StaffPrincipal
    from counterflow_ticketing.domain import rules_governance as gov
    from counterflow_ticketing.persistence import rules_repo

    document = load_document(path.read_text())

    async def _propose(session: AsyncSession) -> tuple[bool, int, str]:
        await rules_repo.lock_governance(session)
        existing = await rules_repo.versions_with_content(session, gov.content_sha256(document))
        if existing:
            return False, existing[0].version, existing[0].status
        view = await gov.propose(session, actor=StaffPrincipal(subject=maker, role="operations", branches=("*",)), document=document, comment=comment, now=datetime.now(UTC))
        return True, view["version"], view["status"]

    created, version, status = asyncio.run(_in_transaction(_propose))
    typer.echo(f"{'proposed' if created else 'already stored as'} version {version} ({status})")
