"""GET/POST /scheduled_jobs/environment_jobs, GET/PUT .../environment_jobs/<id>: PE 2021.7's
API of scheduled jobs (reference §5.2).

`type` is `task`, `deploy` or `plan`; `input` is that command's keys (a plan's parameters
each wrapped as `environment_plan_run` takes them). A PUT replaces each top-level key
it gives and checks the result again as the scheduled job's owner (whose runs they are);
`{"enabled": false}` is the delete, and a disabled job can no longer be changed.
"""

from __future__ import annotations

import msgspec
import structlog
from aiohttp import web

from podium.api.bodies import (
    DeployCommand,
    DeployInput,
    EnvironmentJobCommand,
    EnvironmentJobUpdate,
    ScheduleBody,
    TaskCommand,
    TaskInput,
    iso_seconds,
    parse_body,
    parse_part,
)
from podium.api.errors import (
    DisabledScheduledJob,
    NotPermitted,
    UnknownJob,
)
from podium.api.keys import CLOCK, PROJECTOR, USER, base_url
from podium.api.params import path_id
from podium.api.plan_bodies import PlanInput
from podium.api.schedule_views import (
    ENVIRONMENT_SORT,
    environment_job_item,
    environment_job_url,
)
from podium.api.scheduled_jobs import listed
from podium.api.scheduling import (
    Scheduled,
    check_start,
    checked_spec,
    command_of,
    create_schedule,
    may_change,
    may_see,
)
from podium.api.submit import submit
from podium.events.jobspec import PlanRun
from podium.events.model import ScheduleChanged
from podium.events.state import Schedule
from podium.jsontypes import Json

log = structlog.get_logger(__name__)


async def list_environment_jobs(request: web.Request) -> web.Response:
    """GET /scheduled_jobs/environment_jobs: every scheduled job the user may see, disabled
    ones included."""
    state = request.app[PROJECTOR].state
    base = base_url(request)
    return web.json_response(
        listed(
            request,
            ENVIRONMENT_SORT,
            "next_run_time",
            lambda schedule: True,
            lambda schedule: environment_job_item(state, schedule, base),
        )
    )


async def get_environment_job(request: web.Request) -> web.Response:
    """GET /scheduled_jobs/environment_jobs/<id>"""
    schedule = _schedule(request)
    state = request.app[PROJECTOR].state
    return web.json_response(environment_job_item(state, schedule, base_url(request)))


async def create_environment_job(request: web.Request) -> web.Response:
    """POST /scheduled_jobs/environment_jobs: 200 with the scheduled job's link and name."""
    body = parse_body(EnvironmentJobCommand, await request.read())
    command = _command(body.type, body.environment, body.input, body.description, body.userdata)
    start, interval_s = body.schedule.start_time, _interval_s(body.schedule)
    name = await create_schedule(request, command, start, interval_s, api="environment")
    return _answer(request, name)


async def update_environment_job(request: web.Request) -> web.Response:
    """PUT /scheduled_jobs/environment_jobs/<id>: 200 as the POST answers."""
    schedule = _schedule(request)
    body = parse_body(EnvironmentJobUpdate, await request.read())
    state, user = request.app[PROJECTOR].state, request[USER]
    if not may_change(state, user, schedule):
        raise NotPermitted(f"not authorized to change job {schedule.name}")
    if not schedule.enabled:
        raise DisabledScheduledJob(
            f"Scheduled job {schedule.name} is disabled and cannot be changed",
            scheduled_job=schedule.name,
        )
    now = request.app[CLOCK]()
    start, interval_s = schedule.start, schedule.interval_s
    if body.schedule is not None:
        start, interval_s = iso_seconds(body.schedule.start_time), _interval_s(body.schedule)
        check_start(start, now, "schedule.start_time")
    spec = schedule.spec
    given = body.model_fields_set
    if given & {"input", "environment", "description", "userdata"}:
        command = _changed_command(schedule, body)
        spec = await checked_spec(request.app, schedule.owner, command)
    enabled = schedule.enabled if body.enabled is None else body.enabled
    event = ScheduleChanged(
        at=now,
        schedule=schedule.name,
        spec=spec,
        start=start,
        interval_s=interval_s,
        enabled=enabled,
        by=user,
    )
    await submit(request, event)
    log.info("environment job changed", schedule=schedule.name, enabled=enabled, user=user)
    return _answer(request, schedule.name)


def _schedule(request: web.Request) -> Schedule:
    name = path_id(request)
    state = request.app[PROJECTOR].state
    schedule = state.schedules.get(name)
    if schedule is None:
        raise UnknownJob(f"No scheduled job named {name}", scheduled_job=name)
    if not may_see(state, request[USER], schedule):
        raise NotPermitted(f"You are not permitted to see scheduled job {name}")
    return schedule


def _answer(request: web.Request, name: str) -> web.Response:
    url = environment_job_url(base_url(request), name)
    return web.json_response({"scheduled_job": {"id": url, "name": name}})


def _interval_s(schedule: ScheduleBody) -> int | None:
    return None if schedule.interval is None else schedule.interval.value


def _command(
    kind: str,
    environment: str,
    given: dict[str, Json],
    description: str | None,
    userdata: dict[str, Json] | None,
) -> Scheduled:
    """The command of an environment job's `input`, by its type."""
    if kind == "task":
        task = parse_part(TaskInput, given, "input")
        return TaskCommand(
            environment=environment,
            scope=task.scope,
            task=task.name,
            params=task.parameters,
            description=description,
            noop=task.noop,
            concurrency=task.concurrency,
            userdata=userdata,
        )
    if kind == "deploy":
        deploy = parse_part(DeployInput, given, "input")
        return DeployCommand(
            environment=environment,
            scope=deploy.scope,
            description=description,
            noop=deploy.noop,
            no_noop=deploy.no_noop,
            concurrency=deploy.concurrency,
            enforce_environment=deploy.enforce_environment,
            debug=deploy.debug,
            trace=deploy.trace,
            evaltrace=deploy.evaltrace,
            userdata=userdata,
        )
    plan = parse_part(PlanInput, given, "input")
    return PlanRun(
        environment=environment,
        plan=plan.name,
        params={k: v.model_dump(exclude_none=True) for k, v in plan.parameters.items()},
        wrapped=True,
        description=description,
        userdata=userdata or {},
    )


def _changed_command(schedule: Schedule, body: EnvironmentJobUpdate) -> Scheduled:
    """The stored command with each key the PUT gave replaced whole."""
    given = body.model_fields_set
    spec = schedule.spec
    if "description" in given or "userdata" in given:
        spec = msgspec.structs.replace(
            spec,
            description=body.description if "description" in given else spec.description,
            userdata=(body.userdata or {}) if "userdata" in given else spec.userdata,
        )
    if "environment" in given and body.environment is not None:
        spec = msgspec.structs.replace(spec, environment=body.environment)
    if "input" in given and body.input is not None:
        return _command(spec.kind, spec.environment, body.input, spec.description, spec.userdata)
    return spec if isinstance(spec, PlanRun) else command_of(spec)
