"""Response bodies built from folded state: pure functions, the time and base URL passed in."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final, assert_never

from podium.events.jobspec import DeployJob, JobSpec, TaskJob
from podium.events.model import NodeState
from podium.events.render import REDACTED, WHAT, event_message, iso, redacted_result
from podium.events.state import Job, JobEvent, NodeRun, State, User
from podium.jsontypes import Json
from podium.rbac.decide import is_superuser

NODE_STATES: Final = tuple(NodeState)


def _duration(start: float | None, end: float | None, now: float) -> float | None:
    if start is None:
        return None
    return round((end if end is not None else now) - start, 3)


def owner(state: State, user_id: str) -> dict[str, Json]:
    """The orchestrator's user object, from the user the log knows (its id alone when not)."""
    user = state.users.get(user_id) or User(user_id, user_id)
    return {
        "id": user.id,
        "login": user.login,
        "display_name": user.display_name or user.login,
        "email": user.email,
        "is_revoked": user.disabled,
        "is_superuser": is_superuser(state, user.id),
        "is_remote": False,
        "is_group": False,
        "role_ids": [state.roles[name].id for name in user.roles if name in state.roles],
        "inherited_role_ids": [],
        "group_ids": [],
        "last_login": None,
    }


def job_url(base: str, name: str) -> str:
    return f"{base}/jobs/{name}"


def job_item(state: State, job: Job, base: str, now: float) -> dict[str, Json]:
    """A job as GET /jobs lists it and GET /jobs/<id> shows it, its status history included."""
    url = job_url(base, job.name)
    count = node_count(job)
    node_states = {s.value: n for s, n in job.counts.items() if n} if count else None
    return {
        "id": url,
        "name": job.name,
        "state": job.state.value,
        "command": job_type(job),
        "type": job_type(job),
        "options": options(job.spec),
        "owner": owner(state, job.owner),
        "description": job.spec.description,
        "timestamp": iso(job.updated_at),
        "started_timestamp": iso(job.started_at),
        "finished_timestamp": iso(job.finished_at),
        "duration": _duration(job.started_at, job.finished_at, now),
        "environment": {"name": job.environment},
        "node_count": count,
        "node_states": node_states,
        "userdata": job.spec.userdata,
        "nodes": {"id": f"{url}/nodes"},
        "report": {"id": f"{url}/report"},
        "events": {"id": f"{url}/events"},
        "status": [
            {
                "state": entry.state.value,
                "enter_time": iso(entry.enter),
                "exit_time": iso(entry.exit),
            }
            for entry in job.status
        ],
    }


def job_type(job: Job) -> str:
    """`plan_task` for a task a plan job ran, else the job's kind."""
    return "plan_task" if job.spec.origin.plan_job is not None else job.kind


def options(spec: JobSpec) -> dict[str, Json]:
    """The orchestrator's `options` object: the validated command with its defaults filled in,
    `userdata` when the command gave some, and `rerun_of` (a Podium addition) for a re-run."""
    match spec:
        case DeployJob():
            rendered = _deploy_options(spec)
        case TaskJob():
            rendered = _task_options(spec)
        case _:
            assert_never(spec)
    if spec.userdata:
        rendered["userdata"] = spec.userdata
    if spec.origin.rerun_of is not None:
        rendered["rerun_of"] = spec.origin.rerun_of
    return rendered


def _deploy_options(spec: DeployJob) -> dict[str, Json]:
    return {
        "environment": spec.environment,
        "scope": spec.scope.given(),
        "noop": spec.noop,
        "no_noop": spec.no_noop,
        "concurrency": spec.concurrency,
        "enforce_environment": spec.enforce_environment,
        "debug": spec.debug,
        "trace": spec.trace,
        "evaltrace": spec.evaltrace,
        "target": spec.target,
        "description": spec.description,
    }


def _task_options(spec: TaskJob) -> dict[str, Json]:
    """The values of sensitive parameters are hidden: the log keeps them for the executor."""
    sensitive = spec.sensitive
    params = {key: REDACTED if key in sensitive else value for key, value in spec.params.items()}
    return {
        "task": spec.task,
        "params": params,
        "scope": spec.scope.given(),
        "environment": spec.environment,
        "noop": spec.noop,
        "description": spec.description,
        "sensitive": sensitive,
        "plan_job": spec.origin.plan_job,
        "scheduled-job-id": spec.origin.scheduled_job_id,
        "concurrency": spec.concurrency,
        "timeout": spec.timeout_s,
    }


def node_count(job: Job) -> int:
    """How many nodes the job has: its counts cover every node, also when its node runs are
    not loaded (an archived job's head)."""
    return sum(job.counts.values())


def node_counts(job: Job) -> dict[str, int]:
    """Every node state, zeros included, as the stop answer shows them."""
    return {state.value: job.counts.get(state, 0) for state in NODE_STATES}


def node_item(job: Job, run: NodeRun, now: float) -> dict[str, Json]:
    return {
        "name": run.name,
        "state": run.state.value,
        "transport": job.transport(run),
        "start_timestamp": iso(run.started_at),
        "finish_timestamp": iso(run.finished_at),
        "duration": _duration(run.started_at, run.finished_at, now),
        "timestamp": iso(run.updated_at or job.created_at),
        "transaction_uuid": _transaction_uuid(job, run),
        "latest-event-id": run.latest_event or None,
        "details": _node_details(job, run, now),
        "result": redacted_result(run.result) if run.state in WITH_RESULT else None,
    }


WITH_RESULT: Final = frozenset({NodeState.FINISHED, NodeState.FAILED, NodeState.ERRORED})


def _transaction_uuid(job: Job, run: NodeRun) -> str | None:
    """A deploy's Puppet run names its transaction in its result (from the agent's report)."""
    if job.kind != "deploy" or not isinstance(run.result, dict):
        return None
    uuid = run.result.get("transaction_uuid")
    return uuid if isinstance(uuid, str) else None


def _node_details(job: Job, run: NodeRun, now: float) -> dict[str, Json]:
    if run.state == NodeState.NEW:
        return {}
    if run.state == NodeState.RUNNING:
        started = run.started_at if run.started_at is not None else now
        return {
            "message": f"Started {WHAT[job.kind]} run on {run.name}",
            "run-time": int(now - started),
        }
    return {"message": run.message or event_message(job, f"node_{run.state.value}", run.name)}


def next_events(job: Job, base: str, returned: Iterable[JobEvent], start: int | None) -> Json:
    """Where to resume: one past the highest id returned, else `start`, else one past the
    job's last event (or past the event that created it)."""
    highest = max((event.id for event in returned), default=None)
    if highest is not None:
        position = highest + 1
    elif start is not None:
        position = start
    else:
        position = (job.events[-1].id if job.events else job.created_position) + 1
    return {"id": f"{job_url(base, job.name)}/events?start={position}", "event": str(position)}


def pagination(
    limit: int | None, offset: int, order: str, order_by: str, total: int, **extra: Json
) -> dict[str, Json]:
    return {
        "limit": limit,
        "offset": offset,
        "order": order,
        "order_by": order_by,
        "total": total,
        **extra,
    }
