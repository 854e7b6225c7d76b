"""POST /command/schedule_task, GET /scheduled_jobs, DELETE /scheduled_jobs/<id>: the
orchestrator's first (deprecated, still used) API of scheduled jobs.

A schedule is checked as /command/task checks a task when it is made (and again, as its owner,
each time it fires), then recorded as `ScheduleCreated`; the leading scheduler fires it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import structlog
from aiohttp import web

from podium.api.bodies import ScheduleTaskCommand, parse_body
from podium.api.errors import NotPermitted, QueryError
from podium.api.keys import CLOCK, PROJECTOR, USER, base_url
from podium.api.params import choice_param, int_param, path_id
from podium.api.schedule_views import (
    ORDERS,
    SCHEDULED_SORT,
    TYPES,
    Sort,
    scheduled_job_item,
    scheduled_job_url,
    upcoming,
)
from podium.api.scheduling import create_schedule, may_change, may_see
from podium.api.submit import submit
from podium.api.views import pagination
from podium.events.model import ScheduleChanged
from podium.events.state import Schedule, State
from podium.jsontypes import Json

log = structlog.get_logger(__name__)


async def schedule_task(request: web.Request) -> web.Response:
    """POST /command/schedule_task: 202 with the scheduled job's link and name."""
    command = parse_body(ScheduleTaskCommand, await request.read())
    name = await create_schedule(
        request, command, command.scheduled_time, command.interval_s, api="task"
    )
    url = scheduled_job_url(base_url(request), name)
    return web.json_response({"scheduled_job": {"id": url, "name": name}}, status=202)


async def list_scheduled_jobs(request: web.Request) -> web.Response:
    """GET /scheduled_jobs: the user's scheduled jobs (everyone's with `orchestrator:view`)
    that have a run to come."""
    state = request.app[PROJECTOR].state
    base = base_url(request)
    return web.json_response(
        listed(
            request,
            SCHEDULED_SORT,
            "next_run",
            lambda schedule: upcoming(schedule) is not None,
            lambda schedule: scheduled_job_item(state, schedule, base),
        )
    )


def listed(
    request: web.Request,
    sorts: Mapping[str, Sort],
    default: str,
    wanted: Callable[[Schedule], bool],
    item: Callable[[Schedule], Json],
) -> dict[str, Json]:
    """A page of the schedules the user may see; bad paging is a `query-error`."""
    limit = int_param(request, "limit", error=QueryError)
    offset = int_param(request, "offset", error=QueryError) or 0
    order = choice_param(request, "order", ORDERS, "asc", error=QueryError)
    order_by = choice_param(request, "order_by", sorts, default, error=QueryError)
    kind = choice_param(request, "type", TYPES, "", error=QueryError)
    state: State = request.app[PROJECTOR].state
    user = request[USER]
    found = [
        schedule
        for schedule in state.schedules.values()
        if may_see(state, user, schedule)
        and (not kind or schedule.spec.kind == kind)
        and wanted(schedule)
    ]
    sort = sorts[order_by]
    found.sort(key=lambda schedule: sort(state, schedule), reverse=order == "desc")
    page = found[offset:] if limit is None else found[offset : offset + limit]
    return {
        "items": [item(schedule) for schedule in page],
        "pagination": pagination(limit, offset, order, order_by, len(found)),
    }


async def delete_scheduled_job(request: web.Request) -> web.Response:
    """DELETE /scheduled_jobs/<id>: 204, the schedule never runs again (an unknown id too).
    Only its owner or an administrator may delete it."""
    name = path_id(request)
    state = request.app[PROJECTOR].state
    schedule = state.schedules.get(name)
    if schedule is None:
        return web.Response(status=204)
    user = request[USER]
    if not may_change(state, user, schedule):
        raise NotPermitted(f"not authorized to delete job {name}", scheduled_job=name)
    if schedule.enabled:
        event = ScheduleChanged(
            at=request.app[CLOCK](),
            schedule=name,
            spec=schedule.spec,
            start=schedule.start,
            interval_s=schedule.interval_s,
            enabled=False,
            by=user,
        )
        await submit(request, event)
        log.info("scheduled job deleted", schedule=name, user=user)
    return web.Response(status=204)
