"""Scheduled jobs as the two APIs show them: pure functions of the folded state and a base URL.

One store of schedules, two shapes: `/scheduled_jobs` (the deprecated API of
`/command/schedule_task`) and `/scheduled_jobs/environment_jobs` (PE 2021.7's). Sensitive task
parameters are hidden as in `GET /jobs`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, assert_never

from podium.api.views import job_url, options, owner
from podium.events.jobspec import DeployJob, PlanRun, ScheduledSpec, TaskJob
from podium.events.recurrence import next_run
from podium.events.render import iso
from podium.events.state import Schedule, State
from podium.jsontypes import Json

TYPES: Final = ("deploy", "task", "plan")
ORDERS: Final = ("asc", "desc")


def scheduled_job_url(base: str, name: str) -> str:
    return f"{base}/scheduled_jobs/{name}"


def environment_job_url(base: str, name: str) -> str:
    return f"{base}/scheduled_jobs/environment_jobs/{name}"


def upcoming(schedule: Schedule) -> float | None:
    """When it runs next (possibly overdue, about to fire); None when it never runs again."""
    if not schedule.enabled:
        return None
    return next_run(schedule.start, schedule.interval_s, schedule.handled)


def _interval(schedule: Schedule) -> Json:
    if schedule.interval_s is None:
        return None
    return {"units": "seconds", "value": schedule.interval_s}


def _owner_sort(state: State, schedule: Schedule) -> str:
    user = state.users.get(schedule.owner)
    return user.login if user else schedule.owner


def _by_time(when: float | None, name: str) -> tuple[bool, float, int]:
    return (when is None, when or 0.0, int(name))


Sort = Callable[[State, Schedule], Any]
SCHEDULED_SORT: Final[dict[str, Sort]] = {
    "next_run": lambda state, s: _by_time(upcoming(s), s.name),
    "scheduled_time": lambda state, s: _by_time(s.start, s.name),
    "name": lambda state, s: int(s.name),
}
ENVIRONMENT_SORT: Final[dict[str, Sort]] = {
    "next_run_time": lambda state, s: _by_time(upcoming(s), s.name),
    "environment": lambda state, s: (s.spec.environment, int(s.name)),
    "owner": lambda state, s: (_owner_sort(state, s), int(s.name)),
    "name": lambda state, s: int(s.name),
    "type": lambda state, s: (s.spec.kind, int(s.name)),
}


def scheduled_job_item(state: State, schedule: Schedule, base: str) -> dict[str, Json]:
    """GET /scheduled_jobs: `job_options` holds the rest of the command (the task's or the
    plan's params, or the deploy's flags); `plan` replaces `task` for a plan."""
    spec = schedule.spec
    item: dict[str, Json] = {
        "id": scheduled_job_url(base, schedule.name),
        "name": schedule.name,
        "type": spec.kind,
    }
    if isinstance(spec, PlanRun):
        item["plan"] = spec.plan
        scope: Json = {}
        noop = False
        job_options: dict[str, Json] = {"params": spec.params}
    else:
        rest = options(spec)
        scope, noop = spec.scope.given(), spec.noop
        if isinstance(spec, TaskJob):
            item["task"] = spec.task
            job_options = {"params": rest["params"]}
        else:
            job_options = {k: v for k, v in rest.items() if k not in _SHOWN}
    item.update(
        scope=scope,
        environment=spec.environment,
        owner=owner(state, schedule.owner),
        description=spec.description,
        scheduled_time=iso(schedule.start),
        next_run=iso(upcoming(schedule)),
        schedule_options={"interval": _interval(schedule)},
        noop=noop,
        job_options=job_options,
    )
    return item


_SHOWN: Final = frozenset({"scope", "environment", "noop", "description", "userdata"})


def environment_job_item(state: State, schedule: Schedule, base: str) -> dict[str, Json]:
    """GET /scheduled_jobs/environment_jobs[/<id>]"""
    spec = schedule.spec
    when = upcoming(schedule)
    return {
        "id": environment_job_url(base, schedule.name),
        "name": schedule.name,
        "enabled": schedule.enabled,
        "environment": spec.environment,
        "type": spec.kind,
        "description": spec.description,
        "owner": owner(state, schedule.owner),
        "userdata": spec.userdata,
        "input": job_input(spec),
        "schedule": {"start_time": iso(schedule.start), "interval": _interval(schedule)},
        "next_run": None if when is None else {"time": iso(when)},
        "last_run": _last_run(schedule, base),
    }


def job_input(spec: ScheduledSpec) -> dict[str, Json]:
    """The `input` an environment job is given, as the job will run it."""
    match spec:
        case PlanRun():
            return {"name": spec.plan, "parameters": spec.params}
        case TaskJob():
            return {
                "name": spec.task,
                "parameters": options(spec)["params"],
                "sensitive_parameters": list(spec.sensitive),
                "scope": spec.scope.given(),
                "noop": spec.noop,
                "concurrency": spec.concurrency,
            }
        case DeployJob():
            rendered = options(spec)
            return {k: v for k, v in rendered.items() if k not in ("environment", "description")}
        case _:
            assert_never(spec)


def _last_run(schedule: Schedule, base: str) -> Json:
    """`job` is the run's job (or plan job), or why it could not be made; null while it is
    being made."""
    last = schedule.last_run
    if last is None:
        return None
    job: Json = None
    if last.job is not None:
        job = {"id": job_url(base, last.job), "name": last.job}
    elif last.plan_job is not None:
        job = {"id": f"{base}/plan_jobs/{last.plan_job}", "name": last.plan_job}
    elif last.error is not None:
        job = {"submission_error": last.error}
    return {"time": iso(last.occurrence), "job": job}
