"""What both scheduled-job APIs share: a stored job spec checked again as a user (when a
schedule is made, changed or fires), the start-time rule, and visibility.

A schedule keeps the spec its command was checked into; `command_of` turns it back into the
command, and `prepare_command` runs the very checks of /command/task or /command/deploy on it,
so that a run made at fire time is refused for whatever the command would be refused for then.
"""

from __future__ import annotations

from typing import assert_never

import structlog
from aiohttp import web

from podium.api.bodies import DeployCommand, Scope, TaskCommand, iso_seconds
from podium.api.commands import Planned, prepare_deploy, prepare_task
from podium.api.errors import InvalidTime, NotPermitted
from podium.api.keys import CLOCK, PROJECTOR, REQUEST_IDS, USER
from podium.api.plans import plan_job_requested
from podium.api.submit import submit
from podium.events.jobspec import DeployJob, JobSpec, PlanRun, ScheduledSpec, TaskJob
from podium.events.model import ScheduleCreated
from podium.events.render import iso
from podium.events.state import Schedule, State
from podium.rbac.decide import is_superuser, may_see_job

log = structlog.get_logger(__name__)


def command_of(spec: JobSpec) -> TaskCommand | DeployCommand:
    """The command a spec was made from (its checked values, defaults applied)."""
    given = spec.scope.given()
    scope = Scope.model_validate(given) if given else None
    match spec:
        case TaskJob():
            assert scope is not None  # a task always has one
            return TaskCommand(
                environment=spec.environment,
                scope=scope,
                task=spec.task,
                params=spec.params,
                description=spec.description,
                noop=spec.noop,
                concurrency=spec.concurrency,
                timeout=spec.timeout_s,
                userdata=spec.userdata,
            )
        case DeployJob():
            return DeployCommand(
                environment=spec.environment,
                scope=scope,
                target=spec.target,
                description=spec.description,
                noop=spec.noop,
                no_noop=spec.no_noop,
                concurrency=spec.concurrency,
                enforce_environment=spec.enforce_environment,
                debug=spec.debug,
                trace=spec.trace,
                evaltrace=spec.evaltrace,
                userdata=spec.userdata,
            )
        case _:
            assert_never(spec)


Scheduled = TaskCommand | DeployCommand | PlanRun
"""What a schedule is made from and checked as: a command, or a plan run."""


def check_owner(state: State, user: str) -> None:
    """Raises NotPermitted for a disabled user: a schedule of theirs makes nothing."""
    account = state.users.get(user)
    if account is not None and account.disabled:
        raise NotPermitted(f"The user {account.login} is disabled", user=account.login)


async def prepare_command(
    app: web.Application, user: str, command: TaskCommand | DeployCommand
) -> tuple[JobSpec, Planned]:
    """The checks of the command's endpoint, as `user`. Raises the ApiError it would answer."""
    check_owner(app[PROJECTOR].state, user)
    if isinstance(command, TaskCommand):
        return await prepare_task(app, user, command)
    return await prepare_deploy(app, user, command)


async def checked_spec(app: web.Application, user: str, scheduled: Scheduled) -> ScheduledSpec:
    """The checks of the endpoint that runs it now, as `user`, and what the schedule keeps."""
    if isinstance(scheduled, PlanRun):
        check_owner(app[PROJECTOR].state, user)
        await plan_job_requested(app, user, scheduled, "", 0.0)
        return scheduled
    spec, _ = await prepare_command(app, user, scheduled)
    return spec


async def create_schedule(
    request: web.Request,
    command: Scheduled,
    start_time: str,
    interval_s: int | None,
    api: str,
) -> str:
    """Check the start time (its body field named by `api`) and the command as the user, and
    record the schedule: its new name."""
    now = request.app[CLOCK]()
    start = iso_seconds(start_time)
    check_start(start, now, "scheduled_time" if api == "task" else "schedule.start_time")
    user = request[USER]
    spec = await checked_spec(request.app, user, command)
    ids = request.app[REQUEST_IDS]
    event = ScheduleCreated(
        at=now,
        request_id=next(ids),
        owner=user,
        spec=spec,
        start=start,
        interval_s=interval_s,
        api=api,
    )
    await submit(request, event)
    name = request.app[PROJECTOR].state.schedule_requests[event.request_id]
    log.info("job scheduled", schedule=name, kind=spec.kind, start=start, interval_s=interval_s)
    return name


def check_start(start: float, now: float, field: str) -> None:
    """Raises InvalidTime for a start earlier than `now`."""
    if start < now:
        raise InvalidTime(
            f"{field} {iso(start)} is in the past (the server's time is {iso(now)})",
            field=field,
            time=iso(start),
        )


def may_see(state: State, user: str, schedule: Schedule) -> bool:
    return may_see_job(state, user, schedule.owner)


def may_change(state: State, user: str, schedule: Schedule) -> bool:
    """Only its owner or an administrator may change or delete a scheduled job."""
    return user == schedule.owner or is_superuser(state, user)
