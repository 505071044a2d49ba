"""Routing of tickets that a channel rule sends to the VIP room, a relationship manager or
the wealth desk (``Decision.route_to``).

Which counters take a route (the ticketing domain knows three counter kinds, ``cash``,
``non_cash`` and ``vip_room``, and free zones per branch):

* ``vip_room``, ``relationship_manager``, ``wealth_desk``: a counter of kind ``vip_room``
  (the room where relationship managers and wealth advisers receive clients), or a
  counter whose ``zone`` is named after the route (a branch with a separate wealth desk
  gives it the zone ``wealth_desk``).

A counter takes a routed ticket only when it also has the ticket's skill. A route can be
taken while a counter serving it has a live teller session (``open`` or ``paused``: a
short pause of the VIP teller does not send the client to the hall).

Fallback (what a bank accepts rather than a stranded client): when no live counter of the
branch can take the route at issue, the ticket joins the normal queue with the rule's
priority boost and is marked ``route_fallback``; when the last such counter closes after
issue, its routed tickets are called by any counter with the skill, in call order.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from counterflow_shared.rules.schema import ROUTES
from counterflow_ticketing.persistence import branches_repo

#: route (the rule schema's ``ROUTES``) -> counter kinds that take it (a counter in a zone
#: named after the route does too).
ROUTE_COUNTER_KINDS: dict[str, frozenset[str]] = {r: frozenset({"vip_room"}) for r in ROUTES}


def routes_of(counter: Any) -> frozenset[str]:
    """The routes ``counter`` (a row with ``kind`` and ``zone``) takes."""
    return frozenset(r for r, kinds in ROUTE_COUNTER_KINDS.items() if counter.kind in kinds or counter.zone == r)


def served_pairs(counters: Iterable[Any]) -> frozenset[tuple[str, str]]:
    """``(route, skill)`` pairs that at least one of ``counters`` can take."""
    return frozenset((r, skill) for c in counters for r in routes_of(c) for skill in (c.skills or []))


async def live_served_pairs(session: AsyncSession, branch_id: str) -> frozenset[tuple[str, str]]:
    """``(route, skill)`` pairs the branch's counters with a live teller session can take."""
    return served_pairs(await branches_repo.live_counters(session, branch_id))


async def can_route(session: AsyncSession, branch_id: str, route: str, skill: str) -> bool:
    """Whether a live counter of ``branch_id`` takes ``route`` tickets of ``skill`` now."""
    return (route, skill) in await live_served_pairs(session, branch_id)
