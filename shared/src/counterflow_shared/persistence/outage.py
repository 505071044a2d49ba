"""Database outages as 503 problems, logged once per outage.

When PostgreSQL is down (stopped, restarting, unreachable), every request that needs it
fails the same way. Each one answers ``503 database-unavailable`` problem+json with
``Retry-After`` (nothing was applied: the request's transaction never committed), and
the log gets one ``database.outage`` line when the outage starts and one
``database.recovered`` line with its length when a request or check succeeds again,
rather than a traceback per request.
"""

from __future__ import annotations

import time

import asyncpg
import structlog
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

log = structlog.get_logger(__name__)

#: PostgreSQL SQLSTATE classes that mean "the server is not there for you right now":
#: 08 connection exception, 57P01-57P03 admin/crash shutdown and cannot-connect-now,
#: 53300 too many connections (https://www.postgresql.org/docs/current/errcodes-appendix.html).
_OUTAGE_SQLSTATES = ("08", "57P01", "57P02", "57P03", "53300")


#: Exception classes an outage surfaces as (the HTTP layer registers a handler for each)
OUTAGE_CLASSES: tuple[type[Exception], ...] = (OSError, DBAPIError, asyncpg.PostgresError, asyncpg.InterfaceError)


def is_database_outage(exc: BaseException) -> bool:
    """Whether ``exc`` (as raised through SQLAlchemy or asyncpg) means the database is
    unreachable or shutting down, as opposed to a bug or a bad statement."""
    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, (ConnectionError, TimeoutError)) or (isinstance(e, OSError) and e.errno is not None):
            return True
        if isinstance(e, DBAPIError) and (e.connection_invalidated or isinstance(e, (OperationalError, InterfaceError))):
            return True
        code = getattr(e, "sqlstate", None) or getattr(e, "pgcode", None)
        if isinstance(code, str) and code.startswith(_OUTAGE_SQLSTATES):
            return True
        if type(e).__module__.startswith("asyncpg") and type(e).__name__ in ("ConnectionDoesNotExistError", "InterfaceError", "CannotConnectNowError", "ConnectionFailureError", "InternalClientError"):
            return True
        e = getattr(e, "orig", None) or e.__cause__ or e.__context__
    return False


def raised_by_database(exc: BaseException) -> bool:
    """Whether ``exc`` is an outage raised inside the database driver or SQLAlchemy (its
    traceback passes through them), as opposed to the same ``OSError`` from the broker:
    code that talks to both tells them apart with this."""
    if not is_database_outage(exc):
        return False
    if isinstance(exc, DBAPIError | asyncpg.PostgresError | asyncpg.InterfaceError):
        return True
    tb = exc.__traceback__
    while tb is not None:
        name = tb.tb_frame.f_code.co_filename
        if "/asyncpg/" in name or "/sqlalchemy/" in name:
            return True
        tb = tb.tb_next
    return False


class OutageLog:
    """Logs a database outage once: ``failed`` on every failing request, ``ok`` after
    every successful one (cheap: one attribute test)."""

    def __init__(self) -> None:
        self.since: float | None = None
        self.failures = 0
        self.outages = 0

    def failed(self, exc: BaseException, where: str) -> None:
        """A request failed because the database is out."""
        self.failures += 1
        if self.since is None:
            self.since = time.monotonic()
            self.outages += 1
            log.error("database.outage", where=where, error=f"{type(exc).__name__}: {str(exc)[:200]}", detail="answering 503 with Retry-After until it is back; logged once per outage")

    def ok(self) -> None:
        """A request used the database successfully."""
        if self.since is not None:
            log.warning("database.recovered", outage_s=round(time.monotonic() - self.since, 3), failed_requests=self.failures)
            self.since = None
            self.failures = 0


#: one per process (every service runs one database)
OUTAGES = OutageLog()
