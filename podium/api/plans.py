"""The plan commands: `plan_run` (and `environment_plan_run`), `stop_plan`, `plan_resume`
(Podium's), and the two Bolt sends when it drives a plan itself, `plan_start` and `plan_finish`.

`plan_run` reads and checks the whole plan before the 202: the plan and every plan it calls are
parsed, their tasks and files found, the parameters checked. All of it goes on the log in one
`PlanJobRequested`; the leading scheduler runs it from there.
"""

from __future__ import annotations

import asyncio

import msgspec
import structlog
from aiohttp import web

from podium.api.bodies import Scope, parse_body, parse_part
from podium.api.commands import find_environment, parameter_error
from podium.api.errors import NotPermitted, UnknownJob, UnknownPlan, ValidationError
from podium.api.keys import (
    CLOCK,
    ENVIRONMENTS,
    INVENTORY,
    LOCAL_QUERIES,
    PLANS,
    PROJECTOR,
    PUPPETDB,
    REQUEST_IDS,
    USER,
)
from podium.api.permits import check_scope_use
from podium.api.plan_bodies import (
    EnvironmentPlanRunCommand,
    PlanFinishCommand,
    PlanResumeCommand,
    PlanRunCommand,
    PlanStartCommand,
    StopPlanCommand,
    WrappedParameter,
)
from podium.api.scopes import ScopeContext, resolve_scope
from podium.api.submit import submit
from podium.environments import Environment
from podium.events.jobspec import PlanRun
from podium.events.model import (
    PlanFinished,
    PlanJobRequested,
    PlanResumed,
    PlanStopRequested,
)
from podium.events.state import PLAN_TERMINAL, PlanJob, PlanState, State
from podium.jsontypes import Json
from podium.plans.catalog import Bundle, PuppetPlan, bundle, plan_path_parts
from podium.plans.load import PlanError, load_plan
from podium.rbac.decide import may_run_plan, may_stop_job
from podium.rbac.permissions import ORCHESTRATOR_STOP_OTHERS, PLANS_RUN
from podium.tasks.params import (
    ParameterDeclarationError,
    Problem,
    check_parameters,
    declared_parameters,
    sensitive_names,
)

log = structlog.get_logger(__name__)


async def plan_run(request: web.Request) -> web.Response:
    """POST /command/plan_run"""
    command = parse_body(PlanRunCommand, await request.read())
    return await _run(request, command, command.params)


async def environment_plan_run(request: web.Request) -> web.Response:
    """POST /command/environment_plan_run: each parameter wrapped, nodes given by a query or a
    node group resolved here as scopes are."""
    command = parse_body(EnvironmentPlanRunCommand, await request.read())
    params = await unwrapped(request.app, request[USER], command.environment, command.params)
    return await _run(request, command, params)


async def unwrapped(
    app: web.Application, user: str, environment: str, wrapped: dict[str, WrappedParameter]
) -> dict[str, Json]:
    """`environment_plan_run`'s parameters, unwrapped: nodes named by a query or a node group
    are resolved (and checked) as a scope is."""
    state = app[PROJECTOR].state
    params: dict[str, Json] = {}
    for key, given in wrapped.items():
        if given.type is None:
            params[key] = given.value
            continue
        scope = Scope(query=given.value) if given.type == "query" else None
        scope = scope or Scope(node_group=given.value)
        check_scope_use(state, user, scope)
        context = ScopeContext(
            app[INVENTORY].sources, app[PUPPETDB], environment, queries=app[LOCAL_QUERIES]
        )
        params[key] = (await resolve_scope(scope, context)).nodes
    return params


async def _run(
    request: web.Request, command: PlanRunCommand, given: dict[str, Json]
) -> web.Response:
    at, request_id = request.app[CLOCK](), _request_id(request)
    event = await _requested(request.app, request[USER], command, given, request_id, at)
    return await _started(request, event)


