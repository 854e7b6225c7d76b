"""The shapes of the api's answers, as msgspec Structs: what the OpenAPI document says each
endpoint returns (scheduled jobs' and plans' in `schedule_answers` and `plan_answers`). The views
build plain dicts (views.py, jobs.py, admin.py ...); these models describe them, and the
schemathesis test holds the two together by validating every answer of a live server against
the schemas made from here. Keys a view leaves out when empty have defaults; clients ignore keys
they do not know, so no model forbids extra ones."""

from __future__ import annotations

from typing import Literal

from msgspec import Struct, field

from podium.jsontypes import Json

JobState = Literal["new", "ready", "running", "stopping", "stopped", "finished", "failed"]
NodeState = Literal["new", "running", "finished", "failed", "errored", "skipped"]
Timestamp = str  # ISO-8601 UTC, whole seconds, ending in Z


class Error(Struct):
    """Every error: `kind` says what went wrong for programs, `msg` for people, and `details`
    carries the offending values (for a validation-error, `errors`: each field and why)."""

    kind: str
    msg: str
    details: dict[str, Json]


class Link(Struct):
    """A link to a resource: its absolute URL."""

    id: str


class Named(Struct):
    """A resource's link and its name (a decimal integer as a string)."""

    id: str
    name: str


class JobCreated(Struct):
    """The answer to a command that made a job: the job is on the log and can be read now."""

    job: Named


class StoppedJob(Struct):
    id: str
    name: str
    nodes: dict[NodeState, int]


class StopAnswer(Struct):
    """The job and its node counts (every node state, zeros included) when the stop was taken."""

    job: StoppedJob


class TaskTargetCreated(Struct):
    task_target: Named


class EnvironmentName(Struct):
    name: str
    code_id: None = None


class EnvironmentRef(Struct):
    name: str


class StatusEntry(Struct):
    state: JobState
    enter_time: Timestamp | None
    exit_time: Timestamp | None


class Owner(Struct):
    """The orchestrator's user object."""

    id: str
    login: str
    display_name: str
    email: str
    is_revoked: bool
    is_superuser: bool
    is_remote: bool
    is_group: bool
    role_ids: list[int]
    inherited_role_ids: list[int]
    group_ids: list[str]
    last_login: Timestamp | None


class Job(Struct):
    """A job as GET /jobs lists it and GET /jobs/{id} shows it."""

    id: str
    name: str
    state: JobState
    command: str
    type: str
    options: dict[str, Json]
    owner: Owner
    description: str | None
    timestamp: Timestamp | None
    started_timestamp: Timestamp | None
    finished_timestamp: Timestamp | None
    duration: float | None
    environment: EnvironmentRef
    node_count: int
    node_states: dict[NodeState, int] | None
    userdata: dict[str, Json]
    nodes: Link
    report: Link
    events: Link
    status: list[StatusEntry]


class Pagination(Struct):
    """What the list was asked for, and `total`: every match before limit and offset."""

    limit: int | None
    offset: int
    order: Literal["asc", "desc"]
    order_by: str
    total: int
    type: str = ""


class JobList(Struct):
    items: list[Job]
    pagination: Pagination


class NextEvents(Struct):
    """Where to resume reading the job's events: `event` is the next id, as a string."""

    id: str
    event: str


class Node(Struct):
    """One node of a job: its state, times and (once ended) its result."""

    name: str
    state: NodeState
    transport: str | None
    start_timestamp: Timestamp | None
    finish_timestamp: Timestamp | None
    duration: float | None
    timestamp: Timestamp | None
    transaction_uuid: str | None
    latest_event_id: int | None = field(name="latest-event-id")
    details: dict[str, Json]
    result: Json


class NodeList(Struct):
    next_events: NextEvents = field(name="next-events")
    items: list[Node]
    pagination: Pagination


class JobEvent(Struct):
    """One event of a job. `id` is its log position (as a string); node events carry
    `{"node", "detail"}` in `details`, job events `{"state"}`."""

    id: str
    type: str
    timestamp: Timestamp | None
    details: dict[str, Json]
    message: str


class JobEvents(Struct):
    next_events: NextEvents = field(name="next-events")
    items: list[JobEvent]


class ReportItem(Struct):
    node: str
    state: NodeState
    timestamp: Timestamp | None
    events: list[JobEvent]


class Report(Struct):
    items: list[ReportItem]


class EnvironmentItem(Struct):
    name: str
    id: str


class EnvironmentList(Struct):
    items: list[EnvironmentItem]


class TaskList(Struct):
    environment: EnvironmentName
    items: list[Named]


