"""Reading a deployment's log back to check its schedules: every occurrence of a schedule was
fired, skipped or missed exactly once, and each fired occurrence made exactly one job."""

from __future__ import annotations

import asyncio

from podium.events.model import Event, ScheduleFired, ScheduleMissed, ScheduleSkipped
from podium.events.ports import EventLog
from podium.events.schedules import fired_request_id
from podium.events.state import State


async def every_event(log: EventLog) -> list[Event]:
    """Every event of the log, up to where it ends now."""
    head = await log.head()
    events: list[Event] = []
    async with asyncio.timeout(60):
        async for record in log.subscribe(0):
            events.extend(record.events)
            if head.reached_by(record):
                break
    return events


def occurrences_of_jobs(state: State, schedule: str) -> list[float]:
    """The occurrence each job of the schedule was made for, from its request id."""
    prefix = fired_request_id(schedule, 0.0).removesuffix("0.0")
    return [
        float(request_id.removeprefix(prefix))
        for request_id, job in state.requests.items()
        if request_id.startswith(prefix)
        and state.jobs[job].spec.origin.scheduled_job_id == schedule
    ]


def check_each_occurrence_once(
    state: State, events: list[Event], schedule: str, interval_s: int
) -> list[float]:
    """Every occurrence from the start to the last handled is fired, skipped or missed, once;
    each fired one made one job (however many ScheduleFired the log holds for it). Returns
    the occurrences fired."""
    fired = sorted(
        {e.occurrence for e in events if isinstance(e, ScheduleFired) and e.schedule == schedule}
    )
    assert sorted(occurrences_of_jobs(state, schedule)) == fired  # one job each
    accounted = fired + [
        e.occurrence for e in events if isinstance(e, ScheduleSkipped) and e.schedule == schedule
    ]
    for missed in (e for e in events if isinstance(e, ScheduleMissed) and e.schedule == schedule):
        accounted += [missed.first + interval_s * k for k in range(missed.count)]
    start = state.schedules[schedule].start
    grid = [start + interval_s * k for k in range(len(accounted))]
    assert sorted(accounted) == grid  # none twice, none left out
    assert state.schedules[schedule].handled == grid[-1]
    return fired