async def plan_job_requested(
    app: web.Application, user: str, run: PlanRun, request_id: str, at: float
) -> PlanJobRequested:
    """The checks of `plan_run` (of `environment_plan_run` for wrapped parameters) as `user`,
    and the event that starts the plan job: for a schedule, when made and when it fires.
    Raises the ApiError the command would answer."""
    command = PlanRunCommand(
        plan_name=run.plan,
        environment=run.environment,
        description=run.description,
        timeout=run.timeout_s,
        userdata=run.userdata,
    )
    params = run.params
    if run.wrapped:
        wrapped = {k: parse_part(WrappedParameter, v, f"params.{k}") for k, v in params.items()}
        params = await unwrapped(app, user, run.environment, wrapped)
    return await _requested(app, user, command, params, request_id, at)


async def _requested(
    app: web.Application,
    user: str,
    command: PlanRunCommand,
    given: dict[str, Json],
    request_id: str,
    at: float,
) -> PlanJobRequested:
    name = command.plan_name
    if plan_path_parts(name) is None:
        raise ValidationError(f"invalid plan name {name!r}", plan_name=name)
    _require_plan(app[PROJECTOR].state, user, name)
    environment = find_environment(app[ENVIRONMENTS], command.environment)
    found = await asyncio.to_thread(_bundle, environment, name)
    params, sensitive = _checked(found, given)
    return PlanJobRequested(
        at=at,
        request_id=request_id,
        owner=user,
        plan=found.plan.name,
        environment=environment.name,
        params=params,
        description=command.description,
        userdata=command.userdata or {},
        sensitive=sensitive,
        timeout_s=command.timeout,
        sources=found.sources,
        tasks=found.tasks,
        files=found.files,
        file_modes=found.file_modes,
    )


async def plan_start(request: web.Request) -> web.Response:
    """POST /command/plan_start: Bolt runs the plan itself and sends its steps as tasks."""
    command = parse_body(PlanStartCommand, await request.read())
    state, user = request.app[PROJECTOR].state, request[USER]
    _require_plan(state, user, command.plan_name)
    environment = find_environment(request.app[ENVIRONMENTS], command.environment)
    event = PlanJobRequested(
        at=request.app[CLOCK](),
        request_id=_request_id(request),
        owner=user,
        plan=command.plan_name,
        environment=environment.name,
        params=command.params,
        description=command.description,
        driven_by_client=True,
    )
    return await _started(request, event)


async def _started(request: web.Request, event: PlanJobRequested) -> web.Response:
    await submit(request, event)
    name = request.app[PROJECTOR].state.plan_requests[event.request_id]
    log.info("plan job requested", plan_job=name, plan=event.plan, user=event.owner)
    return web.json_response({"name": name}, status=202)


async def plan_finish(request: web.Request) -> web.Response:
    """POST /command/plan_finish: Bolt's plan ended; a plan job that has ended stays as it is."""
    command = parse_body(PlanFinishCommand, await request.read())
    plan = await _plan_job(request, str(command.plan_job), stopping=True)
    if plan.state not in PLAN_TERMINAL:
        ok = command.status == "success"
        event = PlanFinished(
            at=request.app[CLOCK](),
            plan_job=plan.name,
            attempt=plan.attempt,
            ok=ok,
            result=command.result,
        )
        await submit(request, event)
    return web.json_response({"name": plan.name}, status=202)


async def stop_plan(request: web.Request) -> web.Response:
    """POST /command/stop_plan: no further step starts; the jobs it started run on until they
    end or are stopped with /command/stop. Idempotent."""
    command = parse_body(StopPlanCommand, await request.read())
    plan = await _plan_job(request, str(command.plan_job), stopping=True)
    if plan.state not in PLAN_TERMINAL and not plan.stop_requested:
        event = PlanStopRequested(at=request.app[CLOCK](), plan_job=plan.name, by=request[USER])
        await submit(request, event)
        log.info("plan stop requested", plan_job=plan.name, user=request[USER])
    return web.json_response({"name": plan.name}, status=202)


