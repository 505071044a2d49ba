"""Rules of cash units: how an amount is paid out of the cassettes, what a deposit adds,
how much cash a device can still pay. Pure functions over :class:`CashUnit`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

from counterflow_selfservice.domain.models import CashUnit, ReplenishmentStatus


class InsufficientCash(Exception):
    """The units cannot pay the amount (not enough notes, or no combination of the
    denominations makes the amount). ``available`` is the payable cash in major units."""

    def __init__(self, message: str, *, available: Decimal) -> None:
        super().__init__(message)
        self.available = available


def dispensable(units: Iterable[CashUnit], currency: str) -> Decimal:
    """Cash of ``currency`` in the units (major units)."""
    return sum((u.value for u in units if u.currency == currency), Decimal(0))


def cash_by_currency(units: Iterable[CashUnit]) -> dict[str, Decimal]:
    """Total cash per currency (major units)."""
    totals: dict[str, Decimal] = {}
    for u in units:
        totals[u.currency] = totals.get(u.currency, Decimal(0)) + u.value
    return totals


def plan_dispense(units: Iterable[CashUnit], currency: str, amount: Decimal) -> dict[str, int]:
    """Notes to take from each unit to pay ``amount`` of ``currency``: largest
    denominations first (the usual ATM "mix"), falling back from a unit when it runs out.

    Greedy is exact for canonical note series (1-2-5 series such as EUR and CZK notes);
    when it leaves a remainder the amount is refused rather than searched for.

    Returns:
        unit id -> note count (only units that give notes).

    Raises:
        InsufficientCash: the units cannot pay the amount.
    """
    candidates = sorted((u for u in units if u.currency == currency and u.count > 0), key=lambda u: (-u.denomination, u.unit_id))
    remaining = amount
    plan: dict[str, int] = {}
    for unit in candidates:
        notes = min(int(remaining // unit.denomination), unit.count)
        if notes > 0:
            plan[unit.unit_id] = notes
            remaining -= unit.denomination * notes
        if remaining == 0:
            return plan
    raise InsufficientCash(
        f"cannot pay {amount} {currency}: {dispensable(candidates, currency)} {currency} in the cash units",
        available=dispensable(candidates, currency),
    )


def check_dispense(units: Mapping[str, CashUnit], notes: Mapping[str, int]) -> None:
    """Check that every unit holds the notes asked of it.

    Raises:
        InsufficientCash: a unit holds fewer notes than asked.
    """
    for unit_id, count in notes.items():
        unit = units[unit_id]
        if unit.count < count:
            raise InsufficientCash(
                f"cash unit {unit_id} holds {unit.count} notes, {count} asked",
                available=unit.value,
            )


def notes_value(units: Mapping[str, CashUnit], notes: Mapping[str, int]) -> Decimal:
    """Value of ``notes`` (unit id -> count) in major units."""
    return sum((units[u].denomination * n for u, n in notes.items()), Decimal(0))


def can_pay(units: Iterable[CashUnit], currency: str, amount: Decimal) -> bool:
    """Whether :func:`plan_dispense` would pay ``amount``."""
    try:
        plan_dispense(units, currency, amount)
    except InsufficientCash:
        return False
    return True


def withdrawal_obstacle(units: Iterable[CashUnit], currency: str, typical: Decimal) -> str | None:
    """Why the device should not be offered for cash withdrawals in ``currency``, or
    ``None`` when it should (:func:`serves_withdrawals`): ``cash`` when every unit of the
    currency is low or the cash it holds is below a typical withdrawal, ``notes`` when it
    holds enough cash but its notes cannot make a typical withdrawal (e.g. only 500s and a
    typical withdrawal of 100)."""
    own = [u for u in units if u.currency == currency]
    if not any(u.status in (ReplenishmentStatus.OK, ReplenishmentStatus.FULL) for u in own):
        return "cash"
    if can_pay(own, currency, typical):
        return None
    return "notes" if sum((u.denomination * u.count for u in own), Decimal(0)) >= typical else "cash"


def serves_withdrawals(units: Iterable[CashUnit], currency: str, typical: Decimal) -> bool:
    """Whether the device should be offered for cash withdrawals in ``currency``.

    A device is offered while at least one of its units for the currency is above its
    low threshold (status ok or full) and it can pay a typical withdrawal. A device
    whose units are all low keeps serving the customers in front of it, but diversion
    does not send more: the low threshold is where replenishment is due.
    """
    return withdrawal_obstacle(units, currency, typical) is None


def takes_deposits(units: Iterable[CashUnit], currency: str) -> bool:
    """Whether a unit for ``currency`` has room (status not full)."""
    return any(u.currency == currency and u.status is not ReplenishmentStatus.FULL for u in units)
