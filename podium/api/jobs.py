"""GET /jobs and a job's nodes, report and events, served from the folded state."""

from __future__ import annotations

import asyncio
from bisect import bisect_left
from collections.abc import Callable
from typing import Any, Final

from aiohttp import web

from podium.api.chunked import STREAM_FROM, LoopShare, items_answer, json_answer
from podium.api.errors import NotPermitted, UnknownJob, ValidationError
from podium.api.keys import CLOCK, JOBS, PROJECTOR, USER, base_url
from podium.api.params import choice_param, int_param, path_id, time_param
from podium.api.streams import job_stream, resume_from, wants_stream
from podium.api.timetravel import job_as_of
from podium.api.views import (
    job_item,
    job_type,
    next_events,
    node_item,
    pagination,
)
from podium.events.jobspec import TaskJob
from podium.events.model import NodeState
from podium.events.render import iso, job_event
from podium.events.state import Job, JobEvent, NodeRun, State
from podium.history.reads import JobReader
from podium.history.store import JobFilter, JobKey
from podium.jsontypes import Json
from podium.rbac.decide import holds, may_see_job
from podium.rbac.permissions import ORCHESTRATOR_VIEW

JOB_TYPES: Final = ("deploy", "task", "plan_task")
ORDERS: Final = ("asc", "desc")
_JOB_SORT: Final[dict[str, Callable[[State, JobKey], Any]]] = {
    "timestamp": lambda state, key: (key.updated_at, key.name),
    "name": lambda state, key: key.name,
    "state": lambda state, key: (key.state, key.name),
    "environment": lambda state, key: (key.environment, key.name),
    "owner": lambda state, key: (_login(state, key.owner), key.name),
}
_NODE_SORT: Final[dict[str, Callable[[NodeRun], Any]]] = {
    "name": lambda run: run.name,
    "state": lambda run: (run.state.value, run.name),
    "duration": lambda run: (_span(run), run.name),
    "start_timestamp": lambda run: (run.started_at or 0.0, run.name),
    "finish_timestamp": lambda run: (run.finished_at or 0.0, run.name),
}


JOB_ORDER_BY: Final = tuple(_JOB_SORT)
NODE_ORDER_BY: Final = tuple(_NODE_SORT)


def _login(state: State, owner: str) -> str:
    user = state.users.get(owner)
    return user.login if user else owner


def _span(run: NodeRun) -> float:
    if run.started_at is None or run.finished_at is None:
        return -1.0
    return run.finished_at - run.started_at


async def list_jobs(request: web.Request) -> web.Response:
    """GET /jobs"""
    state = request.app[PROJECTOR].state
    limit = int_param(request, "limit")
    offset = int_param(request, "offset") or 0
    order = choice_param(request, "order", ORDERS, "asc")
    order_by = choice_param(request, "order_by", _JOB_SORT, "timestamp")
    kind = choice_param(request, "type", JOB_TYPES, "")
    task = request.query.get("task")
    if task is not None and kind == "deploy":
        raise ValidationError("task cannot be combined with type=deploy")
    earliest = time_param(request, "min_finish_timestamp")
    latest = time_param(request, "max_finish_timestamp")

    def wanted(job: Job) -> bool:
        if kind and job_type(job) != kind:
            return False
        if task is not None and not (isinstance(job.spec, TaskJob) and task in job.spec.task):
            return False
        if earliest is not None or latest is not None:
            finished = job.finished_at
            if finished is None:
                return False
            if (earliest is not None and finished < earliest) or (
                latest is not None and finished > latest
            ):
                return False
        return True

    user = request[USER]
    every_job = holds(state, user, ORCHESTRATOR_VIEW)  # else only the user's own jobs
    reader = request.app[JOBS]
    which = JobFilter(kind, task, earliest, latest, None if every_job else user)
    jobs, total, skipped = await reader.listed(
        wanted, which, order_by, order == "desc", offset, limit
    )
    sort = _JOB_SORT[order_by]
    jobs.sort(key=lambda listed: sort(state, listed.key), reverse=order == "desc")
    start = offset - skipped
    page = jobs[start:] if limit is None else jobs[start : start + limit]
    heads = await reader.heads([listed.key.name for listed in page if listed.job is None])
    shown = [listed.job or heads.get(listed.key.name) for listed in page]
    base, now = base_url(request), request.app[CLOCK]()
    return json_answer(
        {
            "items": [job_item(state, job, base, now) for job in shown if job is not None],
            "pagination": pagination(limit, offset, order, order_by, total, type=kind),
        }
    )


async def _job(request: web.Request, *, nodes: bool = False, events_from: int | None = None) -> Job:
    state, reader = request.app[PROJECTOR].state, request.app[JOBS]
    name = path_id(request)
    return await visible_job(reader, state, request[USER], name, nodes, events_from)


