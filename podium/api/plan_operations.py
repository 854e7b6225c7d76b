"""The Operations of plans and plan jobs, for the OpenAPI document."""

from __future__ import annotations

from typing import Final

from podium.api import (
    plan_answers,
    plan_jobs,
    plans,
)
from podium.api.errors import (
    EmptyTarget,
    NotPermitted,
    PlanAlreadyFinished,
    PuppetDbError,
    QueryError,
    Unavailable,
    UnknownEnvironment,
    UnknownJob,
    UnknownPlan,
)
from podium.api.openapi import Follow, Handler, Operation, Param
from podium.api.operation_params import (
    ENVIRONMENT,
    ID,
    JOB_ID,
    JOB_READ_ERRORS,
    LAST_EVENT_ID,
    LIMIT,
    OFFSET,
    ORDER,
    SEGMENT_NAME,
    START,
    TIME,
    choice,
)
from podium.api.plan_bodies import (
    EnvironmentPlanRunCommand,
    PlanFinishCommand,
    PlanResumeCommand,
    PlanRunCommand,
    PlanStartCommand,
    StopPlanCommand,
)

PLAN_JOB: Final = "$response.body#/name"
PLAN_RUN_ERRORS: Final = (UnknownEnvironment, UnknownPlan, NotPermitted, Unavailable)
PLAN_PARAMETERS: Final = (
    "params are checked against the parameters the plan declares, and the plan against the "
    "subset of Bolt YAML plans Podium runs: the document cannot know them, and a mismatch is a "
    "validation-error naming the plan."
)


def _plan_links() -> tuple[Follow, ...]:
    return (
        Follow("plan_job", plan_jobs.get_plan_job, {"id": PLAN_JOB}),
        Follow("events", plan_jobs.plan_job_events, {"id": PLAN_JOB}),
        Follow("stop", plans.stop_plan, body={"plan_job": PLAN_JOB}),
    )


PLANS: Final[dict[Handler, Operation]] = {
    plans.plan_run: Operation(
        "Run a Bolt YAML plan",
        plan_answers.PlanJobName,
        (202,),
        body=PlanRunCommand,
        errors=PLAN_RUN_ERRORS,
        follow=_plan_links(),
        description=PLAN_PARAMETERS,
    ),
    plans.environment_plan_run: Operation(
        "Run a plan with parameters given as values, PQL queries or node groups",
        plan_answers.PlanJobName,
        (202,),
        body=EnvironmentPlanRunCommand,
        errors=(*PLAN_RUN_ERRORS, QueryError, PuppetDbError, EmptyTarget),
        follow=_plan_links(),
        description=PLAN_PARAMETERS,
    ),
    plans.stop_plan: Operation(
        "Stop a plan job: no step starts after the one running",
        plan_answers.PlanJobName,
        (202,),
        body=StopPlanCommand,
        errors=(UnknownJob, NotPermitted, Unavailable),
    ),
    plans.plan_resume: Operation(
        "Run a failed or stopped plan job again from one of its steps",
        plan_answers.PlanJobName,
        (202,),
        body=PlanResumeCommand,
        errors=(UnknownJob, NotPermitted, Unavailable),
        description="from_step must be a step of the plan, and the plan job must have ended "
        "unsuccessfully: otherwise a validation-error.",
    ),
    plans.plan_start: Operation(
        "Bolt's start of a plan it runs itself: a plan job for its tasks to name",
        plan_answers.PlanJobName,
        (202,),
        body=PlanStartCommand,
        errors=PLAN_RUN_ERRORS,
        follow=(Follow("finish", plans.plan_finish, body={"plan_job": PLAN_JOB}),),
        description=PLAN_PARAMETERS,
    ),
    plans.plan_finish: Operation(
        "Bolt's end of a plan it ran itself, with its result",
        plan_answers.PlanJobName,
        (202,),
        body=PlanFinishCommand,
        errors=(UnknownJob, NotPermitted, PlanAlreadyFinished, Unavailable),
    ),
    plan_jobs.list_plans: Operation(
        "An environment's YAML plans, and whether the user may run each",
        plan_answers.PlanList,
        params=(ENVIRONMENT,),
        errors=(UnknownEnvironment,),
    ),
    plan_jobs.get_plan: Operation(
        "One plan and its parameters (init is the module's own plan)",
        plan_answers.Plan,
        path={"module": SEGMENT_NAME, "plan": SEGMENT_NAME},
        params=(ENVIRONMENT,),
        errors=(UnknownEnvironment, UnknownPlan),
        description="A Puppet-language plan, or one outside the subset Podium runs, is a "
        "validation-error naming it.",
    ),
    plan_jobs.list_plan_jobs: Operation(
        "Plan jobs, sorted and paged",
        plan_answers.PlanJobList,
        params=(
            LIMIT,
            OFFSET,
            ORDER,
            Param("order_by", choice(plan_jobs.PLAN_ORDER_BY), "timestamp when absent"),
            Param("results", choice(("include", "exclude")), "exclude leaves out result"),
            Param("min_finish_timestamp", TIME, "only plan jobs finished at or after it"),
            Param("max_finish_timestamp", TIME, "only plan jobs finished at or before it"),
        ),
        follow=(Follow("first", plan_jobs.get_plan_job, {"id": "$response.body#/items/0/name"}),),
    ),
    plan_jobs.get_plan_job: Operation(
        "One plan job and the status history of its jobs",
        plan_answers.PlanJobDetail,
        path=JOB_ID,
        errors=JOB_READ_ERRORS,
    ),
    plan_jobs.plan_job_events: Operation(
        "A plan job's events from an id on; with Accept: text/event-stream, a stream of them "
        "that ends after plan_finished or plan_failed",
        plan_answers.PlanEvents,
        path=JOB_ID,
        params=(START, LAST_EVENT_ID),
        errors=JOB_READ_ERRORS,
        events=plan_answers.PlanEvent,
    ),
    plan_jobs.plan_job_event: Operation(
        "One event of a plan job, nothing cut",
        plan_answers.PlanEvent,
        path={**JOB_ID, "event": ID},
        errors=(*JOB_READ_ERRORS, plan_jobs.MismatchedEvent),
    ),
}
