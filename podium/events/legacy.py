"""Old shapes of events and snapshots, as logs written by earlier versions hold them, and how
each becomes the current one.

The codec decodes them (their tags are taken for ever) and hands the fold only current shapes;
`decode_snapshot` does the same for a snapshot whose jobs still carry the untyped options.
This is the one place that reads an `options` dict; nothing here is used for new events.

- `JobRequestedV1` (tag `job_requested`): the command as an untyped `options` dict, beside
  `kind`, `environment`, `concurrency` and `description`; now a typed `JobSpec`.
- `NodeRunFinishedV1` (tag `node_run_finished`): whether the run reached its node was only in
  the result (`details.reached` of an execution failure); now the `reached` field.
- Snapshots taken before users and roles: `tokens` mapped a token's SHA-256 to a user id; now
  to a `TokenRecord`, and `logins` indexes the users.
"""

from __future__ import annotations

from typing import Final, Literal

import msgspec

from podium.events.endings import EXECUTION_FAILURE
from podium.events.jobspec import DeployJob, JobScope, JobSpec, TaskJob
from podium.events.model import (
    Component,
    Event,
    EventBase,
    JobRequested,
    NodeRunFinished,
    NodeState,
    Target,
)
from podium.jsontypes import Json

_SCOPE_KEYS: Final = ("nodes", "query", "node_group", "application")


class JobRequestedV1(EventBase, tag="job_requested", frozen=True, kw_only=True):
    request_id: str
    kind: Literal["deploy", "task"]
    owner: str
    environment: str
    options: dict[str, Json]
    nodes: list[str]
    targets: list[Target]
    concurrency: int | None = None
    description: str = ""
    components: list[Component] = []
    refused: dict[str, str] = {}


class NodeRunFinishedV1(EventBase, tag="node_run_finished", frozen=True, kw_only=True):
    job: str
    node: str
    attempt: int
    state: NodeState
    result: Json = None
    message: str = ""


LegacyEvent = JobRequestedV1 | NodeRunFinishedV1


def upcast(event: Event | LegacyEvent) -> Event:
    """The current shape of an event decoded from an old log."""
    match event:
        case JobRequestedV1():
            return JobRequested(
                at=event.at,
                origin=event.origin,
                seq=event.seq,
                request_id=event.request_id,
                owner=event.owner,
                spec=spec_from_options(
                    event.kind, event.environment, event.options, event.concurrency
                ),
                nodes=event.nodes,
                targets=event.targets,
                components=event.components,
                refused=event.refused,
            )
        case NodeRunFinishedV1():
            return NodeRunFinished(
                at=event.at,
                origin=event.origin,
                seq=event.seq,
                job=event.job,
                node=event.node,
                attempt=event.attempt,
                state=event.state,
                result=event.result,
                message=event.message,
                reached=None if event.state == NodeState.SKIPPED else reached(event.result),
            )
        case _:
            return event


def spec_from_options(
    kind: str, environment: str, options: dict[str, Json], concurrency: int | None
) -> JobSpec:
    """The typed spec of a job recorded with the options the api used to write: the validated
    command with its defaults filled in (a deploy's `scope` is `{}` without one)."""
    given = options.get("scope") or {}
    scope = JobScope(**{key: given[key] for key in _SCOPE_KEYS if key in given})
    noop, description = bool(options.get("noop")), options.get("description")
    userdata = options.get("userdata") or {}
    if kind == "deploy":
        return DeployJob(
            environment=environment,
            scope=scope,
            noop=noop,
            concurrency=concurrency,
            description=description,
            userdata=userdata,
            no_noop=bool(options.get("no_noop")),
            enforce_environment=bool(options.get("enforce_environment", True)),
            debug=bool(options.get("debug")),
            trace=bool(options.get("trace")),
            evaltrace=bool(options.get("evaltrace")),
            target=options.get("target"),
        )
    timeout = options.get("timeout")
    return TaskJob(
        environment=environment,
        scope=scope,
        noop=noop,
        concurrency=concurrency,
        description=description,
        userdata=userdata,
        task=str(options.get("task") or ""),
        params=dict(options.get("params") or {}),
        sensitive=list(options.get("sensitive") or []),
        timeout_s=timeout if isinstance(timeout, int) else None,
    )


def reached(result: Json) -> bool | None:
    """Whether the run behind an old result reached its host: an execution failure says so in
    `details.reached` when its producer knew, and says nothing otherwise; any other result
    came from the host."""
    if not isinstance(result, dict) or result.get("kind") != EXECUTION_FAILURE:
        return True
    details = result.get("details")
    if isinstance(details, dict) and isinstance(details.get("reached"), bool):
        return bool(details["reached"])
    return None


def upcast_snapshot_job(job: dict[str, Json]) -> dict[str, Json]:
    """A job of an old snapshot, as msgpack decodes it untyped, with its options made a spec."""
    if "options" not in job:
        return job
    spec = spec_from_options(
        job.pop("kind"), job.pop("environment"), job.pop("options"), job.pop("concurrency", None)
    )
    job.pop("description", None)
    job["spec"] = msgspec.to_builtins(spec)
    return job


def upcast_snapshot_identity(state: dict[str, Json]) -> dict[str, Json]:
    """The state of an old snapshot, untyped, with its tokens as records and its logins
    indexed (the users it has are the owners of the tokens)."""
    tokens = state.get("tokens")
    if isinstance(tokens, dict):
        state["tokens"] = {
            sha: [owner] if isinstance(owner, str) else owner for sha, owner in tokens.items()
        }
    users = state.get("users")
    if isinstance(users, dict) and "logins" not in state:
        state["logins"] = {
            user[1]: user[0] for user in users.values() if isinstance(user, list) and len(user) > 1
        }
    return state
