"""The schedules' timers: which occurrences are due, decided from the folded state and the time.

Pure like `decide`: the time comes in, events go out. A due occurrence fires, unless the
schedule's previous run has not ended (then it is skipped); occurrences that fell while no
scheduler ran are recorded as missed and only the latest of them fires. The next occurrence
always follows the schedule (`start + k * interval`), never the time it happened to fire.
"""

from __future__ import annotations

from podium.events.model import (
    JOB_TERMINAL,
    Event,
    ScheduleFired,
    ScheduleMissed,
    ScheduleSkipped,
)
from podium.events.recurrence import due, next_run
from podium.events.state import PLAN_TERMINAL, Schedule, State


def timer_events(state: State, now: float) -> list[Event]:
    """The events of every schedule with an occurrence due at `now`."""
    events: list[Event] = []
    for schedule in state.schedules.values():
        if not schedule.enabled:
            continue
        found = due(schedule.start, schedule.interval_s, schedule.handled, now)
        if found is None:
            continue
        name = schedule.name
        if found.missed and found.first_missed is not None and found.last_missed is not None:
            events.append(
                ScheduleMissed(
                    at=now,
                    schedule=name,
                    first=found.first_missed,
                    last=found.last_missed,
                    count=found.missed,
                )
            )
        running, previous = _previous_run(state, schedule)
        if running:
            events.append(
                ScheduleSkipped(
                    at=now, schedule=name, occurrence=found.occurrence, previous_job=previous
                )
            )
        else:
            events.append(ScheduleFired(at=now, schedule=name, occurrence=found.occurrence))
    return events


def earliest(state: State) -> float | None:
    """When the next occurrence of any enabled schedule falls (it may be overdue)."""
    times = [
        when
        for schedule in state.schedules.values()
        if schedule.enabled
        and (when := next_run(schedule.start, schedule.interval_s, schedule.handled)) is not None
    ]
    return min(times, default=None)


def _previous_run(state: State, schedule: Schedule) -> tuple[bool, str | None]:
    """Whether the schedule's previous run is still going (its job not made yet, or not
    ended), and that job's name when there is one."""
    if schedule.pending is not None:
        return True, None
    last = schedule.last_run
    if last is not None and last.plan_job is not None:
        plan = state.plan_jobs.get(last.plan_job)
        return plan is not None and plan.state not in PLAN_TERMINAL, last.plan_job
    previous = last.job if last is not None else None
    job = state.jobs.get(previous) if previous is not None else None
    return job is not None and job.state not in JOB_TERMINAL, previous


class Timers:
    """`timer_events`, without looking at every schedule at every step: only once the
    earliest occurrence is due, which is worked out again whenever a schedule changes."""

    def __init__(self) -> None:
        self._version = -1
        self._earliest: float | None = None

    def wakeup(self, state: State) -> float | None:
        if state.schedules_version != self._version:
            self._earliest = earliest(state)
            self._version = state.schedules_version
        return self._earliest

    def due(self, state: State, now: float) -> list[Event]:
        when = self.wakeup(state)
        if when is None or now < when:
            return []
        return timer_events(state, now)
