"""Server-Sent Events: `/jobs/<id>/events` with `Accept: text/event-stream`, and `/events`.

Each SSE event is one job event in the API's shape, with `id:` its log position and `event:` its
type, so a client resumes with `Last-Event-ID` (or `?start=N`) and misses nothing. A job's
stream ends after its `job_finished`; `/events` (every job, or `?job=` and `?type=`) goes on
until the client leaves. A client too slow to keep up is cut off and resumes where it was.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Final

from aiohttp import web

from podium.api.errors import ValidationError
from podium.api.keys import PROJECTOR, USER
from podium.api.params import decimal_id, int_param, shortened
from podium.events.ports import Record
from podium.events.render import job_event, new_job_events
from podium.events.state import Job, JobEvent, State
from podium.rbac.decide import holds
from podium.rbac.permissions import ORCHESTRATOR_VIEW

KEEPALIVE_S: Final = 15.0
MAX_BACKLOG: Final = 10_000  # events queued for one client before it is cut off


def wants_stream(request: web.Request) -> bool:
    return "text/event-stream" in request.headers.get("Accept", "")


def resume_from(request: web.Request) -> int | None:
    """The first event id wanted: one past `Last-Event-ID`, else `?start=`."""
    last = request.headers.get("Last-Event-ID")
    if last is not None:
        number = decimal_id(last)
        if number is None:
            raise ValidationError(f"Last-Event-ID must be an event id, not {shortened(last)!r}")
        return number + 1
    return int_param(request, "start", minimum=1)


async def job_stream(request: web.Request, job: Job) -> web.StreamResponse:
    """GET /jobs/<id>/events as a stream, ending after the job's `job_finished`."""
    start = resume_from(request) or 1
    backlog = [(job, e) for e in job.events if e.id >= start]
    if job.finished_at is not None and not backlog:
        return await _stream(request, [], lambda _job, _event: False, lambda _: True, done=True)
    return await _stream(
        request,
        backlog,
        wanted=lambda candidate, _event: candidate.name == job.name,
        ends=lambda event: event.type == "job_finished",
    )


async def all_events(request: web.Request) -> web.StreamResponse:
    """GET /events: every job's events from now (or from `Last-Event-ID` / `?start=`): those of
    the user's own jobs only, without `orchestrator:view:*`."""
    if not wants_stream(request):
        raise ValidationError("/events is a stream: send Accept: text/event-stream")
    state = request.app[PROJECTOR].state
    start = resume_from(request)
    only_job, only_type = request.query.get("job"), request.query.get("type")
    user = request[USER]
    every_job = holds(state, user, ORCHESTRATOR_VIEW)  # else only the user's own jobs

    def wanted(job: Job, event: JobEvent) -> bool:
        return (
            (only_job is None or job.name == only_job)
            and (only_type is None or event.type == only_type)
            and (every_job or job.owner == user)
        )

    backlog = []
    if start is not None:
        backlog = sorted(
            ((job, e) for job in state.jobs.values() for e in job.events if e.id >= start),
            key=lambda pair: pair[1].id,
        )
    return await _stream(request, [p for p in backlog if wanted(*p)], wanted, lambda _: False)


async def _stream(
    request: web.Request,
    backlog: list[tuple[Job, JobEvent]],
    wanted: Callable[[Job, JobEvent], bool],
    ends: Callable[[JobEvent], bool],
    *,
    done: bool = False,
) -> web.StreamResponse:
    """Send the backlog, then what comes, until `ends` says so (at once if `done`)."""
    projector = request.app[PROJECTOR]
    inbox: asyncio.Queue[tuple[Job, JobEvent] | None] = asyncio.Queue(MAX_BACKLOG)
    sent = projector.state.position  # the backlog covers everything folded so far

    def listen(record: Record, state: State) -> None:
        nonlocal sent
        for job, event in new_job_events(record, state, sent):
            if wanted(job, event):
                try:
                    inbox.put_nowait((job, event))
                except asyncio.QueueFull:
                    inbox.get_nowait()
                    inbox.put_nowait(None)  # too slow: cut off; it resumes with Last-Event-ID
        sent = state.position

    projector.add_listener(listen)  # before the first await: nothing can slip between
    try:
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no",
            }
        )
        await response.prepare(request)
        if done:
            return response
        for job, event in backlog:
            await _send(response, job, event)
            if ends(event):
                return response
        await _follow(response, inbox, ends)
        return response
    finally:
        projector.remove_listener(listen)


async def _follow(
    response: web.StreamResponse,
    inbox: asyncio.Queue[tuple[Job, JobEvent] | None],
    ends: Callable[[JobEvent], bool],
) -> None:
    while True:
        try:
            item = await asyncio.wait_for(inbox.get(), KEEPALIVE_S)
        except TimeoutError:
            await response.write(b": keep-alive\n\n")
            continue
        if item is None:
            return
        job, event = item
        await _send(response, job, event)
        if ends(event):
            return


async def _send(response: web.StreamResponse, job: Job, event: JobEvent) -> None:
    data = json.dumps(job_event(job, event))
    await response.write(f"id: {event.id}\nevent: {event.type}\ndata: {data}\n\n".encode())
