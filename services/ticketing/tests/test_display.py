"""Calling display: server-sent events of calls over a real HTTP server, resumable with
Last-Event-ID, fed through Redis so every instance's calls reach every display."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import uvicorn

from counterflow_testkit import free_port

from .conftest import Service, make_branch, take_ticket


@asynccontextmanager
async def http_server(app) -> AsyncIterator[str]:
    """Serve the already-started ``app`` over real HTTP (its lifespan is not run again)."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


async def _calls(client: httpx.AsyncClient, url: str, n: int, headers: dict[str, str] | None = None) -> list[tuple[str, dict]]:
    got: list[tuple[str, dict]] = []
    async with client.stream("GET", url, headers=headers or {}) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        event_id = None
        async for line in r.aiter_lines():
            if line.startswith("id:"):
                event_id = line[3:].strip()
            elif line.startswith("data:"):
                got.append((event_id, json.loads(line[5:].strip())))
                if len(got) == n:
                    return got
    return got


async def test_display_streams_calls_and_resumes_with_last_event_id(service: Service) -> None:
    branch = await make_branch(service, counters=[["cash"], ["cash"]])
    tickets = [await take_ticket(service, branch) for _ in range(3)]
    tellers = {c: service.staff("teller", [branch.branch_id], subject=f"teller-{c}") for c in branch.counters}
    async with http_server(service.app) as base, httpx.AsyncClient(timeout=20) as client:
        url = f"{base}/v1/branches/{branch.branch_id}/display/stream"
        listener = asyncio.create_task(_calls(client, url, 2))
        await asyncio.sleep(0.5)
        for counter in branch.counters:
            r = await service.client.post(f"/v1/counters/{counter}/call-next", headers=tellers[counter])
            assert r.status_code == 200
        first_two = await asyncio.wait_for(listener, 15)
        assert sorted((d["number"], d["counter_id"]) for _, d in first_two) == sorted(zip([t["number"] for t in tickets[:2]], branch.counters))
        last_seen = first_two[-1][0]
        # the display is off while the first counter recalls; on reconnect it gets the missed call
        r = await service.client.post(f"/v1/counters/{branch.counters[0]}/tickets/{tickets[0]['ticket_id']}/recall", headers=tellers[branch.counters[0]])
        assert r.status_code == 200
        await asyncio.sleep(0.3)
        (missed,) = await asyncio.wait_for(_calls(client, url, 1, {"Last-Event-ID": last_seen}), 15)
        assert missed[1]["number"] == tickets[0]["number"] and missed[1]["recall"] is True and missed[1]["call_count"] == 2


async def test_a_malformed_last_event_id_is_a_400_problem(service: Service) -> None:
    branch = await make_branch(service, counters=[["cash"]])
    for bad in ("garbage", "12-", "-1", "1-2-3", "1733040000000-0; DROP"):
        r = await service.client.get(f"/v1/branches/{branch.branch_id}/display/stream", headers={"Last-Event-ID": bad})
        assert r.status_code == 400 and r.headers["content-type"].startswith("application/problem+json"), (bad, r.text)
        assert r.json()["type"].endswith("/bad-last-event-id") and r.json()["errors"][0]["field"] == "header.Last-Event-ID"
