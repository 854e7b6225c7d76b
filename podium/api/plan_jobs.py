"""GET /plans, /plans/<module>/<plan> (an environment's YAML plans and their parameters), and
GET /plan_jobs, /plan_jobs/<id>, its events and one event, from the folded state or, once
ended, the projection (podium.history)."""

from __future__ import annotations

import asyncio
import json
from bisect import bisect_left
from collections.abc import Callable, Mapping
from typing import Any, Final

from aiohttp import web

from podium.api.chunked import items_answer
from podium.api.commands import find_environment
from podium.api.errors import ApiError, NotPermitted, UnknownJob, UnknownPlan, ValidationError
from podium.api.keys import CLOCK, ENVIRONMENTS, JOBS, PLANS, PROJECTOR, SETTINGS, USER, base_url
from podium.api.params import choice_param, decimal_id, int_param, path_id, time_param
from podium.api.streams import KEEPALIVE_S, resume_from, wants_stream
from podium.api.views import owner, pagination
from podium.environments import Environment
from podium.events.render import REDACTED, iso
from podium.events.state import PLAN_TERMINAL, Job, JobEvent, PlanJob, State
from podium.history.store import PlanKey
from podium.jsontypes import Json
from podium.plans.catalog import PuppetPlan, list_plan_files, read_plan
from podium.plans.load import PlanError
from podium.plans.model import Plan
from podium.rbac.decide import holds, may_run_plan, may_see_job
from podium.rbac.permissions import ORCHESTRATOR_VIEW

PLAN_ENDS: Final = frozenset({"plan_finished", "plan_failed"})
MESSAGE_BYTES: Final = 1024  # an out_message's text in lists; whole from /event/<id>
ORDERS: Final = ("asc", "desc")
_SORT: Final[dict[str, Callable[[State, PlanKey], Any]]] = {
    "timestamp": lambda state, plan: (plan.updated_at, plan.name),
    "name": lambda state, plan: plan.name,
    "state": lambda state, plan: (plan.state, plan.name),
    "environment": lambda state, plan: (plan.environment, plan.name),
    "owner": lambda state, plan: (owner(state, plan.owner)["login"], plan.name),
}
PLAN_ORDER_BY: Final = tuple(_SORT)


class MismatchedEvent(ApiError, status=404, kind="puppetlabs.orchestrator/mismatched-job-event-id"):
    """Raised for an event that is not one of the plan job's."""


def plan_job_url(base: str, name: str) -> str:
    return f"{base}/plan_jobs/{name}"


def plan_item(
    state: State, plan: PlanJob, base: str, now: float, *, results: bool = True
) -> dict[str, Json]:
    url = plan_job_url(base, plan.name)
    item: dict[str, Json] = {
        "id": url,
        "name": plan.name,
        "state": plan.state.value,
        "options": {
            "description": plan.description,
            "plan_name": plan.plan,
            "parameters": {
                key: REDACTED if key in plan.sensitive else value
                for key, value in plan.params.items()
            },
            "environment": plan.environment,
            "sensitive": plan.sensitive,
            "scheduled_job_id": plan.scheduled_job_id,
        },
        "owner": owner(state, plan.owner),
        "userdata": plan.userdata,
        "created_timestamp": iso(plan.created_at),
        "finished_timestamp": iso(plan.finished_at),
        "duration": round((plan.finished_at or now) - plan.created_at, 3),
        "events": {"id": f"{url}/events"},
    }
    if results:
        item["result"] = plan.result
    return item


def plan_detail(
    state: State, plan: PlanJob, jobs: Mapping[str, Job | None], base: str, now: float
) -> dict[str, Json]:
    """One plan job: its item, when it last changed, and the status history of its jobs
    (`jobs`: those of `plan.jobs` that are known, live or archived)."""
    status: dict[str, Json] = {}
    for name in plan.jobs:
        job = jobs.get(name)
        if job is not None:
            status[name] = [
                {"state": e.state.value, "enter_time": iso(e.enter), "exit_time": iso(e.exit)}
                for e in job.status
            ]
    return {
        **plan_item(state, plan, base, now),
        "timestamp": iso(plan.updated_at),
        "status": status,
    }


