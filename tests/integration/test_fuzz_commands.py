"""Random JSON of every type and size, posted to every command endpoint: the answer is never a
500 and always JSON, and an answer in the 4xx range leaves the log as it was."""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Final

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from podium.engine import Engine
from podium.jsontypes import Json
from tests.conftest import Api, running

COMMANDS: Final = [
    "/orchestrator/v1/command/deploy",
    "/orchestrator/v1/command/task",
    "/orchestrator/v1/command/stop",
    "/orchestrator/v1/command/rerun",
    "/orchestrator/v1/command/task_target",
    "/orchestrator/v1/command/schedule_task",
    "/orchestrator/v1/scheduled_jobs/environment_jobs",
    "/orchestrator/v1/command/plan_run",
    "/orchestrator/v1/command/environment_plan_run",
    "/orchestrator/v1/command/stop_plan",
    "/orchestrator/v1/command/plan_resume",
    "/orchestrator/v1/command/plan_start",
    "/orchestrator/v1/command/plan_task",
    "/orchestrator/v1/command/plan_finish",
    "/orchestrator/v1/inventory",
    "/orchestrator/v1/inventory/reload",
    "/podium/v1/users",
    "/podium/v1/users/nobody/disable",
    "/podium/v1/roles",
    "/podium/v1/roles/nothing/grant",
    "/podium/v1/roles/nothing/revoke",
    "/podium/v1/roles/nothing/assign",
    "/podium/v1/tokens",
    "/podium/v1/tokens/9999/revoke",
]
# Keys the endpoints know, so that random bodies get past "not an object" into the fields.
KEYS: Final = [
    "environment", "scope", "nodes", "query", "node_group", "application", "task", "params",
    "job", "force", "concurrency", "timeout", "userdata", "noop", "no_noop", "description",
    "target", "login", "name", "permissions", "roles", "user", "expires", "display_name",
    "object_type", "action", "instance", "lifetime", "email", "scheduled_time",
    "schedule_options", "interval", "units", "value", "type", "input", "schedule", "start_time",
    "plan_name", "plan_job", "from_step", "status", "result",
]  # fmt: skip
LATER: Final = "2099-01-01T00:00:00Z"

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=2**62, max_value=2**80) | st.integers(max_value=-(2**62)),
    st.floats(),  # NaN and the infinities included: json.dumps writes them as NaN, Infinity
    st.text(max_size=40),
    st.sampled_from(["production", "testmod::echo", "n-01", "1", "", "x" * 5000]),
)
# What once got a 500 or an answer that is not JSON: integers past 64 bits, NaN, infinities.
edges = st.sampled_from([2**64, -(2**63) - 1, 2**100, math.nan, math.inf, -math.inf])
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=8)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=10), inner, max_size=8)
    ),
    max_leaves=30,
)
VALID: Final[dict[str, dict[str, Json]]] = {
    "/orchestrator/v1/command/task": {
        "task": "testmod::echo", "params": {}, "scope": {"nodes": ["n-01"]},
    },
    "/orchestrator/v1/command/deploy": {
        "environment": "production", "scope": {"nodes": ["n-01"]}, "enforce_environment": False,
    },
    "/orchestrator/v1/command/stop": {"job": "1"},
    "/orchestrator/v1/command/schedule_task": {
        "task": "testmod::echo", "params": {}, "scope": {"nodes": ["n-01"]},
        "scheduled_time": LATER,
        "schedule_options": {"interval": {"units": "seconds", "value": 60}},
    },
    "/orchestrator/v1/scheduled_jobs/environment_jobs": {
        "type": "task", "input": {"name": "testmod::echo", "scope": {"nodes": ["n-01"]}},
        "schedule": {"start_time": LATER, "interval": None},
    },
    "/orchestrator/v1/command/rerun": {"job": "1", "nodes": "all"},
    "/orchestrator/v1/inventory": {"nodes": ["n-01"]},
    "/orchestrator/v1/command/plan_run": {
        "plan_name": "plantest::nested::inner", "params": {"targets": "n-01", "word": "w"},
    },
    "/orchestrator/v1/command/stop_plan": {"plan_job": "1"},
    "/orchestrator/v1/command/plan_resume": {"plan_job": "1", "from_step": 1},
    "/orchestrator/v1/command/plan_finish": {"plan_job": "1", "status": "failure"},
}  # fmt: skip
# A valid body of a command, sent to it, with one key given a random value: the fields inside.
nearly_valid = st.builds(
    lambda path, key, value: (path, {**VALID[path], key: value}),
    st.sampled_from(sorted(VALID)),
    st.sampled_from(["userdata", "concurrency", "timeout", "job"]) | st.sampled_from(KEYS),
    edges | values | st.dictionaries(st.text(max_size=5), edges, min_size=1, max_size=3),
)
bodies = st.one_of(
    values,
    st.dictionaries(st.sampled_from(KEYS), values, min_size=1, max_size=6),
    st.lists(st.integers(), min_size=2000, max_size=3000),  # large
)
requests = st.one_of(nearly_valid, nearly_valid, st.tuples(st.sampled_from(COMMANDS), bodies))


SLOWPOKES: Final[Json] = {"nodes": ["slow-1", "n-01"]}


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[Engine, Api]]:
    async with running(tmp_path / "data") as pair:
        yield pair


async def quiet_position(engine: Engine, settle_s: float = 0.05, timeout_s: float = 60) -> int:
    """The log's position once no job or plan is running and nothing was appended for
    `settle_s` (the scheduler's last steps after a job ends)."""
    state = engine.projector.state
    async with asyncio.timeout(timeout_s):
        while True:
            while state.active or state.active_plans:
                await asyncio.sleep(0.02)
            position = state.position
            await asyncio.sleep(settle_s)
            if state.position == position and not (state.active or state.active_plans):
                return position


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(request=requests)
@example(  # a minute a run: stopped, not waited for
    request=("/orchestrator/v1/command/deploy", {"environment": "production", "scope": SLOWPOKES})
)
async def test_no_body_gets_a_500_or_an_answer_that_is_not_json(
    served: tuple[Engine, Api], request: tuple[str, Json]
) -> None:
    engine, api = served
    path, body = request
    before = await quiet_position(engine)
    text = json.dumps(body)  # NaN and Infinity as Python writes them: not JSON
    response = await api.client.post(
        path, data=text.encode(), headers={**api.headers, "Content-Type": "application/json"}
    )
    answer = json.loads(await response.text(), parse_constant=_refuse_constant)
    assert response.status < 500, (path, text[:200], answer)
    if response.status < 300:  # what it started ends before the next example is sent
        await ended(engine, api)
    if response.status >= 400:
        assert set(answer) == {"kind", "msg", "details"}, answer
        assert engine.projector is not None
        assert engine.projector.state.position == before, (path, text[:200], answer)


async def ended(engine: Engine, api: Api) -> None:
    """What a command started has ended. A scope may take in the slowpokes (a minute a run:
    the All Nodes group, a query matching every node); what still runs after a second is
    stopped, by force."""
    try:
        await quiet_position(engine, settle_s=0.1, timeout_s=1)
        return
    except TimeoutError:
        pass
    state = engine.projector.state
    for plan in list(state.active_plans):
        status, answer = await api.post("/command/stop_plan", {"plan_job": plan})
        assert status == 202, answer
    for job in list(state.active):
        status, answer = await api.post("/command/stop", {"job": job, "force": True})
        assert status == 202, answer
    await quiet_position(engine, settle_s=0.1)


def _refuse_constant(name: str) -> float:
    raise AssertionError(f"the answer holds {name}, which is not JSON")
