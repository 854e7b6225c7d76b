"""The fold of plan jobs: requested, each step's start and end, the jobs they start, stops,
resumes and the end. Part of the fold (pure, idempotent, in place): a step starts and ends once
per attempt, and a copy of any of these events, or one of an older attempt, changes nothing.

The events clients read (reference §4.3) are made here: `task_start` (`command_start`, ...)
when a job of the plan job is requested, `out_message`, `plan_start` and `plan_end` around a
called plan, and `plan_finished` or `plan_failed` last.
"""

from __future__ import annotations

from typing import Final, assert_never

import msgspec

from podium.events.model import (
    PlanEvent,
    PlanFinished,
    PlanJobRequested,
    PlanResumed,
    PlanStepFinished,
    PlanStepStarted,
    PlanStopRequested,
)
from podium.events.schedules import is_fired_unmade, job_made
from podium.events.state import (
    PLAN_TERMINAL,
    Job,
    JobEvent,
    PlanJob,
    PlanState,
    State,
    StepRecord,
)
from podium.jsontypes import Json

# The plan event a job's start is, by the task it runs (Bolt's shims for commands and so on).
START_EVENTS: Final = {
    "bolt_shim::command": "command_start",
    "bolt_shim::script": "script_start",
    "bolt_shim::upload": "upload_start",
}
_PLAN_JOB: Final = msgspec.msgpack.Decoder(PlanJob)


def fold_plan(state: State, event: PlanEvent) -> None:
    match event:
        case PlanJobRequested():
            _plan_job_requested(state, event)
        case PlanStepStarted():
            _step_started(state, event)
        case PlanStepFinished():
            _step_finished(state, event)
        case PlanStopRequested():
            plan = _live(state, event.plan_job)
            if plan is not None:
                plan.stop_requested = True
        case PlanResumed():
            _resumed(state, event)
        case PlanFinished():
            _finished(state, event)
        case _:
            assert_never(event)


def plan_job_of(state: State, job: Job) -> None:
    """A job of a plan job was requested (by a step, or by Bolt with `plan_job`): the plan job
    lists it and says it started."""
    name = job.spec.origin.plan_job
    plan = None if name is None else _live(state, name)
    if plan is None:
        return
    plan.jobs.append(job.name)
    kind = START_EVENTS.get(getattr(job.spec, "task", ""), "task_start")
    _running(plan, job.created_at)
    _event(state, plan, kind, job.created_at, {"job-id": int(job.name)})


def _plan_job_requested(state: State, event: PlanJobRequested) -> None:
    if event.request_id in state.plan_requests:
        return
    scheduled = event.scheduled_job_id is not None
    if scheduled and not is_fired_unmade(state, event.request_id):
        return  # its occurrence was refused already, or never fired
    # A state from before `plan_job_count` held every plan job it had named.
    state.plan_job_count = max(state.plan_job_count, len(state.plan_jobs)) + 1
    name = str(state.plan_job_count)
    state.plan_jobs[name] = PlanJob(
        name=name,
        owner=event.owner,
        plan=event.plan,
        environment=event.environment,
        params=event.params,
        created_at=event.at,
        updated_at=event.at,
        description=event.description,
        userdata=event.userdata,
        sensitive=event.sensitive,
        timeout_s=event.timeout_s,
        sources=event.sources,
        tasks=event.tasks,
        files=event.files,
        file_modes=event.file_modes,
        driven_by_client=event.driven_by_client,
        state=PlanState.RUNNING if event.driven_by_client else PlanState.PENDING,
        attempt_started_at=event.at,
        scheduled_job_id=event.scheduled_job_id,
    )
    state.plan_requests[event.request_id] = name
    state.active_plans[name] = None
    if scheduled:
        job_made(state, event.request_id, name, plan=True)


def _step_started(state: State, event: PlanStepStarted) -> None:
    plan = _live(state, event.plan_job)
    if plan is None or event.attempt != plan.attempt or event.step in plan.steps:
        return
    job = state.requests.get(event.job_request) if event.job_request else None
    plan.steps[event.step] = StepRecord(event.action, event.at, event.object, job)
    _running(plan, event.at)
    if event.action == "message":
        _event(state, plan, "out_message", event.at, {"message": event.message})
    elif event.action == "plan":
        _event(state, plan, "plan_start", event.at, {"plan": event.object})


def _step_finished(state: State, event: PlanStepFinished) -> None:
    plan = _live(state, event.plan_job)
    record = None if plan is None else plan.steps.get(event.step)
    if plan is None or record is None or record.done or event.attempt != plan.attempt:
        return
    record.done, record.ok, record.result, record.finished_at = (
        True,
        event.ok,
        event.result,
        event.at,
    )
    plan.updated_at = event.at
    if record.action == "plan":
        duration = round(event.at - record.started_at, 6)
        _event(state, plan, "plan_end", event.at, {"plan": record.object, "duration": duration})


def _resumed(state: State, event: PlanResumed) -> None:
    plan = state.plan_jobs.get(event.plan_job) or _revived(state, event)
    if plan is None or plan.state != PlanState.FAILURE or plan.driven_by_client:
        return
    state.plan_jobs[plan.name] = plan
    plan.steps = {
        path: record
        for path, record in plan.steps.items()
        if int(path.split(".", 1)[0]) < event.from_step
    }
    plan.attempt += 1
    plan.attempt_started_at = plan.updated_at = event.at
    plan.state = PlanState.RUNNING
    plan.result = plan.finished_at = None
    plan.stop_requested = False
    state.active_plans[plan.name] = None


def _revived(state: State, event: PlanResumed) -> PlanJob | None:
    """The ended plan job the event carries, for a state that no longer holds it (archived,
    or forgotten by a scheduler); None when it carries none, or one since pruned."""
    if not event.plan:
        return None
    try:
        plan = _PLAN_JOB.decode(event.plan)
    except msgspec.DecodeError:
        return None
    if plan.name != event.plan_job or is_plan_pruned(plan, state.pruned_before):
        return None
    return plan


def is_plan_pruned(plan: PlanJob, before: float) -> bool:
    done = plan.finished_at
    return plan.state in PLAN_TERMINAL and done is not None and done < before


def _finished(state: State, event: PlanFinished) -> None:
    plan = _live(state, event.plan_job)
    if plan is None or event.attempt != plan.attempt:
        return
    plan.state = PlanState.SUCCESS if event.ok else PlanState.FAILURE
    plan.result = event.result
    plan.finished_at = plan.updated_at = event.at
    state.active_plans.pop(plan.name, None)
    detail = {"plan-id": plan.name, "result": event.result}
    _event(state, plan, "plan_finished" if event.ok else "plan_failed", event.at, detail)


def _live(state: State, name: str) -> PlanJob | None:
    plan = state.plan_jobs.get(name)
    return None if plan is None or plan.state in PLAN_TERMINAL else plan


def _running(plan: PlanJob, at: float) -> None:
    if plan.state == PlanState.PENDING:
        plan.state = PlanState.RUNNING
    plan.updated_at = at


def _event(state: State, plan: PlanJob, kind: str, at: float, detail: Json) -> None:
    plan.events.append(JobEvent(state.position, kind, at, None, detail))
