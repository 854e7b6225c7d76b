"""Server-Sent Events: `/jobs/<id>/events` with `Accept: text/event-stream`, and `/events`
(a stream for any client whose Accept header allows one).

Each SSE event is one job event in the API's shape, with `id:` its log position and `event:` its
type, so a client resumes with `Last-Event-ID` (or `?start=N`) and misses nothing. A job's
stream ends after its `job_finished`; `/events` (every job, or `?job=` and `?type=`) goes on
until the client leaves. A client too slow to keep up is cut off and resumes where it was.
"""

from __future__ import annotations

import asyncio
import heapq
import json
from bisect import bisect_left
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from itertools import repeat
from typing import Final

import structlog
from aiohttp import web

from podium.api.errors import ValidationError
from podium.api.keys import JOBS, PROJECTOR, SETTINGS, USER, base_url
from podium.api.params import decimal_id, int_param, shortened
from podium.api.views import job_url
from podium.events.ports import Record
from podium.events.render import job_event, new_job_events
from podium.events.state import Job, JobEvent, State
from podium.history.reads import REPLAY_SPAN, JobReader
from podium.jsontypes import Json
from podium.rbac.decide import holds
from podium.rbac.permissions import ORCHESTRATOR_VIEW

log = structlog.get_logger(__name__)
KEEPALIVE_S: Final = 15.0
LEFT_CHECK_S: Final = 1.0  # how often an idle stream looks whether its client is still there
# Events queued for one client before it is cut off. The projector folds a burst of records
# before a client's writer runs again, so a client that reads as fast as it can may still hold
# a burst: 10,000 cut off the CLI following a 20,000-node job twice. 100,000 references to
# events the state holds anyway are about 6 MB a client.
MAX_BACKLOG = 100_000
EVENT_STREAM: Final = "text/event-stream"
BACKLOG_WRITE_BYTES: Final = 64 * 1024


def wants_stream(request: web.Request) -> bool:
    """Whether a client of an endpoint that answers JSON asks for the stream instead."""
    return EVENT_STREAM in request.headers.get("Accept", "")


def resume_from(request: web.Request) -> int | None:
    """The first event id wanted: one past `Last-Event-ID`, else `?start=` (both checked)."""
    start = int_param(request, "start", minimum=1)
    last = request.headers.get("Last-Event-ID")
    if last is not None:
        number = decimal_id(last)
        if number is None:
            raise ValidationError(f"Last-Event-ID must be an event id, not {shortened(last)!r}")
        return number + 1
    return start


async def job_stream(request: web.Request, job: Job) -> web.StreamResponse:
    """GET /jobs/<id>/events as a stream, ending after the job's `job_finished`."""
    start = resume_from(request) or 1
    through = request.app[PROJECTOR].state.position
    if job.finished_at is not None and (not job.events or job.events[-1].id < start):
        return await _stream(
            request, _each(()), lambda _job, _event: False, lambda _: True, done=True
        )
    return await _stream(
        request,
        _each((job, event) for event in _events_between(job, start, through)),
        wanted=lambda candidate, _event: candidate.name == job.name,
        ends=lambda event: event.type == "job_finished",
    )


@dataclass(frozen=True, slots=True)
class EventFilter:
    """Which job events a request of the global /events gets: `?job=`, `?type=`, and only the
    user's own jobs without `orchestrator:view:*`."""

    job: str | None
    type: str | None
    user: str
    every_job: bool

    @classmethod
    def of(cls, request: web.Request, state: State) -> EventFilter:
        user = request[USER]
        every_job = holds(state, user, ORCHESTRATOR_VIEW)
        return cls(request.query.get("job"), request.query.get("type"), user, every_job)

    def __call__(self, job: Job, event: JobEvent) -> bool:
        return (
            (self.job is None or job.name == self.job)
            and (self.type is None or event.type == self.type)
            and (self.every_job or job.owner == self.user)
        )


def job_event_of(base: str, job: Job, event: JobEvent) -> dict[str, Json]:
    """A job event as the global /events serves it: naming its job."""
    return {**job_event(job, event), "job": {"id": job_url(base, job.name), "name": job.name}}


