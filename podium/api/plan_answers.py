"""The answers of the plan endpoints, as `answers` describes the others."""

from __future__ import annotations

from msgspec import Struct, field

from podium.api.answers import (
    EnvironmentName,
    Link,
    NextEvents,
    Owner,
    Pagination,
    StatusEntry,
    Timestamp,
)
from podium.jsontypes import Json


class PlanJobName(Struct):
    """The answer to a plan command: the plan job's name."""

    name: str


class PlanOptions(Struct):
    description: str | None
    plan_name: str
    parameters: dict[str, Json]
    environment: str
    sensitive: list[str]
    scheduled_job_id: str | None


class PlanJob(Struct):
    """A plan job as GET /plan_jobs lists it; `result` unless results=exclude."""

    id: str
    name: str
    state: str
    options: PlanOptions
    owner: Owner
    userdata: dict[str, Json]
    created_timestamp: Timestamp | None
    finished_timestamp: Timestamp | None
    duration: float | None
    events: Link
    result: Json = None


class PlanJobDetail(PlanJob, kw_only=True):
    """One plan job: when it last changed, and the status history of each of its jobs."""

    timestamp: Timestamp | None
    status: dict[str, list[StatusEntry]]


class PlanJobList(Struct):
    items: list[PlanJob]
    pagination: Pagination


class PlanEvent(Struct):
    """One event of a plan job (`id` its log position, as a string)."""

    id: str
    type: str
    timestamp: Timestamp | None
    details: Json


class PlanEvents(Struct):
    next_events: NextEvents = field(name="next-events")
    items: list[PlanEvent]


class PlanLink(Struct):
    id: str
    name: str
    permitted: bool


class PlanList(Struct):
    environment: EnvironmentName
    items: list[PlanLink]


class Plan(Struct):
    """A plan: whether the user may run it, and its parameters and steps' metadata."""

    id: str
    name: str
    environment: EnvironmentName
    permitted: bool
    metadata: dict[str, Json]
