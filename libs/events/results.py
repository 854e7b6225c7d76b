"""Result objects that more than one role writes into `NodeRunFinished.result`, and what the
fold reads back from them."""

from __future__ import annotations

from typing import Final

EXECUTION_FAILURE: Final = "puppetlabs.orchestrator/execution-failure"
# How the ssh transport words a run that never got a connection to its host (services/executor/
# transports/ssh.py, `connect`); read only while its results carry no `details.reached`.
CONNECT_FAILURE_PREFIX: Final = "Could not connect to "


def execution_failure(node: str, message: str) -> dict[str, object]:
    """The result of a run that could not be carried out (node `errored`)."""
    return {"kind": EXECUTION_FAILURE, "msg": message, "details": {"node": node}}


def reached(result: object) -> bool | None:
    """Whether the run behind this result reached its host: None when the result cannot say.

    An execution failure says so in `details.reached` (true or false) when its producer knows,
    or, lacking that, by the ssh transport's wording for a failed connection. Any other
    execution failure (a timeout, a forced stop, a lost executor, a node refused before it ran)
    says nothing either way. Every other result came from the host: it was reached."""
    if not isinstance(result, dict) or result.get("kind") != EXECUTION_FAILURE:
        return True
    details = result.get("details")
    if isinstance(details, dict) and isinstance(details.get("reached"), bool):
        return bool(details["reached"])
    message = result.get("msg")
    if isinstance(message, str) and message.startswith(CONNECT_FAILURE_PREFIX):
        return False
    return None
