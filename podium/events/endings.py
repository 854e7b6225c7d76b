"""How node runs end: the one place a `NodeRunFinished` is built.

The scheduler ends runs that never start (skipped by a stop or a failed requirement, refused by
the command, parked by the queue) or whose executor was lost; an executor ends the runs it
carried out, from their `Outcome`. Both build the event here, so a run's end has one shape.
"""

from __future__ import annotations

from typing import Final, NamedTuple

from podium.events.model import NodeRunFinished, NodeState
from podium.jsontypes import Json

SKIPPED_BY_STOP: Final = "The job was stopped before this node's run started"
EXECUTION_FAILURE: Final = "puppetlabs.orchestrator/execution-failure"


class Outcome(NamedTuple):
    """How a run went: the node's terminal state, its result and message, and whether it got to
    its node (None: nothing tells)."""

    state: NodeState
    result: Json
    message: str
    reached: bool | None = None


def finished(result: Json, message: str) -> Outcome:
    """The run succeeded on its node."""
    return Outcome(NodeState.FINISHED, result, message, reached=True)


def failed(result: Json, message: str) -> Outcome:
    """The run happened on its node and failed there."""
    return Outcome(NodeState.FAILED, result, message, reached=True)


def errored(node: str, message: str, reached: bool | None = None) -> Outcome:
    """The run could not be carried out; `reached` says whether it got to its node, when known."""
    result = execution_failure(node, message, reached)
    return Outcome(NodeState.ERRORED, result, message, reached)


def execution_failure(node: str, message: str, reached: bool | None = None) -> dict[str, Json]:
    """The result of a run that could not be carried out (node `errored`). `details.reached`
    repeats, for API clients, whether the run got to its node, when the transport knows."""
    details: dict[str, Json] = {"node": node}
    if reached is not None:
        details["reached"] = reached
    return {"kind": EXECUTION_FAILURE, "msg": message, "details": details}


def run_ended(job: str, node: str, attempt: int, at: float, outcome: Outcome) -> NodeRunFinished:
    return NodeRunFinished(
        at=at,
        job=job,
        node=node,
        attempt=attempt,
        state=outcome.state,
        result=outcome.result,
        message=outcome.message,
        reached=outcome.reached,
    )


def run_errored(job: str, node: str, attempt: int, at: float, message: str) -> NodeRunFinished:
    return run_ended(job, node, attempt, at, errored(node, message))


def run_skipped(
    job: str, node: str, at: float, message: str = SKIPPED_BY_STOP, attempt: int = 0
) -> NodeRunFinished:
    """A run that never began: `attempt` 0 when it was never dispatched."""
    return NodeRunFinished(
        at=at, job=job, node=node, attempt=attempt, state=NodeState.SKIPPED, message=message
    )
