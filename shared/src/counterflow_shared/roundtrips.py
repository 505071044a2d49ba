"""Counting database and Redis round trips through the drivers (tests and benchmarks).

Not timed, counted: SQLAlchemy's pool ``checkout`` / ``checkin`` events hand over the
asyncpg connection a piece of work holds, whose socket writes are counted (asyncpg
writes one buffer per request/response exchange and then waits for the answer; only a
``Terminate`` is sent without waiting), and redis-py's ``send_packed_command`` is counted
once per command or pipeline sent. A write carrying ``Parse`` prepares a statement new
to its connection (once per connection and statement, asyncpg's statement cache keeps
it afterwards) and is also counted in :attr:`RoundTrips.prepares`.

With ``this_context_only`` only work done in the caller's context (and the tasks it
starts, e.g. an in-process ASGI request) is counted, not the relay, consumers or loops
running beside it; without it, everything the engine and Redis do is counted (an idle
worker).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from redis.asyncio.connection import AbstractConnection
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine


class RoundTrips:
    """What :func:`counting` saw: ``postgres`` round trips (of which ``prepares``), ``redis``
    round trips and the first word of each SQL statement."""

    def __init__(self) -> None:
        self.postgres = 0
        self.prepares = 0
        self.redis = 0
        self.statements: list[str] = []


_measuring: ContextVar[RoundTrips | None] = ContextVar("measuring_round_trips", default=None)


def _frontend_messages(data: bytes) -> list[int]:
    """Type bytes of the PostgreSQL frontend messages in one socket write."""
    out, i = [], 0
    while i + 5 <= len(data):
        out.append(data[i])
        i += 1 + int.from_bytes(data[i + 1 : i + 5], "big")
    return out


@contextmanager
def counting(engine: AsyncEngine, *, this_context_only: bool = True) -> Iterator[RoundTrips]:
    """Count ``engine``'s PostgreSQL and every Redis client's round trips inside the block."""
    counts = RoundTrips()

    def mine() -> bool:
        return not this_context_only or _measuring.get() is counts

    def on_checkout(dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
        transport = dbapi_conn._connection._transport
        if not mine():
            return
        transport._cf_counts = counts  # this connection now works for the measured code
        if getattr(transport, "_cf_hooked", False):
            return
        original = transport.write

        def write(data: bytes) -> None:
            owner = getattr(transport, "_cf_counts", None)
            messages = _frontend_messages(bytes(data))
            if owner is not None and any(t != ord("X") for t in messages):
                owner.postgres += 1
                owner.prepares += ord("P") in messages
            original(data)

        transport.write = write
        transport._cf_hooked = True

    def on_checkin(dbapi_conn: Any, _record: Any) -> None:
        if dbapi_conn is not None and getattr(dbapi_conn._connection._transport, "_cf_counts", None) is counts:
            dbapi_conn._connection._transport._cf_counts = None

    def on_execute(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if mine():
            counts.statements.append(statement.strip().split()[0])

    event.listen(engine.sync_engine, "checkout", on_checkout)
    event.listen(engine.sync_engine.pool, "checkin", on_checkin)
    event.listen(engine.sync_engine, "before_cursor_execute", on_execute)
    original_send = AbstractConnection.send_packed_command

    async def send_packed_command(self: Any, command: Any, check_health: bool = True) -> None:
        if mine():
            counts.redis += 1
        await original_send(self, command, check_health)

    AbstractConnection.send_packed_command = send_packed_command  # type: ignore[method-assign]
    token = _measuring.set(counts)
    try:
        yield counts
    finally:
        _measuring.reset(token)
        AbstractConnection.send_packed_command = original_send  # type: ignore[method-assign]
        event.remove(engine.sync_engine, "checkout", on_checkout)
        event.remove(engine.sync_engine.pool, "checkin", on_checkin)
        event.remove(engine.sync_engine, "before_cursor_execute", on_execute)
