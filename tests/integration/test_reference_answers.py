"""Every read answer carries every key of the answer the reference documents for it.

tests/data/reference/answers.json holds the documented answers (written from
../shared/reference/orchestrator-api.md); each test reads one endpoint and compares key sets
at every level. A key Podium adds beyond the reference is listed in PODIUM_ADDS, so that an
addition is a choice and a missing key is a failure.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import pytest

from podium.jsontypes import Json
from tests.conftest import DATA, Api, running

DOCUMENTED: Final[dict[str, Json]] = json.loads(
    (DATA / "reference" / "answers.json").read_text(encoding="utf-8")
)
OPEN: Final = "..."  # a documented object holding this key may have keys beyond those listed

# Read endpoints the reference documents that are not built yet: each answers 404 until the
# issue that builds it deletes its line here; its answer is then compared like the others.
NOT_BUILT_YET: Final[dict[str, str]] = {}

# Keys Podium sends beyond the reference, by where they are ("items[]" is each element).
PODIUM_ADDS: Final[dict[str, set[str]]] = {
    # A task's own concurrency and timeout (the request's; README, "Walkthrough").
    "GET /jobs.items[].options": {"concurrency", "timeout"},
    # The node's facts, from PuppetDB when one is configured (README, "The inventory endpoints").
    "GET /inventory/<node>": {"facts"},
    "GET /inventory/<unknown node>": {"facts"},
    # The rest of a scheduled task's input, as the input table of §5.2 lists its keys.
    "GET /scheduled_jobs/environment_jobs.items[].input": {"scope", "noop", "concurrency"},
    "GET /scheduled_jobs/environment_jobs/<id>.input": {"scope", "noop", "concurrency"},
}


@dataclass(frozen=True, slots=True)
class Jobs:
    """A finished task job and a finished deploy job to read back, and a daily scheduled task
    that has run once."""

    api: Api
    task: str
    deploy: str
    scheduled: str


@pytest.fixture
async def jobs(tmp_path: Path) -> AsyncIterator[Jobs]:
    async with running(tmp_path / "data") as (_, api):
        task = await api.run_task(["n-01", "n-02"], description="check")
        status, answer = await api.post(
            "/command/deploy", {"environment": "production", "scope": {"nodes": ["n-03"]}}
        )
        assert status == 202, answer
        deploy = answer["job"]["name"]
        target = {
            "display_name": "web restarts",
            "tasks": ["testmod::echo"],
            "nodes": ["n-01"],
            "node_groups": ["00000000-0000-4000-8000-000000000000"],
            "pql_query": 'nodes[certname] { certname = "n-02" }',
        }
        status, answer = await api.post("/command/task_target", target)
        assert status == 200, answer
        for name in (task, deploy):
            await api.wait_job(name)
        status, answer = await api.post(
            "/command/plan_run",
            {"plan_name": "plantest", "params": {"targets": "localhost"}, "description": "a"},
        )
        assert status == 202, answer
        async with asyncio.timeout(20):
            while (await api.ok(f"/plan_jobs/{answer['name']}"))["state"] != "success":
                await asyncio.sleep(0.05)
        yield Jobs(api, task, deploy, await scheduled_and_run(api))


async def scheduled_and_run(api: Api) -> str:
    """A daily task whose first run is a second ahead: it has a last run and a next one."""
    start = datetime.fromtimestamp(time.time() + 1, UTC).isoformat()
    body = {
        "task": "testmod::echo",
        "params": {},
        "scope": {"nodes": ["n-01"]},
        "scheduled_time": start,
        "description": "nightly check",
        "schedule_options": {"interval": {"units": "seconds", "value": 86400}},
    }
    status, answer = await api.post("/command/schedule_task", body)
    assert status == 202, answer
    name = str(answer["scheduled_job"]["name"])
    async with asyncio.timeout(20):
        while not ((await api.ok(f"/{ENV_JOBS}/{name}"))["last_run"] or {}).get("job"):
            await asyncio.sleep(0.05)
    return name


async def get(api: Api, path: str) -> tuple[int, Json]:
    response = await api.client.get(path, headers=api.headers)
    return response.status, await response.json()


Read = Callable[[Jobs], Awaitable[tuple[int, Json]]]
V1: Final = "/orchestrator/v1"
ENV_JOBS: Final = "scheduled_jobs/environment_jobs"
READS: Final[dict[str, Read]] = {
    "GET /jobs": lambda j: get(j.api, f"{V1}/jobs?type=task"),
    "GET /jobs/<deploy job>": lambda j: get(j.api, f"{V1}/jobs/{j.deploy}"),
    "GET /jobs/<id>/nodes": lambda j: get(j.api, f"{V1}/jobs/{j.task}/nodes"),
    "GET /jobs/<id>/report": lambda j: get(j.api, f"{V1}/jobs/{j.task}/report"),
    "GET /jobs/<id>/events": lambda j: get(j.api, f"{V1}/jobs/{j.task}/events"),
    "GET /inventory": lambda j: get(j.api, f"{V1}/inventory"),
    "GET /inventory/<node>": lambda j: get(j.api, f"{V1}/inventory/n-01"),
    "GET /inventory/<unknown node>": lambda j: get(j.api, f"{V1}/inventory/node9.example.com"),
    "POST /inventory": lambda j: j.api.post("/inventory", {"nodes": ["n-01"]}),
    "GET /tasks": lambda j: get(j.api, f"{V1}/tasks?environment=production"),
    "GET /tasks/<module>/<task>": lambda j: get(j.api, f"{V1}/tasks/testmod/echo"),
    "GET /orchestrator/v1": lambda j: get(j.api, V1),
    "GET /orchestrator/v1/status": lambda j: get(j.api, f"{V1}/status"),
    "GET /environments": lambda j: get(j.api, f"{V1}/environments"),
    "GET /status/v1/services": lambda j: get(j.api, "/status/v1/services"),
    "GET /scopes/task_targets": lambda j: get(j.api, f"{V1}/scopes/task_targets"),
    "GET /scopes/task_targets/<id>": lambda j: get(j.api, f"{V1}/scopes/task_targets/1"),
    "GET /plans": lambda j: get(j.api, f"{V1}/plans?environment=production"),
    "GET /plans/<module>/<plan>": lambda j: get(j.api, f"{V1}/plans/plantest/init"),
    "GET /plan_jobs": lambda j: get(j.api, f"{V1}/plan_jobs"),
    "GET /plan_jobs/<id>": lambda j: get(j.api, f"{V1}/plan_jobs/1"),  # the fixture's one
    "GET /plan_jobs/<id>/events": lambda j: get(j.api, f"{V1}/plan_jobs/1/events"),
    "GET /scheduled_jobs": lambda j: get(j.api, f"{V1}/scheduled_jobs"),
    "GET /scheduled_jobs/environment_jobs": lambda j: get(j.api, f"{V1}/{ENV_JOBS}"),
    "GET /scheduled_jobs/environment_jobs/<id>": lambda j: get(
        j.api, f"{V1}/{ENV_JOBS}/{j.scheduled}"
    ),
}


def key_differences(answer: Json, documented: Json, where: str) -> list[str]:
    """Where the answer lacks a documented key, or has one neither documented nor in
    PODIUM_ADDS."""
    if isinstance(documented, dict):
        if not isinstance(answer, dict):
            return [f"{where}: {answer!r} is not an object"]
        keys = set(documented) - {OPEN}
        problems = [f"{where}: no {key!r}" for key in sorted(keys - set(answer))]
        if OPEN not in documented:
            extra = set(answer) - keys - PODIUM_ADDS.get(where, set())
            problems += [f"{where}: {key!r} is not documented" for key in sorted(extra)]
        for key in sorted(keys & set(answer)):
            problems += key_differences(answer[key], documented[key], f"{where}.{key}")
        return problems
    if isinstance(documented, list) and documented:
        if not isinstance(answer, list) or not answer:
            return [f"{where}: {answer!r} is not a list with elements"]
        return [
            p for element in answer for p in key_differences(element, documented[0], f"{where}[]")
        ]
    return []


@pytest.mark.parametrize("endpoint", [e for e in DOCUMENTED if e != "//"])
async def test_the_answer_has_every_documented_key(jobs: Jobs, endpoint: str) -> None:
    status, answer = await READS[endpoint](jobs)
    if endpoint in NOT_BUILT_YET:
        assert (status, answer["kind"]) == (404, "puppetlabs.orchestrator/not-found"), answer
        return
    assert status == 200, answer
    problems = key_differences(answer, DOCUMENTED[endpoint], endpoint)
    assert not problems, "\n".join(problems)


def test_every_endpoint_of_the_fixture_is_read() -> None:
    assert set(READS) == set(DOCUMENTED) - {"//"}
