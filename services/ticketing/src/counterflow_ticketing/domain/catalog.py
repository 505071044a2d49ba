"""The standard service-type catalog a branch starts with.

Each service type has a ticket prefix (the letter on the ticket, ``A017``), the skill a
counter needs to serve it, whether it handles cash (so only cash / high counters take
it), the zone it belongs to, and a default mean service time used until the branch's own
history has enough served tickets. The default times are typical counter transaction
durations; they are replaced by the branch's learned means after
:data:`counterflow_ticketing.domain.estimation.MIN_HISTORY` tickets.
"""

from __future__ import annotations

from dataclasses import dataclass

from counterflow_shared.events.payloads.common import ServiceType


@dataclass(frozen=True)
class ServiceTypeSpec:
    """A service type: ``code``, display ``name``, ticket ``prefix``, required ``skill``,
    ``handles_cash``, ``zone`` and ``default_service_s`` (seconds)."""

    code: str
    name: str
    prefix: str
    skill: str
    handles_cash: bool
    zone: str
    default_service_s: float


STANDARD_SERVICE_TYPES: tuple[ServiceTypeSpec, ...] = (
    ServiceTypeSpec(ServiceType.CASH_WITHDRAWAL, "Cash withdrawal", "A", "cash", True, "cash", 180.0),
    ServiceTypeSpec(ServiceType.CASH_DEPOSIT, "Cash deposit", "A", "cash", True, "cash", 210.0),
    ServiceTypeSpec(ServiceType.FOREIGN_EXCHANGE, "Foreign exchange", "F", "cash", True, "cash", 240.0),
    ServiceTypeSpec(ServiceType.TRANSFER, "Transfer / remittance", "B", "payments", False, "non_cash", 240.0),
    ServiceTypeSpec(ServiceType.BILL_PAYMENT, "Bill payment", "B", "payments", False, "non_cash", 150.0),
    ServiceTypeSpec(ServiceType.STATEMENT, "Statement / passbook", "S", "payments", False, "non_cash", 120.0),
    ServiceTypeSpec(ServiceType.CARD_SERVICES, "Card services", "C", "cards", False, "non_cash", 420.0),
    ServiceTypeSpec(ServiceType.ACCOUNT_OPENING, "Account opening", "D", "accounts", False, "non_cash", 900.0),
    ServiceTypeSpec(ServiceType.LOAN_CONSULTATION, "Loan consultation", "L", "loans", False, "non_cash", 1800.0),
    ServiceTypeSpec(ServiceType.WEALTH_MANAGEMENT, "Wealth management", "W", "wealth", False, "wealth", 1800.0),
    ServiceTypeSpec(ServiceType.COMPLAINT, "Complaint", "K", "complaints", False, "non_cash", 600.0),
)

#: Counter kinds and the zone each one stands in.
COUNTER_KINDS = {"cash": "cash", "non_cash": "non_cash", "vip_room": "vip_room"}

#: Zones of a branch (ARCHITECTURE.md domain words).
ZONES = ("cash", "non_cash", "self_service", "wealth", "vip_room")


def format_number(prefix: str, sequence: int) -> str:
    """Display number: prefix + sequence zero-padded to three digits (``A007``, ``A1234``)."""
    return f"{prefix}{sequence:03d}"
