"""The fold of the schedule events, and how a fired occurrence's job is named on the log.

Part of the fold (pure, idempotent, in place). Each occurrence is keyed by its time: once a
schedule has handled an occurrence (fired, missed or skipped it), an event about that time or
an earlier one changes nothing, so two schedulers firing the same occurrence fire it once. The
job of a fired occurrence carries the request id `fired_request_id(...)`; the first job or
refusal for it wins, and a job for an occurrence that was never fired is ignored.
"""

from __future__ import annotations

from typing import assert_never

from podium.events.model import (
    ScheduleChanged,
    ScheduleCreated,
    ScheduleEvent,
    ScheduleFired,
    ScheduleMissed,
    ScheduleRunRefused,
    ScheduleSkipped,
)
from podium.events.state import LastRun, Schedule, State


def fired_request_id(schedule: str, occurrence: float) -> str:
    """The request id of the one job an occurrence may make, on every replica alike."""
    return f"schedule-{schedule}@{occurrence!r}"


def fold_schedule(state: State, event: ScheduleEvent) -> None:
    match event:
        case ScheduleCreated():
            _created(state, event)
        case ScheduleChanged():
            _changed(state, event)
        case ScheduleFired():
            _fired(state, event)
        case ScheduleMissed():
            _missed(state, event)
        case ScheduleSkipped():
            _skipped(state, event)
        case ScheduleRunRefused():
            _refused(state, event)
        case _:
            assert_never(event)


def is_fired_unmade(state: State, request_id: str) -> bool:
    """Whether a job with this request id is the awaited job of a fired occurrence."""
    return request_id in state.fired


def job_made(state: State, request_id: str, job: str, *, plan: bool = False) -> None:
    """The fired occurrence's job (or plan job) is `job`: the fold has just named it."""
    schedule = state.schedules[state.fired.pop(request_id)]
    if schedule.pending is not None:
        made = LastRun(schedule.pending, plan_job=job) if plan else LastRun(schedule.pending, job)
        schedule.last_run = made
        schedule.pending = None


def _created(state: State, event: ScheduleCreated) -> None:
    if event.request_id in state.schedule_requests:
        return
    name = str(len(state.schedules) + 1)
    state.schedules[name] = Schedule(
        name=name,
        owner=event.owner,
        spec=event.spec,
        start=event.start,
        interval_s=event.interval_s,
        api=event.api,
        created_at=event.at,
        updated_at=event.at,
    )
    state.schedule_requests[event.request_id] = name
    state.schedules_version += 1


def _changed(state: State, event: ScheduleChanged) -> None:
    schedule = state.schedules.get(event.schedule)
    if schedule is None:
        return
    schedule.spec, schedule.start, schedule.interval_s = event.spec, event.start, event.interval_s
    schedule.enabled = event.enabled
    schedule.updated_at = event.at
    state.schedules_version += 1


def _passed(schedule: Schedule | None, occurrence: float) -> Schedule | None:
    """The schedule, unless it has handled this occurrence (or a later one) already."""
    if schedule is None or (schedule.handled is not None and occurrence <= schedule.handled):
        return None
    return schedule


def _fired(state: State, event: ScheduleFired) -> None:
    schedule = _passed(state.schedules.get(event.schedule), event.occurrence)
    if schedule is None or not schedule.enabled:
        return
    if schedule.pending is not None:  # its job never came: this occurrence takes its place
        state.fired.pop(fired_request_id(schedule.name, schedule.pending), None)
    schedule.handled = schedule.pending = event.occurrence
    schedule.last_run = LastRun(event.occurrence)
    schedule.fired += 1
    state.fired[fired_request_id(schedule.name, event.occurrence)] = schedule.name
    state.schedules_version += 1


def _missed(state: State, event: ScheduleMissed) -> None:
    schedule = _passed(state.schedules.get(event.schedule), event.last)
    if schedule is not None:
        schedule.handled = event.last
        schedule.missed += event.count
        state.schedules_version += 1


def _skipped(state: State, event: ScheduleSkipped) -> None:
    schedule = _passed(state.schedules.get(event.schedule), event.occurrence)
    if schedule is not None:
        schedule.handled = event.occurrence
        schedule.skipped += 1
        state.schedules_version += 1


def _refused(state: State, event: ScheduleRunRefused) -> None:
    name = state.fired.pop(fired_request_id(event.schedule, event.occurrence), None)
    if name is None:
        return  # its job was made, or another replica's refusal came first
    schedule = state.schedules[name]
    error = {"kind": event.kind, "msg": event.msg, "details": event.details}
    schedule.last_run = LastRun(event.occurrence, None, error)
    schedule.pending = None
