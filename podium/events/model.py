"""The events on the log: frozen, tagged msgspec Structs joined in one union.

Rules for changing them (old logs must keep decoding): a new field gets a default and goes at the
end; a field's type never changes; a tag is never reused for another shape. A change these rules
do not allow makes a new shape under a new tag, and the old one moves to `legacy`, where the
codec turns it into the new one as it decodes: the fold only ever sees current shapes.

Every event carries the producer (`origin`) and that producer's sequence number (`seq`):
together they are the event's unique id, which the fold uses to drop the copies a retried append
can leave. Both are stamped by `Producer` when the event is appended, so code that builds events
leaves them at their defaults.

Events are encoded as arrays (`array_like`), so field order is the wire format. Every class is
`kw_only`, which keeps the base fields first and each class's own fields in definition order:
that is what makes "append new fields at the end" safe.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

import msgspec

from podium.events.jobspec import JobSpec, ScheduledSpec
from podium.jsontypes import Json


class JobState(StrEnum):
    NEW = "new"
    READY = "ready"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"
    FINISHED = "finished"
    FAILED = "failed"


class NodeState(StrEnum):
    NEW = "new"
    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"
    ERRORED = "errored"
    SKIPPED = "skipped"


JOB_TERMINAL: Final = frozenset({JobState.FINISHED, JobState.FAILED, JobState.STOPPED})
NODE_TERMINAL: Final = frozenset(
    {NodeState.FINISHED, NodeState.FAILED, NodeState.ERRORED, NodeState.SKIPPED}
)


class Target(msgspec.Struct, frozen=True, array_like=True):
    """Nodes that share one transport, its settings and their features (from the inventory)."""

    transport: str
    config: dict[str, Json]
    nodes: list[str]
    features: list[str] = []


class Component(msgspec.Struct, frozen=True, array_like=True):
    """Nodes that start only once every component named in `requires` has finished successfully
    (application deploys). A job's components hold disjoint sets of nodes."""

    name: str
    nodes: list[str]
    requires: list[str] = []


class EventBase(
    msgspec.Struct, frozen=True, array_like=True, tag_field="type", kw_only=True, gc=False
):
    """Fields every event has. `at` is seconds since the epoch, UTC, taken at the edge."""

    at: float
    origin: str = ""
    seq: int = 0


