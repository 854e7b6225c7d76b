"""Result objects that more than one role writes into `NodeRunFinished.result`."""

from __future__ import annotations

from typing import Final

EXECUTION_FAILURE: Final = "puppetlabs.orchestrator/execution-failure"


def execution_failure(node: str, message: str) -> dict[str, object]:
    """The result of a run that could not be carried out (node `errored`)."""
    return {"kind": EXECUTION_FAILURE, "msg": message, "details": {"node": node}}
