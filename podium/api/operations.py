"""What each handler takes and answers, for the OpenAPI document: one `Operation` per handler.

A new endpoint adds its entry here, or in its area's table (`schedule_operations`,
`plan_operations`, `admin_operations`): its body model, its answer Struct (`answers` and the
areas' `*_answers`), the ApiErrors it raises. tests/unit/test_openapi_document.py fails for a
route without one.
"""

from __future__ import annotations

from typing import Final

from podium.api import (
    answers,
    audit,
    commands,
    diff,
    docs,
    environments,
    events,
    inventory,
    jobs,
    rerun,
    status,
    task_targets,
    tasks,
    usage,
    webview,
)
from podium.api.admin_operations import ADMIN
from podium.api.bodies import (
    DeployCommand,
    InventoryQuery,
    RerunCommand,
    StopCommand,
    TaskCommand,
    TaskTargetCommand,
)
from podium.api.errors import (
    DependencyCycle,
    EmptyEnvironment,
    EmptyTarget,
    InventoryInvalid,
    NotFound,
    NotPermitted,
    PlanAlreadyFinished,
    PuppetDbError,
    QueryError,
    Unavailable,
    UnknownEnvironment,
    UnknownJob,
    UnknownTask,
    UnknownTaskTarget,
)
from podium.api.metrics import metrics
from podium.api.openapi import Follow, Handler, Operation, Param
from podium.api.operation_params import (
    AS_OF,
    AS_OF_PAST,
    ENVIRONMENT,
    ENVIRONMENT_SCHEMA,
    EVENTS_OF_THE_JOB,
    ID,
    JOB_ID,
    JOB_READ_ERRORS,
    LAST_EVENT_ID,
    LEVEL,
    LIMIT,
    OFFSET,
    ORDER,
    SEGMENT_NAME,
    START,
    TASK_PARAMETERS,
    TIME,
    choice,
)
from podium.api.plan_operations import PLANS
from podium.api.schedule_operations import SCHEDULES
from podium.events.model import NodeState
from podium.health import orchestrator_status, service, services, simple


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
    audit.audit: Operation(
        "Who did what (commands, stops, identity changes), each with its log record's chain hash",
        answers.Audit,
        params=(START, Param("limit", {"type": "integer", "minimum": 1}, "at most this many")),
        errors=(NotPermitted,),
        description="Needs orchestrator:view:*. The log is folded again from its start.",
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

OPERATIONS: Final[dict[Handler, Operation]] = {
    **_COMMANDS,
    **SCHEDULES,
    **PLANS,
    **_WEB,
    **_JOBS,
    **_READS,
    **_HEALTH,
    **ADMIN,
}
