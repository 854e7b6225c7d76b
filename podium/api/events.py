"""GET /events: every job's events, as Server-Sent Events (`Accept: text/event-stream`, see
`streams`), or else as pages of JSON for exporters that poll.

A page holds the events with ids from `start` (inclusive) on, up to the log position folded
when it was asked for, at most `limit` of them, and `next-events` says where the next page
starts: one past the last event returned when the page is full, else one past that position.
Every event folded later has a higher id, so pages chained this way give each event once.
"""

from __future__ import annotations

from aiohttp import web

from podium.api.chunked import items_answer
from podium.api.keys import JOBS, PROJECTOR, base_url
from podium.api.params import int_param
from podium.api.streams import (
    EventFilter,
    backlog_of,
    global_stream,
    job_event_of,
    passing,
    resume_from,
    wants_stream,
)
from podium.jsontypes import Json


async def all_events(request: web.Request) -> web.StreamResponse:
    """GET /events[?start=N&limit=M&job=&type=]"""
    if wants_stream(request):
        return await global_stream(request)
    state = request.app[PROJECTOR].state
    start = resume_from(request) or 1  # as a stream would: Last-Event-ID, else ?start=
    limit = int_param(request, "limit", minimum=1)
    wanted = EventFilter.of(request, state)
    through = state.position
    page = []
    async for pair in passing(backlog_of(request.app[JOBS], wanted, start, through), wanted):
        page.append(pair)
        if limit is not None and len(page) == limit:
            break
    if limit is not None and len(page) == limit:
        resume = page[-1][1].id + 1
    else:
        resume = max(start, through + 1)
    base = base_url(request)
    return await items_answer(
        request,
        page,
        lambda pair: job_event_of(base, *pair),
        head={"next-events": next_page(base, resume)},
    )


def next_page(base: str, start: int) -> Json:
    return {"id": f"{base}/events?start={start}", "event": str(start)}
