"""GET /orchestrator/v1/audit?start=N&limit=M: who did what, read from the log itself.

Each entry is one event of the log that a person caused: a command (a job or a plan job
requested, a plan resumed, a schedule made or changed), a stop (of a job or a plan job), or a
change of who may do what (users, roles, permissions, tokens, task-targets). It carries its
event id, who did it, and the record of the log that holds it with that record's chain hash
(the file log's: SHA-256 over the record, which holds the previous record's hash; RabbitMQ's:
the chain of the producer named, see `podium.events.amqp.chain`). An auditor
who keeps the hashes it was given can later prove that no record up to them was removed or
changed: every later hash depends on every earlier record.

The log is folded again from its start for each answer (`podium.events.replay`): ids and the
names of jobs, users and task-targets are those the fold gave at that event.
"""

from __future__ import annotations

from typing import Final

from aiohttp import web

from podium.api.errors import NotPermitted
from podium.api.keys import PROJECTOR, USER, base_url
from podium.api.params import int_param
from podium.api.replays import replay_log
from podium.events.jobspec import PlanRun, ScheduledSpec, TaskJob
from podium.events.model import (
    Event,
    JobRequested,
    JobStopRequested,
    PermissionGranted,
    PermissionRevoked,
    PlanJobRequested,
    PlanResumed,
    PlanStopRequested,
    RoleCreated,
    ScheduleChanged,
    ScheduleCreated,
    TaskTargetCreated,
    TokenIssued,
    TokenRevoked,
    UserAddedToRole,
    UserCreated,
    UserDisabled,
)
from podium.events.ports import Record
from podium.events.render import iso
from podium.events.state import State
from podium.jsontypes import Json
from podium.rbac.decide import holds
from podium.rbac.permissions import ORCHESTRATOR_VIEW

DEFAULT_LIMIT: Final = 1000


async def audit(request: web.Request) -> web.Response:
    """GET /audit?start=N (inclusive, default 1)&limit=M (default 1000)"""
    state, user = request.app[PROJECTOR].state, request[USER]
    if not holds(state, user, ORCHESTRATOR_VIEW):
        raise NotPermitted(
            f"You are not permitted to read the audit trail: it needs the permission "
            f"{ORCHESTRATOR_VIEW}",
            permission=str(ORCHESTRATOR_VIEW),
        )
    start = int_param(request, "start", minimum=1) or 1
    limit = int_param(request, "limit", minimum=1) or DEFAULT_LIMIT
    trail = Trail(start, limit)
    through = state.position
    await replay_log(request, through, trail)
    resume = str(trail.last_id + 1 if trail.full else max(start, through + 1))
    return web.json_response(
        {
            "items": trail.entries,
            "next": {"id": f"{base_url(request)}/audit?start={resume}", "event": resume},
            "log": {"event": through, "record": trail.record, "chain": trail.chain},
        }
    )


class Trail:
    """An observer of a replay: the audited events from `start` on, `limit` of them at most,
    and the last record seen with its chain hash."""

    def __init__(self, start: int, limit: int) -> None:
        self.start, self.limit = start, limit
        self.entries: list[dict[str, Json]] = []
        self.record: int | None = None
        self.chain: str | None = None
        self.last_id = 0

    @property
    def full(self) -> bool:
        return len(self.entries) >= self.limit

    def __call__(self, state: State, event: Event, record: Record) -> None:
        self.record, self.chain = record.offset, record.chain.hex() or None
        if state.position < self.start or self.full:
            return
        said = what_was_done(state, event)
        if said is not None:
            by, details = said
            self.last_id = state.position
            self.entries.append(
                {
                    "id": str(state.position),
                    "type": str(event.__struct_config__.tag),
                    "timestamp": iso(event.at),
                    "user": _user(state, by),
                    "details": details,
                    "record": record.offset,
                    "chain": self.chain,
                    "producer": record.producer or None,
                }
            )


def _user(state: State, user_id: str) -> Json:
    """Who, as the log knew them then; None where the event does not say (an older log)."""
    if not user_id:
        return None
    user = state.users.get(user_id)
    return {"id": user_id, "login": user.login if user else user_id}


def what_was_done(state: State, event: Event) -> tuple[str, dict[str, Json]] | None:
    """Who did it and what, for an event a person caused; None for the engine's own."""
    match event:
        case JobRequested():
            job = state.requests.get(event.request_id)
            return event.owner, {"job": job, **_spec(event.spec), "node_count": len(event.nodes)}
        case JobStopRequested():
            return event.by, {"job": event.job, "force": event.force}
        case PlanJobRequested():
            plan_job = state.plan_requests.get(event.request_id)
            what = {"plan_job": plan_job, "plan": event.plan, "environment": event.environment}
            return event.owner, what
        case PlanStopRequested():
            return event.by, {"plan_job": event.plan_job}
        case PlanResumed():
            return event.by, {"plan_job": event.plan_job, "from_step": event.from_step}
        case ScheduleCreated():
            schedule = state.schedule_requests.get(event.request_id)
            return event.owner, {"schedule": schedule, **_spec(event.spec)}
        case ScheduleChanged():
            return event.by, {"schedule": event.schedule, "enabled": event.enabled}
        case _:
            return _identity(state, event)


def _identity(state: State, event: Event) -> tuple[str, dict[str, Json]] | None:
    match event:
        case TokenIssued():
            return event.by, {"token_id": event.token_id, "for": event.login, "label": event.label}
        case TokenRevoked():
            token = state.tokens.get(event.token_sha256)
            return event.by, {"token_id": token.token_id if token else None}
        case UserCreated():
            return event.by, {"login": event.login, "user_id": event.user_id}
        case UserDisabled():
            user = state.users.get(event.user_id)
            return event.by, {"login": user.login if user else None, "user_id": event.user_id}
        case RoleCreated():
            return event.by, {"role": event.name}
        case PermissionGranted() | PermissionRevoked():
            return event.by, {"role": event.role, "permission": str(event.permission)}
        case UserAddedToRole():
            user = state.users.get(event.user_id)
            return event.by, {"role": event.role, "login": user.login if user else event.user_id}
        case TaskTargetCreated():
            name = state.task_target_requests.get(event.request_id)
            return event.by, {"task_target": name, "display_name": event.display_name}
        case _:
            return None


def _spec(spec: ScheduledSpec) -> dict[str, Json]:
    what: dict[str, Json] = {"command": spec.kind, "environment": spec.environment}
    if isinstance(spec, PlanRun):
        what["plan"] = spec.plan
        return what
    if isinstance(spec, TaskJob):
        what["task"] = spec.task
    if spec.origin.rerun_of is not None:
        what["rerun_of"] = spec.origin.rerun_of
    if spec.origin.scheduled_job_id is not None:
        what["scheduled_job_id"] = spec.origin.scheduled_job_id
    return what
