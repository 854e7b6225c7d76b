"""What each handler takes and answers, for the OpenAPI document: one `Operation` per handler.

A new endpoint adds its entry here (its body model, its answer Struct from `answers`, the
ApiErrors it raises); tests/integration/test_openapi.py fails for a route without one.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from podium.api import (
    admin,
    answers,
    commands,
    diff,
    docs,
    environment_jobs,
    environments,
    events,
    inventory,
    jobs,
    plan_jobs,
    plans,
    rerun,
    scheduled_jobs,
    status,
    task_targets,
    tasks,
    usage,
    webview,
)
from podium.api.bodies import (
    ENVIRONMENT_NAME,
    DeployCommand,
    DeployInput,
    EnvironmentJobCommand,
    EnvironmentJobUpdate,
    InventoryQuery,
    RerunCommand,
    ScheduleTaskCommand,
    StopCommand,
    TaskCommand,
    TaskInput,
    TaskTargetCommand,
)
from podium.api.errors import (
    Conflict,
    DependencyCycle,
    DisabledScheduledJob,
    EmptyEnvironment,
    EmptyTarget,
    InvalidTime,
    InventoryInvalid,
    NotFound,
    NotPermitted,
    PlanAlreadyFinished,
    PuppetDbError,
    QueryError,
    Unavailable,
    UnknownEnvironment,
    UnknownIdentity,
    UnknownJob,
    UnknownPlan,
    UnknownTask,
    UnknownTaskTarget,
)
from podium.api.metrics import metrics
from podium.api.openapi import Follow, Handler, Operation, Param
from podium.api.plan_bodies import (
    EnvironmentPlanRunCommand,
    PlanFinishCommand,
    PlanInput,
    PlanResumeCommand,
    PlanRunCommand,
    PlanStartCommand,
    StopPlanCommand,
)
from podium.api.schedule_views import ENVIRONMENT_SORT, SCHEDULED_SORT, TYPES
from podium.events.model import NodeState
from podium.health import orchestrator_status, service, services, simple
from podium.jsontypes import Json
from podium.tasks.names import SEGMENT

ID: Final = {"type": "integer", "minimum": 1, "maximum": 10**18 - 1}
COUNT: Final = {"type": "integer", "minimum": 0}


def choice(values: Iterable[str]) -> dict[str, Json]:
    """One of `values`; empty is as absent (the default)."""
    return {"enum": [*values, ""]}


ORDER: Final = Param("order", choice(jobs.ORDERS), "asc (the default) or desc")
LIMIT: Final = Param("limit", COUNT, "at most this many items (all when absent)")
OFFSET: Final = Param("offset", COUNT, "the index of the first item (0 when absent)")
START: Final = Param("start", {"type": "integer", "minimum": 1}, "the first event id wanted")
LAST_EVENT_ID: Final = Param(
    "Last-Event-ID",
    {"type": "string", "pattern": "^[0-9]{1,17}$"},
    "resume a stream after this event id",
    where="header",
)
ENVIRONMENT: Final = Param(
    "environment",
    {"type": "string", "pattern": f"{ENVIRONMENT_NAME}|^$"},
    "production when absent or empty",
)
AS_OF: Final = Param("as_of", {"type": "integer", "minimum": 1}, "as it was after this event")
AS_OF_PAST: Final = "An as_of past the log's last event is a validation-error."
LEVEL: Final = Param("level", {"type": "string"}, "critical, info or debug: echoed")
TIME: Final = {"type": "string", "format": "date-time"}
JOB_ID: Final = {"id": ID}
SEGMENT_NAME: Final = {
    "type": "string",
    "pattern": SEGMENT.pattern.replace("\\A", "^").replace("\\Z", "$"),
}
NAME: Final = {"type": "string", "pattern": admin.NAME_PATTERN}
ENVIRONMENT_SCHEMA: Final = {"type": "string", "pattern": ENVIRONMENT_NAME}
JOB_READ_ERRORS: Final = (UnknownJob, NotPermitted)
EVENTS_OF_THE_JOB: Final = "$response.body#/job/name"
ADMIN_ERRORS: Final = (NotPermitted,)


TASK_PARAMETERS: Final = (
    "params are checked against the parameters the task declares, and noop against its "
    "supports_noop: the document cannot know them, and a mismatch is a validation-error naming "
    "each parameter."
)


def _job_links(expression: str) -> tuple[Follow, ...]:
    """A job's reads and its stop, from a value naming it."""
    return (
        Follow("job", jobs.get_job, {"id": expression}),
        Follow("nodes", jobs.job_nodes, {"id": expression}),
        Follow("report", jobs.job_report, {"id": expression}),
        Follow("events", jobs.job_events, {"id": expression}),
        Follow("stop", commands.stop, body={"job": expression}),
    )