def plan_event(event: JobEvent, *, whole: bool = False) -> dict[str, Json]:
    details = event.detail
    if not whole and event.type == "out_message" and isinstance(details, dict):
        text = details.get("message")
        if isinstance(text, str) and len(text.encode()) > MESSAGE_BYTES:
            cut = text.encode()[:MESSAGE_BYTES].decode("utf-8", "ignore")
            details = {**details, "message": cut}
    return {"id": str(event.id), "type": event.type, "timestamp": iso(event.at), "details": details}


async def list_plan_jobs(request: web.Request) -> web.Response:
    """GET /plan_jobs"""
    state, user = request.app[PROJECTOR].state, request[USER]
    limit = int_param(request, "limit")
    offset = int_param(request, "offset") or 0
    order = choice_param(request, "order", ORDERS, "asc")
    order_by = choice_param(request, "order_by", PLAN_ORDER_BY, "timestamp")
    results = choice_param(request, "results", ("include", "exclude"), "include") == "include"
    earliest = time_param(request, "min_finish_timestamp")
    latest = time_param(request, "max_finish_timestamp")
    every = holds(state, user, ORCHESTRATOR_VIEW)

    def wanted(plan: PlanJob) -> bool:
        if not every and plan.owner != user:
            return False
        if earliest is None and latest is None:
            return True
        done = plan.finished_at
        return (
            done is not None
            and (earliest is None or done >= earliest)
            and (latest is None or done <= latest)
        )

    reader = request.app[PLANS]
    listed = await reader.listed(wanted, None if every else user, earliest, latest)
    sort = _SORT[order_by]
    listed.sort(key=lambda item: sort(state, item.key), reverse=order == "desc")
    page = await reader.plans(listed[offset:] if limit is None else listed[offset : offset + limit])
    base, now = base_url(request), request.app[CLOCK]()
    return web.json_response(
        {
            "items": [plan_item(state, p, base, now, results=results) for p in page],
            "pagination": pagination(limit, offset, order, order_by, len(listed)),
        }
    )


async def _plan_job(request: web.Request) -> PlanJob:
    name = path_id(request)
    state = request.app[PROJECTOR].state
    plan = await request.app[PLANS].plan(name)
    if plan is None:
        raise UnknownJob(f"No plan job named {name}", plan_job=name)
    if not may_see_job(state, request[USER], plan.owner):
        raise NotPermitted(
            f"You are not permitted to see plan job {name}: it is another user's, and seeing "
            f"others' jobs needs the permission {ORCHESTRATOR_VIEW}",
            plan_job=name,
        )
    return plan


async def get_plan_job(request: web.Request) -> web.Response:
    """GET /plan_jobs/<id>"""
    plan = await _plan_job(request)
    state = request.app[PROJECTOR].state
    reader = request.app[JOBS]
    jobs = {name: await reader.head(name) for name in plan.jobs}
    base, now = base_url(request), request.app[CLOCK]()
    return web.json_response(plan_detail(state, plan, jobs, base, now))


async def plan_job_events(request: web.Request) -> web.StreamResponse:
    """GET /plan_jobs/<id>/events?start=N (inclusive); a stream with Accept: text/event-stream."""
    plan = await _plan_job(request)
    if wants_stream(request):
        return await _plan_stream(request, plan)
    start = resume_from(request)  # as a stream would: Last-Event-ID, else ?start=
    events = (
        plan.events[:]
        if start is None
        else plan.events[bisect_left(plan.events, start, key=lambda e: e.id) :]
    )
    highest = max((e.id for e in events), default=None)
    position = (
        highest + 1
        if highest is not None
        else start or ((plan.events[-1].id + 1) if plan.events else 1)
    )
    url = plan_job_url(base_url(request), plan.name)
    head = {"next-events": {"id": f"{url}/events?start={position}", "event": str(position)}}
    return await items_answer(request, events, plan_event, head=head)


