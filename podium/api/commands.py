"""POST /command/deploy, /command/task, /command/stop: parse, check, record, answer.

A command becomes one event on the log. The answer (202) goes out only after the event is
durable and this process's projector has folded it, so the job can be read at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import msgspec
import structlog
from aiohttp import web

from podium.api.bodies import DeployCommand, StopCommand, TaskCommand, parse_body
from podium.api.errors import (
    NotPermitted,
    PlanAlreadyFinished,
    UnknownEnvironment,
    UnknownJob,
    UnknownTask,
    ValidationError,
)
from podium.api.keys import (
    CLOCK,
    ENVIRONMENTS,
    INVENTORY,
    JOBS,
    LOCAL_QUERIES,
    PLANS,
    PROJECTOR,
    PUPPETDB,
    REQUEST_IDS,
    USER,
    base_url,
)
from podium.api.permits import check_deploy, check_scope_use, permit_task
from podium.api.scopes import (
    ScopeContext,
    environment_mismatches,
    resolve_application,
    resolve_scope,
    whole_environment,
)
from podium.api.submit import submit
from podium.api.views import job_url, node_counts
from podium.applications import Applications, ApplicationsError, load_applications
from podium.environments import Environment, Environments
from podium.environments.environments import BadEnvironment, InvalidEnvironmentName
from podium.events.jobspec import DeployJob, JobOrigin, JobScope, JobSpec, TaskJob
from podium.events.model import (
    JOB_TERMINAL,
    Component,
    JobRequested,
    JobStopRequested,
)
from podium.events.state import PLAN_TERMINAL, PlanJob
from podium.inventory import Inventory
from podium.inventory.targets import targets_for
from podium.jsontypes import Json
from podium.rbac.decide import NodePermit, may_stop_job, task_grant
from podium.rbac.permissions import ORCHESTRATOR_STOP_OTHERS
from podium.tasks.catalog import Task, TaskError
from podium.tasks.names import InvalidTaskName, parse_task_name
from podium.tasks.params import Problem, check_parameters, sensitive_names

log = structlog.get_logger(__name__)


async def deploy(request: web.Request) -> web.Response:
    """POST /command/deploy"""
    command = parse_body(DeployCommand, await request.read())
    spec, job = await prepare_deploy(request.app, request[USER], command)
    return await create_job(request, spec, job)


async def prepare_deploy(
    app: web.Application, user: str, command: DeployCommand
) -> tuple[DeployJob, Planned]:
    """The checks of /command/deploy as `user`, and what the job would run on. Raises the
    ApiError the command would answer; the same for a schedule firing as its owner."""
    state = app[PROJECTOR].state
    permit = check_deploy(state, user)
    check_scope_use(state, user, command.scope)
    sources = app[INVENTORY].sources  # one snapshot for the whole command
    applications = None
    if command.environment:
        environment = find_environment(app[ENVIRONMENTS], command.environment)
        if command.scope is None or command.scope.application is not None:
            applications = find_applications(environment)  # only what needs them reads them
    context = ScopeContext(
        sources,
        app[PUPPETDB],
        command.environment,
        applications,
        queries=app[LOCAL_QUERIES],
    )
    if command.scope is not None:
        resolved = await resolve_scope(command.scope, context)
    elif command.target:
        resolved = resolve_application(command.target, context)
    else:
        resolved = whole_environment(context)
    enforce = command.enforces_environment
    refused = {}
    if enforce:
        refused = environment_mismatches(resolved.nodes, sources.inventory, command.environment)
    spec = DeployJob(
        environment=command.environment,
        scope=command.scope.job_scope() if command.scope else JobScope(),
        noop=bool(command.noop),
        concurrency=command.concurrency,
        description=command.description,
        userdata=command.userdata or {},
        no_noop=bool(command.no_noop),
        enforce_environment=enforce,
        debug=bool(command.debug),
        trace=bool(command.trace),
        evaltrace=bool(command.evaltrace),
        target=command.target,
    )
    return spec, Planned(resolved.nodes, sources.inventory, resolved.components, refused, permit)


async def task(request: web.Request) -> web.Response:
    """POST /command/task"""
    command = parse_body(TaskCommand, await request.read())
    spec, job = await prepare_task(request.app, request[USER], command)
    return await create_job(request, spec, job)


async def prepare_task(
    app: web.Application, user: str, command: TaskCommand
) -> tuple[TaskJob, Planned]:
    """The checks of /command/task as `user`, and the nodes the job would run on. Raises the
    ApiError the command would answer; the same for a schedule, when made and when it fires."""
    environment = find_environment(app[ENVIRONMENTS], command.environment or "production")
    found = find_task(environment, command.task)
    if command.noop and not found.metadata.supports_noop:
        raise ValidationError(f"Task {found.name.full} does not support noop", task=found.name.full)
    params, sensitive = checked_params(found, command.params)
    _check_encodable(params, "params")
    if command.scope.application is not None:
        raise ValidationError("Application scopes are not allowed for task jobs", field="scope")
    state = app[PROJECTOR].state
    origin = (
        JobOrigin()
        if command.plan_job is None
        else plan_origin(user, command.plan_job, await app[PLANS].plan(str(command.plan_job)))
    )
    grant = task_grant(state, user, found.name.full)
    if not grant.anything:  # before resolving anything
        raise NotPermitted(f"You are not permitted to run task {found.name.full}")
    check_scope_use(state, user, command.scope)
    sources = app[INVENTORY].sources
    context = ScopeContext(sources, app[PUPPETDB], environment.name, queries=app[LOCAL_QUERIES])
    resolved = await resolve_scope(command.scope, context)
    permit = await permit_task(
        state, user, found.name.full, resolved.nodes, command.scope, context, grant
    )
    spec = TaskJob(
        environment=environment.name,
        scope=command.scope.job_scope(),
        noop=bool(command.noop),
        concurrency=command.concurrency,
        description=command.description,
        userdata=command.userdata or {},
        task=found.name.full,
        params=params,
        sensitive=sensitive,
        timeout_s=command.timeout,
        origin=origin,
    )
    return spec, Planned(permit.permitted, sources.inventory, permit=permit)


async def stop(request: web.Request) -> web.Response:
    """POST /command/stop: record the request; the scheduler does the stopping."""
    command = parse_body(StopCommand, await request.read())
    name = command.job_name
    projector = request.app[PROJECTOR]
    job = await request.app[JOBS].head(name)
    if job is None:
        raise UnknownJob(f"No job named {name}", job=name)
    if not may_stop_job(projector.state, request[USER], job.owner):
        raise NotPermitted(
            f"You are not permitted to stop job {name}: it is another user's, and stopping "
            f"others' jobs needs the permission {ORCHESTRATOR_STOP_OTHERS}",
            job=name,
        )
    if job.state not in JOB_TERMINAL:  # stopping an ended job changes nothing
        event = JobStopRequested(
            at=request.app[CLOCK](), job=name, force=bool(command.force), by=request[USER]
        )
        await submit(request, event)
        log.info("job stop requested", job_id=name, force=event.force, user=request[USER])
    url = job_url(base_url(request), name)
    return web.json_response(
        {"job": {"id": url, "name": name, "nodes": node_counts(job)}}, status=202
    )


def plan_origin(user: str, plan_job: str | int, plan: PlanJob | None) -> JobOrigin:
    """A task Bolt sends for one of its plan jobs (`plan`, None when there is none): that plan
    job must be the user's and live. Raises UnknownJob, NotPermitted, or PlanAlreadyFinished
    (Bolt starts a plan job again)."""
    name = str(plan_job)
    if plan is None:
        raise UnknownJob(f"No plan job named {name}", plan_job=name)
    if plan.owner != user:
        raise NotPermitted(f"Plan job {name} is another user's", plan_job=name)
    if plan.state in PLAN_TERMINAL:
        raise PlanAlreadyFinished(
            f"Plan job {name} has finished ({plan.state.value})", plan_job=name
        )
    return JobOrigin(plan_job=name)


def find_environment(environments: Environments, name: str) -> Environment:
    """Raises ValidationError for a malformed name, UnknownEnvironment for a missing one."""
    try:
        environment = environments.get(name)
    except InvalidEnvironmentName as exc:
        raise ValidationError(str(exc), environment=name) from exc
    except BadEnvironment as exc:
        raise ValidationError(f"Environment {name} is misconfigured: {exc}") from exc
    if environment is None:
        raise UnknownEnvironment(f"Unknown environment {name}", environment=name)
    return environment


def find_task(environment: Environment, name: str) -> Task:
    try:
        found = environment.task(parse_task_name(name))
    except InvalidTaskName as exc:
        raise ValidationError(str(exc), task=name) from exc
    except TaskError as exc:
        raise ValidationError(f"Task {name} cannot be used: {exc}", task=name) from exc
    if found is None:
        raise UnknownTask(
            f"Unknown task {name} in environment {environment.name}",
            task=name,
            environment=environment.name,
        )
    return found


def checked_params(task: Task, given: dict[str, Json]) -> tuple[dict[str, Json], list[str]]:
    """The parameters with defaults applied, and the names of the sensitive ones. Raises one
    ValidationError listing every bad parameter with the type it expects."""
    try:
        declared = task.parameters()
    except TaskError as exc:
        raise ValidationError(f"Task {task.name.full} cannot be used: {exc}") from exc
    params, problems = check_parameters(declared, given)
    if problems:
        raise parameter_error(f"Task {task.name.full}", problems, task=task.name.full)
    return params, sensitive_names(declared)


def parameter_error(subject: str, problems: list[Problem], **details: Json) -> ValidationError:
    """One error listing every bad parameter with the type it expects."""
    return ValidationError(
        f"{subject} has invalid parameters: " + "; ".join(p.message for p in problems),
        **details,
        errors=[
            {
                "field": f"params.{problem.parameter}",
                "parameter": problem.parameter,
                "expected": problem.expected,
                "message": problem.message,
            }
            for problem in problems
        ],
    )


def find_applications(environment: Environment) -> Applications:
    """Raises ValidationError for an applications file that cannot be used."""
    try:
        return load_applications(environment.path)
    except ApplicationsError as exc:
        raise ValidationError(
            f"Environment {environment.name} is misconfigured: {exc}",
            environment=environment.name,
        ) from exc


@dataclass(frozen=True, slots=True)
class Planned:
    """What a command resolved to, from one inventory snapshot."""

    nodes: list[str]
    inventory: Inventory
    components: list[Component] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)
    permit: NodePermit = field(default_factory=lambda: NodePermit([], []))


def _check_encodable(value: Json, field: str) -> None:
    """The log holds integers of up to 64 bits; JSON allows more."""
    try:
        msgspec.msgpack.encode(value)
    except OverflowError as exc:
        raise ValidationError(f"{field}: integers must fit in 64 bits", field=field) from exc


def job_requested(
    spec: JobSpec, job: Planned, owner: str, request_id: str, at: float
) -> JobRequested:
    """The event that makes the job. Raises ValidationError for what the log cannot hold."""
    _check_encodable(spec.scope, "scope")  # a query may hold integers the log cannot
    _check_encodable(spec.userdata, "userdata")
    return JobRequested(
        at=at,
        request_id=request_id,
        owner=owner,
        spec=spec,
        nodes=job.nodes,
        targets=targets_for(job.nodes, job.inventory),
        components=job.components,
        refused=job.refused,
        granted_by=job.permit.granted_by,
        excluded=job.permit.refused,
    )


async def create_job(request: web.Request, spec: JobSpec, job: Planned) -> web.Response:
    """Record the job and answer 202 with its name, once this process has folded it."""
    ids = request.app[REQUEST_IDS]
    event = job_requested(spec, job, request[USER], next(ids), request.app[CLOCK]())
    await submit(request, event)
    name = request.app[PROJECTOR].state.requests[event.request_id]
    log.info("job requested", job_id=name, kind=spec.kind, nodes=len(job.nodes), user=request[USER])
    url = job_url(base_url(request), name)
    return web.json_response({"job": {"id": url, "name": name}}, status=202)
