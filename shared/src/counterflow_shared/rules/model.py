"""Inputs and outputs of a channel decision.

Placeholder engine: until a rule set is active, :func:`decide` always issues a ticket
(rule id ``default``, version 0). The rules issue replaces the body of :func:`decide`
with the real engine without changing these types (fields may be added).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal


@dataclass(frozen=True)
class DeviceView:
    """A self-service device as the read model knows it.

    Attributes:
        cash_available: dispensable cash per currency (major units, Decimal).
        expected_wait_s: expected wait at the device (seconds).
        forecast_cash_out_at: when it is expected to run out (aware UTC) or ``None``.
    """

    device_id: str
    branch_id: str
    kind: str
    status: str
    service_types: frozenset[str]
    cash_available: dict[str, Decimal] = field(default_factory=dict)
    max_amount: dict[str, Decimal] = field(default_factory=dict)
    queue_length: int = 0
    expected_wait_s: float = 0.0
    forecast_cash_out_at: datetime | None = None
    accessible: bool = False
    zone: str = "self_service"


@dataclass(frozen=True)
class DecisionInput:
    """Everything a rule may look at when a customer asks for ``service_type``.

    Attributes:
        amount / currency: the transaction (Decimal major units, ISO 4217), when known.
        tier: customer tier (``None`` for anonymous walk-ins).
        propensity: channel -> probability of accepting (``self_service``, ``mobile``, ``appointment``).
        needs: customer needs flags (``accessibility``, ``elderly``, ``asks_for_person``).
        counter_wait_s: estimated counter wait for this service now (seconds; ``None`` unknown).
        devices: self-service devices of the branch.
        now: aware UTC instant of the request; ``local_time``/``day_type`` are derived by the caller
            from the branch time zone (``day_type``: ``weekday``, ``saturday``, ``sunday``, ``holiday``).
        sla_share: share of customers called within the SLA target in the last window (0..1).
    """

    branch_id: str
    service_type: str
    now: datetime
    amount: Decimal | None = None
    currency: str | None = None
    customer_id: str | None = None
    tier: str | None = None
    propensity: dict[str, float] = field(default_factory=dict)
    needs: frozenset[str] = frozenset()
    counter_wait_s: float | None = None
    devices: tuple[DeviceView, ...] = ()
    local_time: str | None = None
    day_type: str | None = None
    zone: str | None = None
    sla_share: float | None = None
    channel_of_request: str = "kiosk"


@dataclass(frozen=True)
class Decision:
    """The outcome: a ``ticket`` (with an optional priority boost / fee notice / VIP
    routing) or an ``offer`` of another channel. Always names the rule set version and
    rule that produced it, and the inputs it used (for the decision record)."""

    kind: Literal["ticket", "offer"]
    rule_set_version: int
    rule_id: str
    channel: str = "counter"
    device_id: str | None = None
    priority_boost: int = 0
    route_to: str | None = None
    fee_notice: str | None = None
    explanation: str = ""
    inputs: dict[str, Any] = field(default_factory=dict)


def decide(rule_set: Any, request: DecisionInput) -> Decision:
    """Decide for ``request`` under ``rule_set`` (``None`` = no active set: always a ticket)."""
    return Decision(kind="ticket", rule_set_version=0, rule_id="default", explanation="no active rule set")