_COMMANDS: Final[dict[Handler, Operation]] = {
    rerun.rerun: Operation(
        "Run a job's command again: over all its nodes, the failed ones, or those named",
        answers.JobCreated,
        (202,),
        body=RerunCommand,
        errors=(
            UnknownJob,
            UnknownEnvironment,
            UnknownTask,
            EmptyTarget,
            DependencyCycle,
            PuppetDbError,
            QueryError,
            NotPermitted,
            Unavailable,
        ),
        follow=_job_links(EVENTS_OF_THE_JOB),
        description="Named nodes must be the job's: others are a validation-error.",
    ),
    commands.deploy: Operation(
        "Run Puppet on the nodes of a scope, an application or a whole environment",
        answers.JobCreated,
        (202,),
        body=DeployCommand,
        errors=(
            UnknownEnvironment,
            EmptyEnvironment,
            EmptyTarget,
            DependencyCycle,
            PuppetDbError,
            QueryError,
            NotPermitted,
            Unavailable,
        ),
        follow=_job_links(EVENTS_OF_THE_JOB),
    ),
    commands.task: Operation(
        "Run a task on the nodes of a scope",
        answers.JobCreated,
        (202,),
        body=TaskCommand,
        errors=(
            UnknownEnvironment,
            UnknownTask,
            EmptyTarget,
            PuppetDbError,
            QueryError,
            NotPermitted,
            UnknownJob,
            PlanAlreadyFinished,
            Unavailable,
        ),
        follow=_job_links(EVENTS_OF_THE_JOB),
        description=TASK_PARAMETERS
        + " /command/plan_task is the same command from Bolt, naming its plan_job.",
    ),
    commands.stop: Operation(
        "Stop a job: nodes not started are skipped; with force, runs in flight are killed",
        answers.StopAnswer,
        (202,),
        body=StopCommand,
        errors=(UnknownJob, NotPermitted, Unavailable),
    ),
    task_targets.create_task_target: Operation(
        "Make a task-target: tasks and the nodes they may run on, for a role to grant",
        answers.TaskTargetCreated,
        body=TaskTargetCommand,
        errors=(NotPermitted, Unavailable),
        follow=(
            Follow(
                "task_target",
                task_targets.get_task_target,
                {"id": "$response.body#/task_target/name"},
            ),
        ),
    ),
}

# What scheduling a job checks: what running it checks, as its owner, and its start time.
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


_SCHEDULES: Final[dict[Handler, Operation]] = {
    scheduled_jobs.schedule_task: Operation(
        "Run a task later, once or every interval",
        answers.ScheduledJobCreated,
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
        answers.ScheduledJobList,
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
        answers.EnvironmentJobList,
        params=_schedule_list(tuple(ENVIRONMENT_SORT), "next_run_time"),
        errors=(QueryError,),
    ),
    environment_jobs.get_environment_job: Operation(
        "One scheduled job", answers.EnvironmentJob, path=JOB_ID, errors=JOB_READ_ERRORS
    ),
    environment_jobs.create_environment_job: Operation(
        "Schedule a task, a deploy or a plan, once or every interval",
        answers.ScheduledJobCreated,
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
        answers.ScheduledJobCreated,
        body=EnvironmentJobUpdate,
        models=(TaskInput, DeployInput, PlanInput),
        path=JOB_ID,
        errors=(*SCHEDULE_ERRORS, UnknownJob, DisabledScheduledJob),
        description="A new input must fit the scheduled job's type (a task's or a deploy's): "
        "one that does not is a validation-error.",
    ),
}

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