class FileUri(Struct):
    path: str
    params: dict[str, str]


class TaskFile(Struct):
    filename: str
    uri: FileUri
    sha256: str
    size_bytes: int


class TaskDetail(Struct):
    """A task's metadata as its JSON file has it, and each of its files."""

    id: str
    name: str
    environment: EnvironmentName
    metadata: dict[str, Json]
    files: list[TaskFile]


class InventoryItem(Struct):
    """Whether the node is connected; `broker` and `timestamp` only when it is, `facts` only
    on GET /inventory/{node} and for a user who may view node data."""

    name: str
    connected: bool
    broker: str | None = None
    timestamp: Timestamp | None = None
    facts: dict[str, Json] | None = None


class InventoryList(Struct):
    items: list[InventoryItem]


class InventoryCount(Struct):
    nodes: int
    loaded: Timestamp | None


class GroupCount(Struct):
    groups: int


class InventoryReloaded(Struct):
    inventory: InventoryCount
    node_groups: GroupCount


class NodeGroup(Struct):
    id: str
    name: str
    parent: str
    environment: str
    description: str
    rule: Json
    rule_with_inherited: Json


class NodeGroupList(Struct):
    items: list[NodeGroup]


class TaskTarget(Struct):
    """`tasks` is left out with `all_tasks`, `pql_query` when none was given."""

    id: str
    name: str
    display_name: str
    all_tasks: bool
    nodes: list[str]
    node_groups: list[str]
    tasks: list[str] | None = None
    pql_query: str | None = None


class TaskTargetList(Struct):
    items: list[TaskTarget]


class Root(Struct):
    """What the API offers, with links."""

    info: dict[str, Json]
    status: Named
    collections: list[Named]
    commands: list[Named]


class ServiceStatus(Struct):
    """The trapperkeeper status of the service; `state` is running, starting or error."""

    service_version: str
    service_status_version: int
    detail_level: str
    state: Literal["running", "starting", "error"]
    status: dict[str, Json]
    active_alerts: list[Json]


class User(Owner):
    """A user as the admin endpoints show it: the orchestrator's user object and its roles."""

    roles: list[str]


class UserList(Struct):
    items: list[User]


class Role(Struct):
    id: int
    name: str
    description: str
    permissions: list[str]
    users: list[str]


class RoleList(Struct):
    items: list[Role]


class Token(Struct):
    """A token by its id (null for the admin token of the first start); never the token."""

    id: str | None
    user: str
    label: str
    issued: Timestamp | None
    expires: Timestamp | None
    revoked: Timestamp | None


class TokenList(Struct):
    items: list[Token]


class IssuedToken(Token):
    """The token itself is in this answer only."""

    token: str


class Services(Struct):
    orchestrator_service: ServiceStatus = field(name="orchestrator-service")


class GlobalEvent(JobEvent, kw_only=True):
    """A job event as the global /events serves it: naming its job."""

    job: Named


class GlobalEvents(Struct):
    next_events: NextEvents = field(name="next-events")
    items: list[GlobalEvent]


class DiffCounts(Struct):
    same: int
    differ: int
    only_a: int
    only_b: int


class NodeDifference(Struct):
    """A node whose outcome differs, or that only one job ran (its side null)."""

    node: str
    difference: Literal["differ", "only_a", "only_b"]
    fields: list[str]
    a: dict[str, Json] | None
    b: dict[str, Json] | None


class JobDiff(Struct):
    a: Named
    b: Named
    type: str
    counts: DiffCounts
    items: list[NodeDifference]


class UsageWindow(Struct):
    """The dates as asked for (null when not given)."""

    start_date: str | None
    end_date: str | None


class Usage(Struct):
    """Per day, newest first: the nodes run and their runs."""

    items: list[dict[str, Json]]
    pagination: UsageWindow


class Who(Struct):
    id: str
    login: str


class AuditEntry(Struct):
    """An event a person caused, the log record holding it and that record's chain hash (on
    RabbitMQ, the chain of the producer named)."""

    id: str
    type: str
    timestamp: str | None
    user: Who | None
    details: dict[str, Json]
    record: int
    chain: str | None
    producer: str | None


class AuditPage(Struct):
    event: str
    id: str


class AuditLog(Struct):
    """The last record the answer covered, and its chain hash."""

    event: int
    record: int | None
    chain: str | None


class Audit(Struct):
    items: list[AuditEntry]
    next: AuditPage
    log: AuditLog


class Document(Struct):
    """An OpenAPI 3.1 document."""

    openapi: str
    info: dict[str, Json]
    paths: dict[str, Json]
    components: dict[str, Json]
