"""Tables of channel rule governance (issue 7): immutable rule set versions, their audit
trail, and the decision records the what-if replays.

A version's ``document`` never changes once written (a trigger in migration
``0100_rules`` refuses any UPDATE of it); only its life-cycle columns move
(``proposed`` -> ``approved`` | ``rejected``; ``approved`` -> ``active`` -> ``retired``,
and back to ``active`` on a rollback). Every move is a row of ``rule_set_audit``.
"""

from sqlalchemy import JSON, BigInteger, Column, DateTime, Identity, Index, Integer, String, Table, Text

from counterflow_shared.rules.records import decision_table
from counterflow_ticketing.persistence.metadata import metadata

rule_set_versions = Table(
    "rule_set_versions",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("rule_set_id", String(64), nullable=False),
    Column("scope", String(64), nullable=False),
    Column("name", String(100), nullable=False),
    Column("document", JSON, nullable=False),
    Column("document_sha256", String(64), nullable=False),
    Column("base_version", Integer),
    Column("status", String(16), nullable=False),
    Column("comment", Text),
    Column("proposed_by", String(200), nullable=False),
    Column("proposed_at", DateTime(timezone=True), nullable=False),
    Column("decided_by", String(200)),
    Column("decided_at", DateTime(timezone=True)),
    Column("decision_comment", Text),
    Column("activated_at", DateTime(timezone=True)),
)

rule_set_audit = Table(
    "rule_set_audit",
    metadata,
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), Identity(always=False), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("action", String(32), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("role", String(32), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("detail", JSON, nullable=False),
    Index("ix_rule_set_audit_version", "version"),
)

#: Decision records (shared definition: the mobile gateway keeps the same table).
rule_decisions = decision_table(metadata)