_PLANS: Final[dict[Handler, Operation]] = {
    plans.plan_run: Operation(
        "Run a Bolt YAML plan",
        answers.PlanJobName,
        (202,),
        body=PlanRunCommand,
        errors=PLAN_RUN_ERRORS,
        follow=_plan_links(),
        description=PLAN_PARAMETERS,
    ),
    plans.environment_plan_run: Operation(
        "Run a plan with parameters given as values, PQL queries or node groups",
        answers.PlanJobName,
        (202,),
        body=EnvironmentPlanRunCommand,
        errors=(*PLAN_RUN_ERRORS, QueryError, PuppetDbError, EmptyTarget),
        follow=_plan_links(),
        description=PLAN_PARAMETERS,
    ),
    plans.stop_plan: Operation(
        "Stop a plan job: no step starts after the one running",
        answers.PlanJobName,
        (202,),
        body=StopPlanCommand,
        errors=(UnknownJob, NotPermitted, Unavailable),
    ),
    plans.plan_resume: Operation(
        "Run a failed or stopped plan job again from one of its steps",
        answers.PlanJobName,
        (202,),
        body=PlanResumeCommand,
        errors=(UnknownJob, NotPermitted, Unavailable),
        description="from_step must be a step of the plan, and the plan job must have ended "
        "unsuccessfully: otherwise a validation-error.",
    ),
    plans.plan_start: Operation(
        "Bolt's start of a plan it runs itself: a plan job for its tasks to name",
        answers.PlanJobName,
        (202,),
        body=PlanStartCommand,
        errors=PLAN_RUN_ERRORS,
        follow=(Follow("finish", plans.plan_finish, body={"plan_job": PLAN_JOB}),),
        description=PLAN_PARAMETERS,
    ),
    plans.plan_finish: Operation(
        "Bolt's end of a plan it ran itself, with its result",
        answers.PlanJobName,
        (202,),
        body=PlanFinishCommand,
        errors=(UnknownJob, NotPermitted, PlanAlreadyFinished, Unavailable),
    ),
    plan_jobs.list_plans: Operation(
        "An environment's YAML plans, and whether the user may run each",
        answers.PlanList,
        params=(ENVIRONMENT,),
        errors=(UnknownEnvironment,),
    ),
    plan_jobs.get_plan: Operation(
        "One plan and its parameters (init is the module's own plan)",
        answers.Plan,
        path={"module": SEGMENT_NAME, "plan": SEGMENT_NAME},
        params=(ENVIRONMENT,),
        errors=(UnknownEnvironment, UnknownPlan),
        description="A Puppet-language plan, or one outside the subset Podium runs, is a "
        "validation-error naming it.",
    ),
    plan_jobs.list_plan_jobs: Operation(
        "Plan jobs, sorted and paged",
        answers.PlanJobList,
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
        answers.PlanJobDetail,
        path=JOB_ID,
        errors=JOB_READ_ERRORS,
    ),
    plan_jobs.plan_job_events: Operation(
        "A plan job's events from an id on; with Accept: text/event-stream, a stream of them "
        "that ends after plan_finished or plan_failed",
        answers.PlanEvents,
        path=JOB_ID,
        params=(START, LAST_EVENT_ID),
        errors=JOB_READ_ERRORS,
        events=answers.PlanEvent,
    ),
    plan_jobs.plan_job_event: Operation(
        "One event of a plan job, nothing cut",
        answers.PlanEvent,
        path={**JOB_ID, "event": ID},
        errors=(*JOB_READ_ERRORS, plan_jobs.MismatchedEvent),
    ),
}

_WEB: Final[dict[Handler, Operation]] = {
    webview.page: Operation(
        "The live web view (it signs in with a token)", str, media="text/html", public=True
    ),
    webview.asset: Operation(
        "The web view's script, style and icon",
        str,
        media=("text/javascript", "text/css", "image/svg+xml"),
        path={"name": {"enum": list(webview.ASSETS)}},
        public=True,
    ),
}

