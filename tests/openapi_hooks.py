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
from collections.abc import Callable
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


Case = schemathesis.Case[Any]
Details = dict[str, Any]


def _fields(details: Details) -> list[str]:
    return [str(error.get("field", "")) for error in details.get("errors", [])]


# Each refusal the operation's description states, as (why, whether an answer is one).
DOCUMENTED: Final[list[tuple[str, Callable[[Case, Details], bool]]]] = [
    (
        "task with type=deploy on /jobs (reference §3.3)",
        lambda case, _: (
            case.path == "/orchestrator/v1/jobs"
            and "task" in (case.query or {})
            and (case.query or {}).get("type") == "deploy"
        ),
    ),
    ("as_of past the log's last event", lambda _, details: {"as_of", "position"} <= details.keys()),
    (
        "two jobs of different kinds",
        lambda case, d: "jobs" in d and case.path.endswith("/diff/{b}"),
    ),
    (
        "usage dates out of order, or a window too wide",
        lambda case, details: case.path == "/orchestrator/v1/usage" and "value" not in details,
    ),
    ("rerun's named nodes not the job's", lambda case, _: case.path.endswith("/command/rerun")),
    (
        "plan_resume of a step the plan lacks, or of a plan job not failed or not Podium's",
        lambda case, _: case.path.endswith("/command/plan_resume"),
    ),
    (
        "a new input of another type than the scheduled job's",
        lambda case, details: (
            case.path.endswith("/environment_jobs/{id}")
            and any(field.startswith("input") for field in _fields(details))
        ),
    ),
    (
        "a task's own parameters or noop support",
        lambda _, details: (
            "task" in details
            and (any(f.startswith("params.") for f in _fields(details)) or "noop" in str(details))
        ),
    ),
    ("a plan's own parameters, or a plan outside the subset", lambda _, d: "plan" in d),
    (
        "a node group the classifier lacks, or one without a rule of its own",
        lambda _, details: (
            "node_group" in details and details.get("reason") in ("unknown", "no rule of its own")
        ),
    ),
]


@schemathesis.check
def not_refused_as_malformed(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: Case
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
    details = body.get("details", {})
    if any(applies(case, details) for _, applies in DOCUMENTED):
        return None
    raise AssertionError(f"A request the document allows was refused as malformed: {body['msg']}")
