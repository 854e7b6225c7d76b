"""The Operations of the scheduled jobs' two APIs, for the OpenAPI document."""

from __future__ import annotations

from typing import Final

from podium.api import (
    environment_jobs,
    schedule_answers,
    scheduled_jobs,
)
from podium.api.bodies import (
    DeployInput,
    EnvironmentJobCommand,
    EnvironmentJobUpdate,
    ScheduleTaskCommand,
    TaskInput,
)
from podium.api.errors import (
    DependencyCycle,
    DisabledScheduledJob,
    EmptyEnvironment,
    EmptyTarget,
    InvalidTime,
    NotPermitted,
    PuppetDbError,
    QueryError,
    Unavailable,
    UnknownEnvironment,
    UnknownJob,
    UnknownPlan,
    UnknownTask,
)
from podium.api.openapi import Follow, Handler, Operation, Param
from podium.api.operation_params import (
    JOB_ID,
    JOB_READ_ERRORS,
    LIMIT,
    OFFSET,
    ORDER,
    TASK_PARAMETERS,
    choice,
)
from podium.api.plan_bodies import (
    PlanInput,
)
from podium.api.schedule_views import ENVIRONMENT_SORT, SCHEDULED_SORT, TYPES

SCHEDULE_ERRORS: Final = (
    UnknownEnvironment,
    UnknownTask,
    UnknownPlan,
    EmptyEnvironment,
    EmptyTarget,
    DependencyCycle,
    PuppetDbError,
    QueryError,
    NotPermitted,
    InvalidTime,
    Unavailable,
)
SCHEDULED_JOB: Final = "$response.body#/scheduled_job/name"


def _schedule_list(sorts: tuple[str, ...], default: str) -> tuple[Param, ...]:
    return (
        LIMIT,
        OFFSET,
        ORDER,
        Param("order_by", choice(sorts), f"{default} when absent"),
        Param("type", choice(TYPES), "only scheduled jobs of this type"),
    )


SCHEDULES: Final[dict[Handler, Operation]] = {
    scheduled_jobs.schedule_task: Operation(
        "Run a task later, once or every interval",
        schedule_answers.ScheduledJobCreated,
        (202,),
        body=ScheduleTaskCommand,
        errors=SCHEDULE_ERRORS,
        follow=(
            Follow("delete", scheduled_jobs.delete_scheduled_job, {"id": SCHEDULED_JOB}),
            Follow("environment_job", environment_jobs.get_environment_job, {"id": SCHEDULED_JOB}),
        ),
        description=TASK_PARAMETERS,
    ),
    scheduled_jobs.list_scheduled_jobs: Operation(
        "Scheduled jobs with a run to come (deprecated API; bad paging is a query-error)",
        schedule_answers.ScheduledJobList,
        params=_schedule_list(tuple(SCHEDULED_SORT), "next_run"),
        errors=(QueryError,),
    ),
    scheduled_jobs.delete_scheduled_job: Operation(
        "Delete a scheduled job: it never runs again (an unknown id answers 204 too)",
        None,
        (204,),
        path=JOB_ID,
        errors=(NotPermitted, Unavailable),
    ),
    environment_jobs.list_environment_jobs: Operation(
        "Every scheduled job the user may see, disabled ones included",
        schedule_answers.EnvironmentJobList,
        params=_schedule_list(tuple(ENVIRONMENT_SORT), "next_run_time"),
        errors=(QueryError,),
    ),
    environment_jobs.get_environment_job: Operation(
        "One scheduled job", schedule_answers.EnvironmentJob, path=JOB_ID, errors=JOB_READ_ERRORS
    ),
    environment_jobs.create_environment_job: Operation(
        "Schedule a task, a deploy or a plan, once or every interval",
        schedule_answers.ScheduledJobCreated,
        body=EnvironmentJobCommand,
        models=(TaskInput, DeployInput, PlanInput),
        errors=SCHEDULE_ERRORS,
        follow=(
            Follow("job", environment_jobs.get_environment_job, {"id": SCHEDULED_JOB}),
            Follow("change", environment_jobs.update_environment_job, {"id": SCHEDULED_JOB}),
        ),
    ),
    environment_jobs.update_environment_job: Operation(
        "Change a scheduled job: each key given replaces its value; enabled false deletes it",
        schedule_answers.ScheduledJobCreated,
        body=EnvironmentJobUpdate,
        models=(TaskInput, DeployInput, PlanInput),
        path=JOB_ID,
        errors=(*SCHEDULE_ERRORS, UnknownJob, DisabledScheduledJob),
        description="A new input must fit the scheduled job's type (a task's or a deploy's): "
        "one that does not is a validation-error.",
    ),
}