async def plan_resume(request: web.Request) -> web.Response:
    """POST /command/plan_resume: a failed plan job runs again from step `from_step`, the steps
    before it keeping the results the log has for them."""
    command = parse_body(PlanResumeCommand, await request.read())
    plan = await _plan_job(request, str(command.plan_job), stopping=False)
    _require_plan(request.app[PROJECTOR].state, request[USER], plan.plan)
    if plan.driven_by_client:
        raise ValidationError(
            f"Plan job {plan.name} was run by Bolt: Bolt resumes it", plan_job=plan.name
        )
    if plan.state != PlanState.FAILURE:
        raise ValidationError(
            f"Plan job {plan.name} is {plan.state.value}: only a failed plan job can be resumed",
            plan_job=plan.name,
        )
    steps = len(load_plan(plan.plan, plan.sources[plan.plan]).steps)
    if command.from_step > steps:
        raise ValidationError(
            f"Plan {plan.plan} has {steps} steps: from_step must be 1 to {steps}",
            plan_job=plan.name,
            from_step=command.from_step,
        )
    event = PlanResumed(
        at=request.app[CLOCK](),
        plan_job=plan.name,
        from_step=command.from_step,
        by=request[USER],
        plan=msgspec.msgpack.encode(plan),  # for a process that has archived it
    )
    await submit(request, event)
    log.info("plan job resumed", plan_job=plan.name, from_step=command.from_step)
    return web.json_response({"name": plan.name}, status=202)


def _request_id(request: web.Request) -> str:
    ids = request.app[REQUEST_IDS]
    return next(ids)


async def _plan_job(request: web.Request, name: str, *, stopping: bool) -> PlanJob:
    state, user = request.app[PROJECTOR].state, request[USER]
    plan = await request.app[PLANS].plan(name)
    if plan is None:
        raise UnknownJob(f"No plan job named {name}", plan_job=name)
    if stopping and not may_stop_job(state, user, plan.owner):
        raise NotPermitted(
            f"You are not permitted to change plan job {name}: it is another user's, and "
            f"stopping others' jobs needs the permission {ORCHESTRATOR_STOP_OTHERS}",
            plan_job=name,
        )
    return plan


def _require_plan(state: State, user: str, name: str) -> None:
    if not may_run_plan(state, user, name):
        permission = f"{':'.join(PLANS_RUN)}:{name}"
        raise NotPermitted(
            f"You are not permitted to run plan {name}: it needs the permission {permission}",
            plan=name,
            permission=permission,
        )


def _bundle(environment: Environment, name: str) -> Bundle:
    """Raises UnknownPlan, or ValidationError naming the plan, the step and the construct."""
    try:
        found = bundle(environment, name)
    except PuppetPlan as exc:
        raise ValidationError(str(exc), plan=name, file=exc.path.name) from exc
    except PlanError as exc:
        raise ValidationError(f"Plan {name} cannot run: {exc}", **exc.details) from exc
    if found is None:
        raise UnknownPlan(
            f"Unknown plan {name} in environment {environment.name}",
            plan=name,
            environment=environment.name,
        )
    return found


def _checked(found: Bundle, given: dict[str, Json]) -> tuple[dict[str, Json], list[str]]:
    """The plan's parameters with defaults applied, and the names of the sensitive ones.
    Raises one ValidationError listing every bad parameter with the type it expects."""
    try:
        declared = declared_parameters(found.plan.declarations())
    except ParameterDeclarationError as exc:  # the bundle checked them already
        raise ValidationError(f"Plan {found.plan.name} cannot run: {exc}") from exc
    params, problems = check_parameters(declared, given)
    if problems:
        problems = [  # the checks are the task specification's, and say "task"
            Problem(p.parameter, p.expected, p.message.replace("task does not", "plan does not"))
            for p in problems
        ]
        raise parameter_error(f"Plan {found.plan.name}", problems, plan=found.plan.name)
    return params, sensitive_names(declared)