_JOBS: Final[dict[Handler, Operation]] = {
    jobs.list_jobs: Operation(
        "Jobs, filtered, sorted and paged (only the user's own without orchestrator:view:*)",
        answers.JobList,
        params=(
            LIMIT,
            OFFSET,
            ORDER,
            Param("order_by", choice(jobs.JOB_ORDER_BY), "timestamp when absent"),
            Param("type", choice(jobs.JOB_TYPES), "only jobs of this type"),
            Param("task", {"type": "string"}, "only task jobs whose task name contains it"),
            Param("min_finish_timestamp", TIME, "only jobs finished at or after it"),
            Param("max_finish_timestamp", TIME, "only jobs finished at or before it"),
        ),
        description="task with type=deploy is a validation-error (no deploy runs a task).",
        follow=(Follow("first", jobs.get_job, {"id": "$response.body#/items/0/name"}),),
    ),
    jobs.get_job: Operation(
        "One job, its node counts and its status history (as of an event, with as_of)",
        answers.Job,
        path=JOB_ID,
        params=(AS_OF,),
        errors=JOB_READ_ERRORS,
        description=AS_OF_PAST,
    ),
    jobs.job_nodes: Operation(
        "A job's nodes with their states and results (as of an event, with as_of)",
        answers.NodeList,
        path=JOB_ID,
        description=AS_OF_PAST,
        params=(
            AS_OF,
            LIMIT,
            OFFSET,
            ORDER,
            Param("order_by", choice(jobs.NODE_ORDER_BY), "name when absent"),
            Param("state", choice(state.value for state in NodeState), "only nodes in it"),
        ),
        errors=JOB_READ_ERRORS,
    ),
    jobs.job_report: Operation(
        "Per node of a job: its state and its events",
        answers.Report,
        path=JOB_ID,
        errors=JOB_READ_ERRORS,
    ),
    jobs.job_events: Operation(
        "A job's events from an id on; with Accept: text/event-stream, a stream of them that "
        "ends after job_finished",
        answers.JobEvents,
        path=JOB_ID,
        params=(START, LAST_EVENT_ID),
        errors=JOB_READ_ERRORS,
        events=answers.JobEvent,
    ),
    events.all_events: Operation(
        "Every job's events (the user's own jobs only without orchestrator:view:*): pages of "
        "JSON from an id on, or with Accept: text/event-stream a stream as they happen",
        answers.GlobalEvents,
        params=(
            Param("job", {"type": "string"}, "only this job's events"),
            Param("type", {"type": "string"}, "only events of this type"),
            START,
            Param("limit", {"type": "integer", "minimum": 1}, "at most this many (a page)"),
            LAST_EVENT_ID,
        ),
        events=answers.GlobalEvent,
    ),
    diff.diff_jobs: Operation(
        "How two runs of one kind of job differ, node by node",
        answers.JobDiff,
        path={"a": ID, "b": ID},
        errors=JOB_READ_ERRORS,
        description="Jobs of different kinds (a task and a deploy) are a validation-error.",
    ),
    usage.usage: Operation(
        "Per day, the nodes run and their runs (the user's own without orchestrator:view:*)",
        answers.Usage,
        params=(
            Param("start_date", {"type": "string", "format": "date"}, "30 days back by default"),
            Param("end_date", {"type": "string", "format": "date"}, "today by default"),
            Param("events", choice(("include", "exclude")), "exclude leaves out each run"),
        ),
        description=f"end_date before start_date, or a window over {usage.MAX_DAYS} days, is a "
        "validation-error.",
    ),
}

_READS: Final[dict[Handler, Operation]] = {
    status.root: Operation("What the API offers, with links", answers.Root),
    docs.openapi_json: Operation("This document", answers.Document, public=True),
    docs.docs_page: Operation(
        "This document as a page for people", str, media="text/html", public=True
    ),
    orchestrator_status: Operation(
        "The orchestrator service's status (503 while it is not running)",
        answers.ServiceStatus,
        (200, 503),
    ),
    environments.list_environments: Operation(
        "The environments Podium can run code from", answers.EnvironmentList
    ),
    environments.get_environment: Operation(
        "One environment",
        answers.EnvironmentItem,
        path={"name": ENVIRONMENT_SCHEMA},
        errors=(UnknownEnvironment,),
    ),
    task_targets.list_task_targets: Operation("Every task-target", answers.TaskTargetList),
    task_targets.get_task_target: Operation(
        "One task-target",
        answers.TaskTarget,
        path={"id": ID},
        errors=(UnknownTaskTarget,),
    ),
    metrics: Operation(
        "Counters and gauges in the Prometheus text format", str, media="text/plain"
    ),
    tasks.list_tasks: Operation(
        "An environment's tasks (private ones left out)",
        answers.TaskList,
        params=(ENVIRONMENT,),
        errors=(UnknownEnvironment,),
    ),
    tasks.get_task: Operation(
        "One task: its metadata and files (init is the module's default task)",
        answers.TaskDetail,
        path={"module": SEGMENT_NAME, "task": SEGMENT_NAME},
        params=(ENVIRONMENT,),
        errors=(UnknownEnvironment, UnknownTask),
    ),
    inventory.list_inventory: Operation(
        "Every node of the inventory and whether it is connected", answers.InventoryList
    ),
    inventory.query_inventory: Operation(
        "Whether each of the nodes is connected, in the order asked",
        answers.InventoryList,
        body=InventoryQuery,
    ),
    inventory.reload_inventory: Operation(
        "Read the inventory and node-groups files again (inventory:reload:*)",
        answers.InventoryReloaded,
        errors=(NotPermitted, InventoryInvalid),
    ),
    inventory.get_node: Operation(
        "One node: connected or not, with its facts for a user who may view node data",
        answers.InventoryItem,
        path={"node": {"type": "string", "pattern": "^[^\\s,/]+$"}},
    ),
    inventory.list_node_groups: Operation(
        "The classifier node groups in force", answers.NodeGroupList
    ),
}

