"""POST /command/task_target and GET /scopes/task_targets[/<id>]: task-targets as events.

A task-target grants nothing by itself: a role grants `tasks:run_with_constraints:<id>`. Making
one is editing who may do what, so it needs `users:edit:*`; any user may read them.
"""

from __future__ import annotations

from aiohttp import web

from podium.api.bodies import TaskTargetCommand, parse_body
from podium.api.errors import UnknownTaskTarget, ValidationError
from podium.api.keys import CLOCK, PROJECTOR, PUPPETDB, REQUEST_IDS, USER, base_url
from podium.api.params import path_id
from podium.api.permits import require
from podium.api.submit import submit
from podium.events.model import TaskTargetCreated
from podium.events.state import TaskTarget
from podium.jsontypes import Json
from podium.queries import QueryProblem, parse_query
from podium.rbac.permissions import USERS_EDIT


async def create_task_target(request: web.Request) -> web.Response:
    """POST /command/task_target: 200 with the new task-target's link and name."""
    command = parse_body(TaskTargetCommand, await request.read())
    problem = command.tasks_problem()
    if problem is not None:
        raise ValidationError(
            f"Invalid request: all_tasks: {problem}",
            errors=[{"field": "all_tasks", "message": problem}],
        )
    if command.pql_query is not None and request.app[PUPPETDB] is None:
        _check_query(command.pql_query)  # PuppetDB, when there is one, judges its own queries
    require(request.app[PROJECTOR].state, request[USER], USERS_EDIT, "create task-targets")
    ids = request.app[REQUEST_IDS]
    event = TaskTargetCreated(
        at=request.app[CLOCK](),
        request_id=next(ids),
        display_name=command.display_name,
        tasks=[] if command.all_tasks else list(dict.fromkeys(command.tasks or [])),
        all_tasks=bool(command.all_tasks),
        nodes=list(dict.fromkeys(command.nodes)),
        node_groups=list(dict.fromkeys(command.node_groups)),
        pql_query=command.pql_query,
        by=request[USER],
    )
    await submit(request, event)
    name = request.app[PROJECTOR].state.task_target_requests[event.request_id]
    url = task_target_url(base_url(request), name)
    return web.json_response({"task_target": {"id": url, "name": name}})


def _check_query(query: str) -> None:
    try:
        parse_query(query)
    except QueryProblem as problem:
        raise ValidationError(
            f"Invalid request: pql_query: {problem.msg}",
            errors=[{"field": "pql_query", "message": problem.msg}],
        ) from problem


async def list_task_targets(request: web.Request) -> web.Response:
    """GET /scopes/task_targets"""
    base = base_url(request)
    targets = request.app[PROJECTOR].state.task_targets.values()
    return web.json_response({"items": [task_target_item(t, base) for t in targets]})


async def get_task_target(request: web.Request) -> web.Response:
    """GET /scopes/task_targets/<id>"""
    name = path_id(request)
    target = request.app[PROJECTOR].state.task_targets.get(name)
    if target is None:
        raise UnknownTaskTarget(f"No task-target named {name}", task_target=name)
    return web.json_response(task_target_item(target, base_url(request)))


def task_target_url(base: str, name: str) -> str:
    return f"{base}/scopes/task_targets/{name}"


def task_target_item(target: TaskTarget, base: str) -> dict[str, Json]:
    """`tasks` is left out with `all_tasks`, `pql_query` when none was given (reference §6)."""
    item: dict[str, Json] = {
        "id": task_target_url(base, target.name),
        "name": target.name,
        "display_name": target.display_name,
    }
    if not target.all_tasks:
        item["tasks"] = list(target.tasks)
    item.update(all_tasks=target.all_tasks, nodes=target.nodes, node_groups=target.node_groups)
    if target.pql_query is not None:
        item["pql_query"] = target.pql_query
    return item