class Permission(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """A Puppet RBAC permission: what it applies to (`tasks`), the action (`run`) and the
    instance (a task name, a task-target or node-group id, or `*` for every instance)."""

    object_type: str
    action: str
    instance: str = "*"

    def __str__(self) -> str:
        return f"{self.object_type}:{self.action}:{self.instance}"


class TokenIssued(EventBase, tag="token_issued", frozen=True, kw_only=True):
    """A bearer token now authenticates `login`. Only the SHA-256 of the token is kept.

    `first_start`: the admin token an api makes on an empty log. Only the first such token
    counts (the fold ignores one that comes when the log has a token already), so api replicas
    starting together end with one admin token. `token_id` names the token in lists and
    revocations (never the token itself); `expires_at` is when it stops working (None: never,
    as for the first start's); `by` is the user who issued it ("" for the first start)."""

    token_sha256: str
    user_id: str
    login: str
    first_start: bool = False
    token_id: str = ""
    expires_at: float | None = None
    label: str = ""
    by: str = ""


class TokenRevoked(EventBase, tag="token_revoked", frozen=True, kw_only=True):
    """The token stops working at once, on every api replica, and for good."""

    token_sha256: str
    by: str = ""


class UserCreated(EventBase, tag="user_created", frozen=True, kw_only=True):
    """A user with a unique `login`; the first creation of a login wins over any later one."""

    user_id: str
    login: str
    display_name: str = ""
    email: str = ""
    by: str = ""


class UserDisabled(EventBase, tag="user_disabled", frozen=True, kw_only=True):
    """Every token of the user stops working; the user's jobs stay readable."""

    user_id: str
    by: str = ""


class RoleCreated(EventBase, tag="role_created", frozen=True, kw_only=True):
    """A role with a unique `name`; the fold numbers roles by counting them."""

    name: str
    description: str = ""
    by: str = ""


class PermissionGranted(EventBase, tag="permission_granted", frozen=True, kw_only=True):
    role: str
    permission: Permission
    by: str = ""


class PermissionRevoked(EventBase, tag="permission_revoked", frozen=True, kw_only=True):
    role: str
    permission: Permission
    by: str = ""


class UserAddedToRole(EventBase, tag="user_added_to_role", frozen=True, kw_only=True):
    user_id: str
    role: str
    by: str = ""


class TaskTargetCreated(EventBase, tag="task_target_created", frozen=True, kw_only=True):
    """A task-target: the tasks (or all, with `all_tasks`) a role may grant on the nodes named,
    the members of the node groups and the results of the PQL query. Named by counting."""

    request_id: str
    display_name: str
    tasks: list[str]
    all_tasks: bool
    nodes: list[str]
    node_groups: list[str]
    pql_query: str | None = None
    by: str = ""


class JobRequested(EventBase, tag="job_requested.v2", frozen=True, kw_only=True):
    """A command was accepted; the fold names the job by counting these.

    `spec` is what the job runs, as the command asked (kind, environment, options), and `owner`
    the id of the user who asked. `targets` is the resolved scope: every node with its transport
    settings, so that the job can be run again from the log alone. `nodes` keeps the scope's
    order. `components` orders an application deploy (nodes in no component start at once).
    `refused` names nodes that end `errored` without running, with the reason (e.g. they are
    in another environment). `granted_by` names the permissions that let the owner run it on
    `nodes`, and `excluded` the nodes of a node-group or query scope the owner may not run it
    on (left out). Logs written before the typed spec hold `JobRequestedV1`.
    """

    request_id: str
    owner: str
    spec: JobSpec
    nodes: list[str]
    targets: list[Target]
    components: list[Component] = []
    refused: dict[str, str] = {}
    granted_by: list[str] = []
    excluded: list[str] = []


class JobReady(EventBase, tag="job_ready", frozen=True, kw_only=True):
    job: str


class NodeRunDispatched(EventBase, tag="node_run_dispatched", frozen=True, kw_only=True):
    """The scheduler queued a run. `attempt` grows when a lost deploy run is dispatched again."""

    job: str
    node: str
    attempt: int


class NodeRunStarted(EventBase, tag="node_run_started", frozen=True, kw_only=True):
    job: str
    node: str
    attempt: int
    executor: str


class NodeRunFinished(EventBase, tag="node_run_finished.v2", frozen=True, kw_only=True):
    """A run ended (or, for `skipped`, never began). The first terminal status of a node wins.
    `reached` says whether the run got to its node: None when nothing tells (a skip, a forced
    stop, a lost executor). Logs written before it hold `NodeRunFinishedV1`."""

    job: str
    node: str
    attempt: int
    state: NodeState  # one of NODE_TERMINAL
    result: Json = None
    message: str = ""
    reached: bool | None = None


class JobStopRequested(EventBase, tag="job_stop_requested", frozen=True, kw_only=True):
    """`by`: the user who asked ("" in logs written before it was recorded)."""

    job: str
    force: bool = False
    by: str = ""


class JobStopping(EventBase, tag="job_stopping", frozen=True, kw_only=True):
    job: str


class JobAborted(EventBase, tag="job_aborted", frozen=True, kw_only=True):
    job: str
    reason: str


class JobFinished(EventBase, tag="job_finished", frozen=True, kw_only=True):
    """Always the last event of a job; `state` is its final state."""

    job: str
    state: JobState  # one of JOB_TERMINAL


class ExecutorLost(EventBase, tag="executor_lost", frozen=True, kw_only=True):
    """The scheduler's verdict on an executor whose heartbeats stopped; its runs are settled."""

    executor: str


class WorkQueued(EventBase, tag="work_queued", frozen=True, kw_only=True):
    """The work of every run dispatched at or before log position `through` is on the work
    queue. A scheduler taking over queues again only what was dispatched after it."""

    through: int


class ScheduleCreated(EventBase, tag="schedule_created", frozen=True, kw_only=True):
    """A scheduled job: run `spec` as `owner` at `start` (seconds since the epoch, UTC), then
    every `interval_s` seconds when given. The fold names schedules by counting these.
    `api` says which API made it: `task` (`/command/schedule_task`, listed by
    `/scheduled_jobs`) or `environment` (`/scheduled_jobs/environment_jobs`)."""

    request_id: str
    owner: str
    spec: ScheduledSpec
    start: float
    interval_s: int | None = None
    api: str = "task"


class ScheduleChanged(EventBase, tag="schedule_changed", frozen=True, kw_only=True):
    """The whole new definition of a schedule (a PUT replaces what it gives, the api merges);
    `enabled` false is the soft delete: a disabled schedule never fires again."""

    schedule: str
    spec: ScheduledSpec
    start: float
    interval_s: int | None
    enabled: bool
    by: str = ""


class ScheduleFired(EventBase, tag="schedule_fired", frozen=True, kw_only=True):
    """The leading scheduler fired the occurrence at `occurrence` (its time by the schedule,
    not the time it fired). Keyed by that time: a second firing of an occurrence the schedule
    has already passed folds to nothing. The api makes the job, as the owner, with the request
    id `fired_request_id(schedule, occurrence)`."""

    schedule: str
    occurrence: float


class ScheduleMissed(EventBase, tag="schedule_missed", frozen=True, kw_only=True):
    """Occurrences that fell while no scheduler ran (`count` of them, `first` to `last`): they
    do not run, the one after them fires once in their place."""

    schedule: str
    first: float
    last: float
    count: int


class ScheduleSkipped(EventBase, tag="schedule_skipped", frozen=True, kw_only=True):
    """The occurrence did not run because the schedule's previous run had not ended."""

    schedule: str
    occurrence: float
    previous_job: str | None = None


class ScheduleRunRefused(EventBase, tag="schedule_run_refused", frozen=True, kw_only=True):
    """The api could not make the fired occurrence's job (environment gone, empty target,
    permission revoked, ...): the error is its `last_run`, and the schedule goes on."""

    schedule: str
    occurrence: float
    kind: str
    msg: str
    details: dict[str, Json] = {}


ScheduleEvent = (
    ScheduleCreated
    | ScheduleChanged
    | ScheduleFired
    | ScheduleMissed
    | ScheduleSkipped
    | ScheduleRunRefused
)
"""Scheduled jobs: made and changed by the api, fired (or missed, skipped) by the leading
scheduler, refused by the api when a fired run cannot be made."""


class PlanJobRequested(EventBase, tag="plan_job_requested", frozen=True, kw_only=True):
    """A plan run was accepted; the fold names the plan job by counting these.

    `params` are checked, with defaults applied. `sources` holds the YAML of the plan and of
    every plan it calls, `tasks` the declared parameters of every task a step runs, `files` the
    base64 content of its scripts and uploads: the run never reads the code again, so it replays
    from the log alone. `driven_by_client`: Bolt's `plan_start`, whose steps Bolt itself sends
    as tasks and which ends with `plan_finish`."""

    request_id: str
    owner: str
    plan: str
    environment: str
    params: dict[str, Json] = {}
    description: str | None = None
    userdata: dict[str, Json] = {}
    sensitive: list[str] = []
    timeout_s: int | None = None
    sources: dict[str, str] = {}
    tasks: dict[str, Json] = {}
    files: dict[str, str] = {}
    driven_by_client: bool = False
    file_modes: dict[str, int] = {}  # the permission bits of each file, as an upload keeps them
    scheduled_job_id: str | None = None  # the schedule whose fired occurrence this is


class PlanStepStarted(EventBase, tag="plan_step_started", frozen=True, kw_only=True):
    """A step of a plan job began, in the job's `attempt` (1, then one more per resume). `step`
    is its path: `2`, or `3.1` for the first step of the plan that step 3 calls. A step that
    runs on nodes comes in the same batch as its job's `JobRequested` (`job_request`)."""

    plan_job: str
    step: str
    attempt: int
    action: str
    object: str = ""  # the task, the plan called, or the command
    job_request: str = ""
    message: str = ""  # a message step's text


class PlanStepFinished(EventBase, tag="plan_step_finished", frozen=True, kw_only=True):
    """A step ended: `result` is its value (a ResultSet's JSON for steps on nodes)."""

    plan_job: str
    step: str
    attempt: int
    ok: bool
    result: Json = None


class PlanStopRequested(EventBase, tag="plan_stop_requested", frozen=True, kw_only=True):
    plan_job: str
    by: str = ""


class PlanResumed(EventBase, tag="plan_resumed", frozen=True, kw_only=True):
    """A failed plan job runs again from top-level step `from_step`; the steps before it keep
    the results the log has for them."""

    plan_job: str
    from_step: int
    by: str = ""
    # The plan job as the api read it (msgpack of `PlanJob`): a process that has archived or
    # forgotten it since it ended takes it back from here (podium.history).
    plan: bytes = b""


class PlanFinished(EventBase, tag="plan_finished", frozen=True, kw_only=True):
    """Always the last event of a plan job's run: its return value, or its error."""

    plan_job: str
    attempt: int
    ok: bool
    result: Json = None


PlanEvent = (
    PlanJobRequested
    | PlanStepStarted
    | PlanStepFinished
    | PlanStopRequested
    | PlanResumed
    | PlanFinished
)
"""What plan jobs do: requested, each step's start and end, stops, resumes, the end."""


class JobsPruned(EventBase, tag="jobs_pruned", frozen=True, kw_only=True):
    """Retention: every job that ended before `before` (seconds since the epoch) is forgotten,
    with its nodes and events. Names and event ids are never given again."""

    before: float


class ProducerFenced(EventBase, tag="producer_fenced", frozen=True, kw_only=True):
    """Its producer's mark passes every event it stamped before: a copy of one of them that
    lands later (an append given up on, whose bytes were still on their way) is dropped by
    every fold. The api appends one before it answers 503 to a command in doubt."""


IdentityEvent = (
    TokenIssued
    | TokenRevoked
    | UserCreated
    | UserDisabled
    | RoleCreated
    | PermissionGranted
    | PermissionRevoked
    | UserAddedToRole
    | TaskTargetCreated
)
"""Who may do what: users, roles, their permissions, tokens and task-targets."""

Event = (
    IdentityEvent
    | ScheduleEvent
    | JobRequested
    | JobReady
    | NodeRunDispatched
    | NodeRunStarted
    | NodeRunFinished
    | JobStopRequested
    | JobStopping
    | JobAborted
    | JobFinished
    | ExecutorLost
    | WorkQueued
    | PlanEvent
    | JobsPruned
    | ProducerFenced
)
