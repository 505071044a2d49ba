"""The revision sets readiness compares a database against, read from the service's own
Alembic scripts (no database needed)."""

from __future__ import annotations

from counterflow_selfservice.main import PACKAGE_DIR
from counterflow_shared.persistence.migrations import head_revisions, known_revisions, schema_compatibility


def test_known_revisions_hold_the_whole_history_and_the_head() -> None:
    heads, known = head_revisions(PACKAGE_DIR), known_revisions(PACKAGE_DIR)
    scripts = [p for p in (PACKAGE_DIR / "migrations" / "versions").glob("*.py")]
    assert heads and heads < known and len(known) == len(scripts)
    older = next(iter(known - heads))
    assert not schema_compatibility(frozenset({older}), heads, known)[0], "an older revision of this service is behind, not ahead"