_HEALTH: Final[dict[Handler, Operation]] = {
    services: Operation(
        "Every service's status (503 while one is not running)",
        answers.Services,
        (200, 503),
        params=(LEVEL,),
        public=True,
    ),
    service: Operation(
        "One service's status (503 while it is not running)",
        answers.ServiceStatus,
        (200, 503),
        path={"name": {"enum": ["orchestrator-service"]}},
        params=(LEVEL,),
        errors=(NotFound,),
        public=True,
    ),
    simple: Operation(
        "running, starting or error, as text (503 unless running)",
        str,
        (200, 503),
        media="text/plain",
        public=True,
    ),
}

_USER_LINKS: Final = (
    Follow("disable", admin.disable_user, {"login": "$response.body#/login"}),
    Follow("token", admin.issue_token, body={"user": "$response.body#/login"}),
)
_ROLE_LINKS: Final = tuple(
    Follow(name, handler, {"name": "$response.body#/name"})
    for name, handler in (
        ("grant", admin.grant),
        ("revoke", admin.revoke),
        ("assign", admin.assign),
    )
)
_ADMIN: Final[dict[Handler, Operation]] = {
    admin.list_users: Operation("Every user (users:edit:*)", answers.UserList, errors=ADMIN_ERRORS),
    admin.create_user: Operation(
        "Make a user (users:edit:*)",
        answers.User,
        (201,),
        body=admin.NewUser,
        errors=(NotPermitted, Conflict, Unavailable),
        follow=_USER_LINKS,
    ),
    admin.disable_user: Operation(
        "Disable a user: its tokens stop working (users:edit:*)",
        answers.User,
        path={"login": NAME},
        errors=(NotPermitted, UnknownIdentity, Conflict, Unavailable),
    ),
    admin.list_roles: Operation("Every role (users:edit:*)", answers.RoleList, errors=ADMIN_ERRORS),
    admin.create_role: Operation(
        "Make a role with permissions (users:edit:*)",
        answers.Role,
        (201,),
        body=admin.NewRole,
        errors=(NotPermitted, Conflict, Unavailable),
        follow=_ROLE_LINKS,
    ),
    admin.grant: Operation(
        "Grant a role permissions (users:edit:*)",
        answers.Role,
        body=admin.Permissions,
        path={"name": NAME},
        errors=(NotPermitted, UnknownIdentity, Unavailable),
    ),
    admin.revoke: Operation(
        "Take permissions from a role; the admin role keeps all of them (users:edit:*)",
        answers.Role,
        body=admin.Permissions,
        path={"name": NAME},
        errors=(NotPermitted, UnknownIdentity, Conflict, Unavailable),
    ),
    admin.assign: Operation(
        "Add users to a role (users:edit:*)",
        answers.Role,
        body=admin.Members,
        path={"name": NAME},
        errors=(NotPermitted, UnknownIdentity, Unavailable),
    ),
    admin.list_tokens: Operation(
        "Every token, by id, never the token itself (tokens:issue:*)",
        answers.TokenList,
        errors=ADMIN_ERRORS,
    ),
    admin.issue_token: Operation(
        "Issue a token for a user: the answer is the only place it is shown (tokens:issue:*)",
        answers.IssuedToken,
        (201,),
        body=admin.NewToken,
        errors=(NotPermitted, UnknownIdentity, Conflict, Unavailable),
        follow=(Follow("revoke", admin.revoke_token, {"id": "$response.body#/id"}),),
    ),
    admin.revoke_token: Operation(
        "Revoke a token by its id (tokens:issue:*)",
        answers.Token,
        path={"id": {"type": "string", "pattern": "^[0-9a-f]{12}$"}},
        errors=(NotPermitted, UnknownIdentity, Unavailable),
    ),
}

OPERATIONS: Final[dict[Handler, Operation]] = {
    **_COMMANDS,
    **_SCHEDULES,
    **_PLANS,
    **_WEB,
    **_JOBS,
    **_READS,
    **_HEALTH,
    **_ADMIN,
}
