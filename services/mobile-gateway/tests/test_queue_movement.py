"""Which ticket transitions move the followed tickets behind them up the queue."""

from __future__ import annotations

from datetime import UTC, datetime

from counterflow_shared.events.payloads.tickets import TicketCalled, TicketCancelled, TicketRecalled, TicketServed, TicketServingStarted, TicketStatus
from counterflow_mobile_gateway.domain.tickets import left_waiting


def test_only_leaving_the_waiting_line_moves_others_up():
    now = datetime(2024, 5, 6, 9, tzinfo=UTC)
    base = {"ticket_id": "t1", "branch_id": "b1", "number": "A001", "service_type": "cash_withdrawal", "origin": "walk_in", "business_date": now.date(), "issued_at": now, "occurred_at": now}
    assert left_waiting(TicketCalled(**base, status=TicketStatus.CALLED, call_count=1))
    assert left_waiting(TicketCancelled(**base, status=TicketStatus.CANCELLED, call_count=0))
    assert not left_waiting(TicketCancelled(**base, status=TicketStatus.CANCELLED, call_count=1))
    for model, status in ((TicketRecalled, TicketStatus.CALLED), (TicketServingStarted, TicketStatus.SERVING), (TicketServed, TicketStatus.SERVED)):
        assert not left_waiting(model(**base, status=status, call_count=1))