async def global_stream(request: web.Request) -> web.StreamResponse:
    """GET /events as a stream: every job's events from now (or from `Last-Event-ID` /
    `?start=`), as the EventFilter lets them through."""
    state = request.app[PROJECTOR].state
    start = resume_from(request)
    wanted = EventFilter.of(request, state)
    backlog: AsyncIterator[tuple[Job, JobEvent]] = _each(())
    if start is not None:
        backlog = backlog_of(request.app[JOBS], wanted, start, state.position)
    return await _stream(request, passing(backlog, wanted), wanted, lambda _: False, with_job=True)


def backlog_of(
    reader: JobReader, wanted: EventFilter, start: int, through: int
) -> AsyncIterator[tuple[Job, JobEvent]]:
    """The events of the jobs `wanted` may pass with ids from `start` through `through`, in id
    order. The jobs in memory are taken now, with `through`, before any wait (references: their
    events stay where they are); archived ones are read as the backlog is."""
    if wanted.job is None:
        return _replay_all(reader, list(reader.memory_jobs()), start, through)
    return _replay_one(reader, wanted.job, start, through)


async def passing(
    pairs: AsyncIterator[tuple[Job, JobEvent]], wanted: Callable[[Job, JobEvent], bool]
) -> AsyncIterator[tuple[Job, JobEvent]]:
    async for pair in pairs:
        if wanted(*pair):
            yield pair


async def _each(pairs: Iterable[tuple[Job, JobEvent]]) -> AsyncIterator[tuple[Job, JobEvent]]:
    for pair in pairs:
        yield pair


async def _replay_one(
    reader: JobReader, name: str, start: int, through: int
) -> AsyncIterator[tuple[Job, JobEvent]]:
    job = await reader.job(name, events_from=start)
    for pair in _merged([job] if job is not None else [], start, through):
        yield pair


async def _replay_all(
    reader: JobReader, jobs: list[Job], start: int, through: int
) -> AsyncIterator[tuple[Job, JobEvent]]:
    """Every job's events with ids from `start` through `through`, in id order: those of the
    jobs in memory (`jobs`) merged with the archived ones, read a span of ids at a time."""
    held = {job.name for job in jobs}
    low = start
    while low <= through:
        high = min(low + REPLAY_SPAN, through + 1)
        archived = [
            pair for pair in await reader.archived_events(low, high) if pair[0].name not in held
        ]
        for pair in heapq.merge(archived, _merged(jobs, low, high - 1), key=lambda p: p[1].id):
            yield pair
        low = high


def _merged(jobs: list[Job], start: int, through: int) -> Iterator[tuple[Job, JobEvent]]:
    """The events of `jobs` with ids from `start` through `through`, in id order, merged lazily
    from each job's own (ordered) events: nothing is copied or sorted per subscriber."""
    streams = [zip(repeat(job), _events_between(job, start, through)) for job in jobs]
    return heapq.merge(*streams, key=lambda pair: pair[1].id)


def _events_between(job: Job, start: int, through: int) -> Iterator[JobEvent]:
    """The job's events with ids from `start` through `through`, read in place: events folded
    later (appended while a slow client reads) are the live part's, not the backlog's."""
    index = bisect_left(job.events, start, key=lambda event: event.id)
    events = job.events
    while index < len(events) and events[index].id <= through:
        yield events[index]
        index += 1


