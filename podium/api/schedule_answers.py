"""The answers of the scheduled jobs' two APIs, as `answers` describes the others."""

from __future__ import annotations

from typing import Literal

from msgspec import Struct

from podium.api.answers import (
    Named,
    Owner,
    Pagination,
    Timestamp,
)
from podium.jsontypes import Json


class ScheduledJobCreated(Struct):
    """The answer to a scheduling command: the scheduled job's link and name."""

    scheduled_job: Named


class IntervalShown(Struct):
    units: Literal["seconds"]
    value: int


class ScheduleOptionsShown(Struct):
    interval: IntervalShown | None


class ScheduledJob(Struct):
    """A scheduled job as GET /scheduled_jobs shows it; `task` for a task only."""

    id: str
    name: str
    type: str
    scope: dict[str, Json]
    environment: str
    owner: Owner
    description: str | None
    scheduled_time: Timestamp | None
    next_run: Timestamp | None
    schedule_options: ScheduleOptionsShown
    noop: bool
    job_options: dict[str, Json]
    task: str | None = None


class ScheduledJobList(Struct):
    items: list[ScheduledJob]
    pagination: Pagination


class ScheduleShown(Struct):
    start_time: Timestamp | None
    interval: IntervalShown | None


class NextRun(Struct):
    time: Timestamp | None


class LastRun(Struct):
    """`job` is the run's job `{id, name}`, or `{submission_error}` saying why it made none,
    or null while it is being made."""

    time: Timestamp | None
    job: dict[str, Json] | None


class EnvironmentJob(Struct):
    """A scheduled job as GET /scheduled_jobs/environment_jobs shows it."""

    id: str
    name: str
    enabled: bool
    environment: str
    type: str
    description: str | None
    owner: Owner
    userdata: dict[str, Json]
    input: dict[str, Json]
    schedule: ScheduleShown
    next_run: NextRun | None
    last_run: LastRun | None


class EnvironmentJobList(Struct):
    items: list[EnvironmentJob]
    pagination: Pagination