async def visible_job(
    reader: JobReader,
    state: State,
    user: str,
    name: str,
    nodes: bool = False,
    events_from: int | None = None,
) -> Job:
    """The job, with its node runs and its events from `events_from` when it is archived (a
    live one has them all). Raises UnknownJob, or NotPermitted for another user's job without
    orchestrator:view."""
    job = await reader.job(name, nodes=nodes, events_from=events_from)
    if job is None:
        raise UnknownJob(f"No job named {name}", job=name)
    if not may_see_job(state, user, job.owner):
        raise NotPermitted(
            f"You are not permitted to see job {name}: it is another user's, and seeing "
            f"others' jobs needs the permission {ORCHESTRATOR_VIEW}",
            job=name,
        )
    return job


async def _job_then(request: web.Request, *, nodes: bool = False) -> tuple[State, Job, float]:
    """The state, the job and the time to answer with: now, or just after `?as_of=`."""
    job = await _job(request, nodes=nodes)  # who may see a job never changes: checked live
    as_of = int_param(request, "as_of", minimum=1)
    if as_of is not None:
        return await job_as_of(request, job.name, as_of)
    return request.app[PROJECTOR].state, job, request.app[CLOCK]()


async def get_job(request: web.Request) -> web.Response:
    """GET /jobs/<id>[?as_of=<event id>]"""
    state, job, now = await _job_then(request)
    return json_answer(job_item(state, job, base_url(request), now))


async def job_nodes(request: web.Request) -> web.StreamResponse:
    """GET /jobs/<id>/nodes[?as_of=<event id>]"""
    _, job, now = await _job_then(request, nodes=True)
    limit = int_param(request, "limit")
    offset = int_param(request, "offset") or 0
    order = choice_param(request, "order", ORDERS, "asc")
    order_by = choice_param(request, "order_by", _NODE_SORT, "name")
    wanted = choice_param(request, "state", tuple(s.value for s in NodeState), "")
    runs = [run for run in job.nodes.values() if not wanted or run.state.value == wanted]
    if len(runs) >= STREAM_FROM:  # a sort of 100,000 runs is long enough to hold the loop
        runs = await asyncio.to_thread(
            sorted, runs, key=_NODE_SORT[order_by], reverse=order == "desc"
        )
    else:
        runs.sort(key=_NODE_SORT[order_by], reverse=order == "desc")
    page = runs[offset:] if limit is None else runs[offset : offset + limit]
    base = base_url(request)
    return await items_answer(
        request,
        page,
        lambda run: node_item(job, run, now),
        head={"next-events": next_events(job, base, (), None)},
        tail={"pagination": pagination(limit, offset, order, order_by, len(runs))},
    )


async def job_report(request: web.Request) -> web.StreamResponse:
    """GET /jobs/<id>/report: per node, its state and its job events."""
    job = await _job(request, nodes=True, events_from=1)
    by_node = await _events_by_node(job)

    def report(run: NodeRun) -> Json:
        return {
            "node": run.name,
            "state": run.state.value,
            "timestamp": _iso_activity(job, run),
            "events": [job_event(job, event) for event in by_node.get(run.name, ())],
        }

    return await items_answer(request, list(job.nodes.values()), report)


async def _events_by_node(job: Job) -> dict[str, list[JobEvent]]:
    """The job's node events so far, by node, gathered a slice at a time."""
    by_node: dict[str, list[JobEvent]] = {}
    events = job.events[:]  # references; events folded meanwhile are not this answer's
    share = LoopShare()
    for index, event in enumerate(events):
        if event.node is not None:
            by_node.setdefault(event.node, []).append(event)
        if index % 1024 == 1023 and share.due():
            await share.give()
    return by_node


def _iso_activity(job: Job, run: NodeRun) -> str | None:
    return iso(run.updated_at or job.created_at)


async def job_events(request: web.Request) -> web.StreamResponse:
    """GET /jobs/<id>/events?start=N (inclusive); a stream with Accept: text/event-stream."""
    job = await _job(request, events_from=_first_wanted(request))
    if wants_stream(request):
        return await job_stream(request, job)
    start = resume_from(request)  # a client resuming as a stream would, with Last-Event-ID
    events = events_from(job, start)
    head = {"next-events": next_events(job, base_url(request), events, start)}
    return await items_answer(request, events, lambda event: job_event(job, event), head=head)


def _first_wanted(request: web.Request) -> int:
    """The first event id an answer needs, for loading an archived job; 1 for a `start` or
    `Last-Event-ID` that does not parse, whose error is raised once the job is found (an
    unknown job says so first, as it always has)."""
    try:
        return resume_from(request) or 1
    except ValidationError:
        return 1


def events_from(job: Job, start: int | None) -> list[JobEvent]:
    if start is None:
        return list(job.events)
    index = bisect_left(job.events, start, key=lambda event: event.id)
    return job.events[index:]
