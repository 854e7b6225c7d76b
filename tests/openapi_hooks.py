"""Schemathesis hooks for the fuzz test of the OpenAPI document (SCHEMATHESIS_HOOKS names this
module): PQL queries for the `pql-query` format, and the check that a request the document
allows is never refused as malformed.

Schemathesis' own `positive_data_acceptance` judges by status alone, and the orchestrator
answers 400 for refusals that are not about the request's form (empty-target, query-error ...).
This check fails on a `validation-error` only, save for the refusals the document states in
words because JSON Schema cannot: each is listed here with the reason.
"""

from __future__ import annotations

import json
from typing import Any, Final

import schemathesis
from hypothesis import strategies as st

VALIDATION: Final = "puppetlabs.orchestrator/validation-error"

schemathesis.openapi.format(
    "pql-query",
    st.sampled_from(
        [
            'inventory[certname] { facts.os.family = "RedHat" }',
            'nodes[certname] { certname = "n-01" }',
            "nodes[certname] { }",
        ]
    ),
)


def _refused_for_a_documented_reason(case: schemathesis.Case[Any], details: dict[str, Any]) -> bool:
    query = case.query or {}
    if case.path == "/orchestrator/v1/jobs" and "task" in query and query.get("type") == "deploy":
        return True  # reference §3.3: task with type=deploy is a validation-error
    if {"as_of", "position"} <= details.keys():
        return True  # as_of past the log's last event: the log decides
    if "jobs" in details and case.path.endswith("/diff/{b}"):
        return True  # two jobs of different kinds
    if case.path == "/orchestrator/v1/usage" and "value" not in details:
        return True  # dates out of order, or a window too wide: a rule across two parameters
    if case.path == "/orchestrator/v1/command/rerun":
        return True  # named nodes that are not the job's
    if case.path == "/orchestrator/v1/command/plan_resume":
        return True  # from_step must be a step, and the plan job one Podium ran that failed
    fields = [str(error.get("field", "")) for error in details.get("errors", [])]
    if case.path.endswith("/environment_jobs/{id}") and any(f.startswith("input") for f in fields):
        return True  # a new input must fit the scheduled job's own type (task or deploy)
    if "task" in details:  # a task's own parameters and noop support, from its metadata
        return any(field.startswith("params.") for field in fields) or "noop" in str(details)
    # A node group the classifier does not have, or one without a rule of its own.
    return "node_group" in details and details.get("reason") in ("unknown", "no rule of its own")


@schemathesis.check
def not_refused_as_malformed(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case[Any]
) -> bool | None:
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or response.status_code != 400:
        return None
    try:
        body = json.loads(response.content)
    except ValueError as exc:
        raise AssertionError(f"A 400 that is not JSON: {response.content[:200]!r}") from exc
    if body.get("kind") != VALIDATION:
        return None  # empty-target, query-error ...: refusals of what the request names
    if _refused_for_a_documented_reason(case, body.get("details", {})):
        return None
    raise AssertionError(f"A request the document allows was refused as malformed: {body['msg']}")
