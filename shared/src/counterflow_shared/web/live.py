"""Server-sent events of a page's state: the state at once and whenever it changes.

The state is re-read every ``interval_s`` seconds by each open page (a handful per
branch: consoles, workstations), so the database sees one read per page per interval,
not one per change in the branch; an unchanged state sends nothing (the comparison
ignores fields that change on every read, such as the instant of the read)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from pydantic import BaseModel
from sse_starlette.sse import EventSourceResponse
from starlette.requests import Request


def state_stream(request: Request, *, event: str, read: Callable[[], Awaitable[Any]], model: type[BaseModel], interval_s: float, exclude: Any = None) -> EventSourceResponse:
    """An ``EventSourceResponse`` of ``event`` events whose data is ``model`` validated
    from ``await read()``; event ids count the changes sent (1, 2, ...). ``exclude``:
    the pydantic ``exclude`` spec of fields left out of the change comparison."""

    async def events() -> AsyncIterator[dict[str, Any]]:
        last, seq = None, 0
        while not await request.is_disconnected():
            data = model.model_validate(await read())
            digest = data.model_dump_json(exclude=exclude)
            if digest != last:
                last, seq = digest, seq + 1
                yield {"event": event, "id": str(seq), "data": data.model_dump_json()}
            await asyncio.sleep(interval_s)

    return EventSourceResponse(events(), ping=15)
