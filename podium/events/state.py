"""The state the fold builds: jobs, their node runs and job events, who may do what (users,
roles, tokens, task-targets), producer marks.

These are msgspec Structs so that a snapshot is one `msgspec.msgpack.encode(state)`. They are
mutable: the fold updates them in place (a long replay cannot afford a copy per event), and
everyone else only reads them.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

import msgspec

from podium.events.jobspec import JobKind, JobSpec, ScheduledSpec
from podium.events.model import JobState, NodeState, Permission, Target
from podium.jsontypes import Json


class JobEvent(msgspec.Struct, array_like=True, gc=False):
    """One event of a job as clients see it; `id` is the position of the log event behind it."""

    id: int
    type: str
    at: float
    node: str | None = None
    detail: Json = None
    message: str = ""


class StatusEntry(msgspec.Struct, array_like=True, gc=False):
    state: JobState
    enter: float
    exit: float | None = None


class NodeRun(msgspec.Struct, gc=False):
    name: str
    target: int  # index into Job.targets
    state: NodeState = NodeState.NEW
    attempt: int = 0
    dispatched: bool = False  # queued or running: counts toward concurrency until it ends
    executor: str | None = None
    started_at: float | None = None
    finished_at: float | None = None
    updated_at: float | None = None
    result: Json = None
    message: str = ""
    latest_event: int = 0
    dispatched_position: int = 0  # the log position of its latest NodeRunDispatched


class ComponentRun(msgspec.Struct, gc=False):
    """How far one component of an application deploy has come."""

    nodes: list[str]
    requires: list[str]
    dependants: list[str] = []
    unfinished: int = 0  # nodes not yet in a terminal state
    broken: bool = False  # a node ended other than `finished`: dependants never start


class Job(msgspec.Struct, gc=False):
    """A job as its events left it. `spec` is what it runs, as its command asked; `owner` is a
    user id."""

    name: str
    owner: str
    spec: JobSpec
    targets: list[Target]
    created_at: float
    created_position: int
    state: JobState
    status: list[StatusEntry]
    nodes: dict[str, NodeRun]
    undispatched: dict[str, None]
    counts: dict[NodeState, int]
    events: list[JobEvent] = []
    inflight: int = 0
    stop_requested: bool = False
    force: bool = False
    updated_at: float = 0.0
    started_at: float | None = None
    finished_at: float | None = None
    # Application deploys only (empty otherwise, so ordinary jobs pay nothing for them):
    components: dict[str, ComponentRun] = {}
    component_of: dict[str, str] = {}  # node -> the component holding it
    waiting: dict[str, None] = {}  # components whose requirements have not all succeeded yet
    doomed: dict[str, None] = {}  # waiting components that never start: a requirement failed
    refused: dict[str, str] = {}  # nodes to end errored without running, and why

    @property
    def kind(self) -> JobKind:
        return self.spec.kind

    @property
    def environment(self) -> str:
        return self.spec.environment

    def transport(self, run: NodeRun) -> str:
        return self.targets[run.target].transport


class Contact(msgspec.Struct, array_like=True, gc=False):
    """The latest run of a node over a remote transport that tells whether it reached the
    node, and when it ended."""

    reached: bool
    at: float


class User(msgspec.Struct, array_like=True, gc=False):
    """A user; `roles` names the roles it belongs to, in the order it joined them."""

    id: str
    login: str
    display_name: str = ""
    email: str = ""
    created_at: float | None = None
    disabled: bool = False
    roles: list[str] = []


class TokenRecord(msgspec.Struct, array_like=True, gc=False):
    """What the log says of a token (never the token itself: it is known by its SHA-256)."""

    user_id: str
    issued_at: float = 0.0
    token_id: str = ""
    expires_at: float | None = None
    label: str = ""
    revoked_at: float | None = None


class Role(msgspec.Struct, array_like=True, gc=False):
    """A named set of permissions; `id` counts roles from 1 in the order they were made."""

    id: int
    name: str
    description: str = ""
    permissions: list[Permission] = []


class TaskTarget(msgspec.Struct, array_like=True, gc=False):
    name: str
    display_name: str
    tasks: list[str]
    all_tasks: bool
    nodes: list[str]
    node_groups: list[str]
    pql_query: str | None = None
    created_at: float = 0.0
    owner: str = ""


class LastRun(msgspec.Struct, array_like=True, gc=False):
    """A schedule's latest fired occurrence: its job, once made, or why it could not be."""

    occurrence: float
    job: str | None = None
    error: dict[str, Json] | None = None  # {kind, msg, details}
    plan_job: str | None = None  # a plan schedule's run


class Schedule(msgspec.Struct, gc=False):
    """A scheduled job as its events left it. Occurrences up to `handled` have been fired,
    missed or skipped; `pending` is a fired occurrence whose job the api has not made yet."""

    name: str
    owner: str
    spec: ScheduledSpec
    start: float
    interval_s: int | None
    api: str
    created_at: float
    updated_at: float
    enabled: bool = True
    handled: float | None = None
    pending: float | None = None
    last_run: LastRun | None = None
    fired: int = 0
    missed: int = 0
    skipped: int = 0


