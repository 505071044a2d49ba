"""``channel.rules.v1`` (compacted, key ``scope``): the active channel rule set."""

from __future__ import annotations

from typing import Any

from pydantic import AwareDatetime

from counterflow_shared.events.payloads.common import Id, Payload


class RuleSetActivated(Payload):
    """Rule set ``version`` became the active one (after maker-checker approval, or as a
    rollback to an earlier version). ``document`` is the full rule set (schema:
    :mod:`counterflow_shared.rules.schema`)."""

    scope: str = "global"
    rule_set_id: Id
    version: int
    document: dict[str, Any]
    proposed_by: str
    approved_by: str
    activated_at: AwareDatetime
    previous_version: int | None = None
    rollback: bool = False