async def _stream(
    request: web.Request,
    backlog: AsyncIterator[tuple[Job, JobEvent]],
    wanted: Callable[[Job, JobEvent], bool],
    ends: Callable[[JobEvent], bool],
    *,
    done: bool = False,
    with_job: bool = False,
) -> web.StreamResponse:
    """Send the backlog, then what comes, until `ends` says so (at once if `done`); each event
    names its job when `with_job`. A client
    that falls MAX_BACKLOG events behind, or takes longer than the request timeout to take one
    write, is cut off; it resumes with Last-Event-ID. A client that leaves is no error."""
    projector = request.app[PROJECTOR]
    inbox: asyncio.Queue[tuple[Job, JobEvent]] = asyncio.Queue(MAX_BACKLOG)
    sent = projector.state.position  # the backlog covers everything folded so far
    response = web.StreamResponse(
        headers={
            "Content-Type": EVENT_STREAM,
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        }
    )

    def listen(record: Record, state: State) -> None:
        nonlocal sent
        for job, event in new_job_events(record, state, sent):
            if wanted(job, event):
                try:
                    inbox.put_nowait((job, event))
                except asyncio.QueueFull:
                    _cut_off(request, "fell too far behind")
                    break
        sent = state.position

    projector.add_listener(listen)  # before the first await: nothing can slip between
    render = partial(job_event_of, base_url(request)) if with_job else job_event
    writer = _Writer(response, request.app[SETTINGS].request_timeout_s, render)
    try:
        await response.prepare(request)
        if done:
            return response
        if await writer.send_backlog(backlog, ends):
            return response
        await _follow(writer, inbox, ends, request)
    except (ConnectionResetError, _TooSlow) as exc:  # the client left, or was cut off
        log.debug("event stream ended", path=request.path, reason=str(exc) or type(exc).__name__)
        _cut_off(request, "too slow")
    finally:
        projector.remove_listener(listen)
    return response


class _TooSlow(Exception):
    """Raised when a client does not take a write within the request timeout."""


class _Writer:
    def __init__(
        self,
        response: web.StreamResponse,
        timeout_s: float,
        render: Callable[[Job, JobEvent], dict[str, Json]],
    ) -> None:
        self._response = response
        self._timeout_s = timeout_s
        self._render = render

    async def write(self, data: bytes) -> None:
        try:
            async with asyncio.timeout(self._timeout_s):
                await self._response.write(data)
        except TimeoutError as exc:
            raise _TooSlow(f"no write taken in {self._timeout_s:g} s") from exc

    def message(self, job: Job, event: JobEvent) -> bytes:
        data = json.dumps(self._render(job, event))
        return f"id: {event.id}\nevent: {event.type}\ndata: {data}\n\n".encode()

    async def send(self, job: Job, event: JobEvent) -> None:
        await self.write(self.message(job, event))

    async def send_backlog(
        self, backlog: AsyncIterator[tuple[Job, JobEvent]], ends: Callable[[JobEvent], bool]
    ) -> bool:
        """Send what is there already in writes of BACKLOG_WRITE_BYTES (one write per event
        is a system call and a chunk header each: 200,000 of them for a large job's stream).
        Whether an event that `ends` the stream was among them."""
        chunk: list[bytes] = []
        size = 0
        async for job, event in backlog:
            message = self.message(job, event)
            chunk.append(message)
            size += len(message)
            if ends(event):
                await self.write(b"".join(chunk))
                return True
            if size >= BACKLOG_WRITE_BYTES:
                await self.write(b"".join(chunk))
                chunk.clear()
                size = 0
        if chunk:
            await self.write(b"".join(chunk))
        return False


def _cut_off(request: web.Request, why: str) -> None:
    """Close the connection now: whatever it still holds queued is let go with it."""
    transport = request.transport
    if transport is not None and not transport.is_closing():
        log.debug("event stream client cut off", path=request.path, reason=why)
        transport.abort()  # close() would wait to flush what the client does not read


async def _follow(
    writer: _Writer,
    inbox: asyncio.Queue[tuple[Job, JobEvent]],
    ends: Callable[[JobEvent], bool],
    request: web.Request,
) -> None:
    quiet_s = 0.0
    while request.transport is not None and not request.transport.is_closing():
        try:  # wake up every second: a client that has left is let go of then
            job, event = await asyncio.wait_for(inbox.get(), LEFT_CHECK_S)
        except TimeoutError:
            quiet_s += LEFT_CHECK_S
            if quiet_s >= KEEPALIVE_S:
                await writer.write(b": keep-alive\n\n")
                quiet_s = 0.0
            continue
        quiet_s = 0.0
        await writer.send(job, event)
        if ends(event):
            return
    raise ConnectionResetError("the client left")
