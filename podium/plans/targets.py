"""A step's targets and results: a TargetSpec resolved against the inventory, and a finished
job's nodes read back as the ResultSet Bolt would give (reference §9.3). Pure."""

from __future__ import annotations

from podium.events.model import NodeState
from podium.events.state import Job
from podium.inventory import Inventory
from podium.jsontypes import Json
from podium.plans.expr import EvaluationError


def resolve_targets(spec: Json, inventory: Inventory) -> list[str]:
    """The node names a TargetSpec names, each once, in order: a target name, an alias or a
    group (`all` too), a comma-separated string of those, an array of any of these, or a
    result (its `target`). A name the inventory lacks is a node of that name, as in Bolt.
    Raises EvaluationError for anything else."""
    aliases = {alias: t.name for t in inventory.targets.values() for alias in t.aliases}
    found: dict[str, None] = {}
    pending: list[Json] = [spec]
    while pending:
        value = pending.pop()
        if isinstance(value, list):
            pending.extend(reversed(value))
        elif isinstance(value, dict) and isinstance(value.get("target"), str):
            pending.append(value["target"])
        elif isinstance(value, str):
            for part in (p.strip() for p in value.split(",")):
                if part in inventory.groups:
                    found.update(dict.fromkeys(inventory.groups[part]))
                elif part:
                    found[aliases.get(part, part)] = None
        else:
            raise EvaluationError(
                f"targets must be a target name, a list of them or a result, not {value!r}"
            )
    return list(found)


def result_set(job: Job, action: str, object: str) -> list[Json]:
    """One result per node of the job, in the job's order."""
    results: list[Json] = []
    for run in job.nodes.values():
        value = run.result
        if run.state == NodeState.SKIPPED or value is None:
            reason = run.message or f"the node ended {run.state.value} without a result"
            value = {
                "_error": {
                    "kind": "puppetlabs.orchestrator/execution-failure",
                    "msg": reason,
                    "details": {"node": run.name},
                }
            }
        elif not isinstance(value, dict):
            value = {"_output": value}
        results.append(
            {
                "target": run.name,
                "action": action,
                "object": object,
                "status": "success" if run.state == NodeState.FINISHED else "failure",
                "value": value,
            }
        )
    return results
