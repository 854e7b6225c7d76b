"""Result objects that more than one role writes into `NodeRunFinished.result`, and what the
fold reads back from them."""

from __future__ import annotations

from typing import Final

EXECUTION_FAILURE: Final = "puppetlabs.orchestrator/execution-failure"


def execution_failure(node: str, message: str, reached: bool | None = None) -> dict[str, object]:
    """The result of a run that could not be carried out (node `errored`). `reached` says
    whether the run got to its node, when the transport knows."""
    details: dict[str, object] = {"node": node}
    if reached is not None:
        details["reached"] = reached
    return {"kind": EXECUTION_FAILURE, "msg": message, "details": details}


def reached(result: object) -> bool | None:
    """Whether the run behind this result reached its host: None when the result cannot say.

    An execution failure says so in `details.reached` when its producer knows (a transport that
    could not connect, or lost the connection during the run); any other (a forced stop, a lost
    executor, a node refused before it ran) says nothing either way. Every other result came
    from the host: it was reached."""
    if not isinstance(result, dict) or result.get("kind") != EXECUTION_FAILURE:
        return True
    details = result.get("details")
    if isinstance(details, dict) and isinstance(details.get("reached"), bool):
        return bool(details["reached"])
    return None