async def _plan_stream(request: web.Request, plan: PlanJob) -> web.StreamResponse:
    """The plan job's events as Server-Sent Events (`id:` the event id, resume with
    Last-Event-ID), ending after `plan_finished` or `plan_failed`."""
    projector = request.app[PROJECTOR]
    index = bisect_left(plan.events, resume_from(request) or 1, key=lambda e: e.id)
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
    )
    await response.prepare(request)
    timeout_s = request.app[SETTINGS].request_timeout_s
    while request.transport is not None and not request.transport.is_closing():
        version = projector.version
        while index < len(plan.events):
            event = plan.events[index]
            index += 1
            data = json.dumps(plan_event(event, whole=True))
            async with asyncio.timeout(timeout_s):
                await response.write(
                    f"id: {event.id}\nevent: {event.type}\ndata: {data}\n\n".encode()
                )
            if event.type in PLAN_ENDS:
                return response
        if plan.state in PLAN_TERMINAL:
            return response  # ended before the events asked for
        waiter = asyncio.ensure_future(projector.wait_change(version))
        done, _ = await asyncio.wait([waiter], timeout=KEEPALIVE_S)
        if not done:
            waiter.cancel()
            async with asyncio.timeout(timeout_s):
                await response.write(b": keep-alive\n\n")
    return response


async def plan_job_event(request: web.Request) -> web.Response:
    """GET /plan_jobs/<id>/event/<event-id>: one event, nothing cut."""
    plan = await _plan_job(request)
    raw = request.match_info["event"]
    number = decimal_id(raw)
    if number is None or number <= 0:
        raise ValidationError(f"{raw!r} is not a valid event id: expected a positive integer")
    index = bisect_left(plan.events, number, key=lambda e: e.id)
    if index == len(plan.events) or plan.events[index].id != number:
        raise MismatchedEvent(
            f"Event {number} is not an event of plan job {plan.name}",
            plan_job=plan.name,
            event=str(number),
        )
    return web.json_response(plan_event(plan.events[index], whole=True))


def plan_url(base: str, name: str) -> str:
    module, _, rest = name.partition("::")
    return f"{base}/plans/{module}/{rest or 'init'}"


def _environment(environment: Environment) -> dict[str, Json]:
    return {"name": environment.name, "code_id": None}


async def list_plans(request: web.Request) -> web.Response:
    """GET /plans?environment=<name>: the environment's YAML plans."""
    environment = find_environment(
        request.app[ENVIRONMENTS], request.query.get("environment") or "production"
    )
    files = await asyncio.to_thread(list_plan_files, environment.module_dirs[:1])
    state, user, base = request.app[PROJECTOR].state, request[USER], base_url(request)
    items = [
        {
            "id": plan_url(base, f.name),
            "name": f.name,
            "permitted": may_run_plan(state, user, f.name),
        }
        for f in files
        if not f.puppet
    ]
    return web.json_response({"environment": _environment(environment), "items": items})


async def get_plan(request: web.Request) -> web.Response:
    """GET /plans/<module>/<plan>; `init` is the module's own plan."""
    module, rest = request.match_info["module"], request.match_info["plan"]
    name = module if rest == "init" else f"{module}::{rest}"
    environment = find_environment(
        request.app[ENVIRONMENTS], request.query.get("environment") or "production"
    )
    try:
        found = await asyncio.to_thread(read_plan, environment, name)
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
    state, user = request.app[PROJECTOR].state, request[USER]
    plan = found[0]
    return web.json_response(
        {
            "id": plan_url(base_url(request), name),
            "name": name,
            "environment": _environment(environment),
            "permitted": may_run_plan(state, user, name),
            "metadata": _metadata(plan),
        }
    )


def _metadata(plan: Plan) -> dict[str, Json]:
    metadata: dict[str, Json] = {}
    if plan.description is not None:
        metadata["description"] = plan.description
    if plan.parameters:
        metadata["parameters"] = {
            p.name: {
                "type": p.type or "Any",
                "description": p.description,
                "default_value": p.default,
            }
            for p in plan.parameters
        }
    return metadata