class PlanState(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCESS = "success"
    FAILURE = "failure"


PLAN_TERMINAL: Final = frozenset({PlanState.SUCCESS, PlanState.FAILURE})


class StepRecord(msgspec.Struct, array_like=True, gc=False):
    """A step of the current attempt: started, and once `done`, its outcome."""

    action: str
    started_at: float
    object: str = ""
    job: str | None = None  # the job it runs on nodes
    done: bool = False
    ok: bool = False
    result: Json = None
    finished_at: float | None = None


class PlanJob(msgspec.Struct, gc=False):
    """A plan job. `steps` is keyed by step path (`2`, `3.1`) and holds the current attempt's
    records; a resume drops those of the steps it runs again."""

    name: str
    owner: str
    plan: str
    environment: str
    params: dict[str, Json]
    created_at: float
    updated_at: float
    description: str | None = None
    userdata: dict[str, Json] = {}
    sensitive: list[str] = []
    timeout_s: int | None = None
    sources: dict[str, str] = {}
    tasks: dict[str, Json] = {}
    files: dict[str, str] = {}
    file_modes: dict[str, int] = {}
    driven_by_client: bool = False
    state: PlanState = PlanState.PENDING
    attempt: int = 1
    attempt_started_at: float = 0.0  # when the current attempt began (a timeout counts from it)
    steps: dict[str, StepRecord] = {}
    jobs: list[str] = []  # the jobs it started, in order
    events: list[JobEvent] = []
    result: Json = None
    finished_at: float | None = None
    stop_requested: bool = False
    scheduled_job_id: str | None = None


class RequestMark(msgspec.Struct, array_like=True, gc=False):
    """At a pruning (`JobsPruned.at`), how many jobs and plan jobs had been requested: once a
    later pruning's horizon passes `at`, the request ids of those that are not live are
    forgotten (`State.requests` is bounded by retention, not by history)."""

    at: float
    jobs: int
    plan_jobs: int


class State(msgspec.Struct, gc=False):
    """Everything the log says, folded. `position` counts applied events: the last event's id."""

    position: int = 0
    marks: dict[str, int] = {}  # origin -> highest seq applied
    jobs: dict[str, Job] = {}
    active: dict[str, None] = {}  # jobs not yet ended, oldest first
    requests: dict[str, str] = {}  # request id -> job name
    tokens: dict[str, TokenRecord] = {}  # by the token's sha256
    users: dict[str, User] = {}  # by id
    logins: dict[str, str] = {}  # login -> user id
    roles: dict[str, Role] = {}  # by name
    task_targets: dict[str, TaskTarget] = {}  # by name ("1", "2", ...)
    task_target_requests: dict[str, str] = {}  # request id -> task-target name
    inflight: int = 0  # runs dispatched and not ended, over all jobs
    running: dict[str, dict[str, None]] = {}  # executor -> run keys it has started
    lost_executors: dict[str, float] = {}
    work_queued_through: int = 0
    contacts: dict[str, Contact] = {}  # node -> its last contact, for GET /inventory
    schedules: dict[str, Schedule] = {}  # by name ("1", "2", ...)
    schedule_requests: dict[str, str] = {}  # request id -> schedule name
    fired: dict[str, str] = {}  # request id of a fired occurrence whose job is not made -> schedule
    schedules_version: int = 0  # grows with every change to when a schedule runs next (timers)
    plan_jobs: dict[str, PlanJob] = {}  # by name ("1", "2", ...)
    plan_requests: dict[str, str] = {}  # request id -> plan job name
    active_plans: dict[str, None] = {}  # plan jobs not yet ended, oldest first
    job_count: int = 0  # jobs ever requested: the next job's name is one more, pruned or not
    pruned_before: float = 0.0  # jobs that ended before this were pruned (JobsPruned)
    began_at: float = 0.0  # the time of the first event: nothing ended before it
    plan_job_count: int = 0  # plan jobs ever requested: names go on after archiving or pruning
    request_marks: list[RequestMark] = []  # one per pruning not yet passed by a horizon

    def job(self, name: str) -> Job | None:
        return self.jobs.get(name)


# Transports whose runs go to a remote host, so that a run's end says whether the host could be
# reached; `sim` and `local` nodes are always reachable, and keeping theirs would cost for nothing.
CONTACT_TRANSPORTS: Final = frozenset({"ssh"})
RUN_KEY_SEPARATOR: Final = "/"


def run_key(job: str, node: str) -> str:
    """Job names are digits, so the first separator splits a key back into job and node."""
    return f"{job}{RUN_KEY_SEPARATOR}{node}"


def split_run_key(key: str) -> tuple[str, str]:
    job, _, node = key.partition(RUN_KEY_SEPARATOR)
    return job, node
