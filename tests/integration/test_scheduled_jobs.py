"""Scheduled jobs over real HTTP on `podium serve`'s engine: schedule_task, /scheduled_jobs, the
environment-jobs API, firing as the owner, refusals at fire time, and a restart's missed runs."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import pytest

from podium.jsontypes import Json
from tests.conftest import ENVIRONMENTS, Api, running

ORCH: Final = "puppetlabs.orchestrator"
ECHO: Final = {"task": "testmod::echo", "params": {}, "scope": {"nodes": ["n-01"]}}


def at(seconds_ahead: float) -> str:
    return datetime.fromtimestamp(time.time() + seconds_ahead, UTC).isoformat()


def every(seconds: int) -> Json:
    return {"interval": {"units": "seconds", "value": seconds}}


async def schedule(api: Api, body: Json) -> str:
    status, answer = await api.post("/command/schedule_task", body)
    assert status == 202, answer
    return str(answer["scheduled_job"]["name"])


async def runs_of(api: Api, schedule_name: str) -> list[Json]:
    jobs = (await api.ok("/jobs?order_by=name"))["items"]
    return [job for job in jobs if job["options"].get("scheduled-job-id") == schedule_name]


async def wait_runs(api: Api, schedule_name: str, count: int, timeout_s: float = 20) -> list[Json]:
    async with asyncio.timeout(timeout_s):
        while len(runs := await runs_of(api, schedule_name)) < count:
            await asyncio.sleep(0.05)
    return runs


async def wait_last_run(api: Api, name: str, timeout_s: float = 20) -> Json:
    async with asyncio.timeout(timeout_s):
        while True:
            job = await api.ok(f"/scheduled_jobs/environment_jobs/{name}")
            if job["last_run"] is not None and job["last_run"]["job"] is not None:
                return job
            await asyncio.sleep(0.05)


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    environments = tmp_path / "environments"
    shutil.copytree(ENVIRONMENTS, environments, symlinks=True)
    async with running(tmp_path / "data", environments=environments) as (_, client):
        yield client


async def test_a_scheduled_task_runs_once_at_its_time_as_its_owner(api: Api) -> None:
    user = await api.as_new_user("ops", ["tasks:run:testmod::echo"])
    name = await schedule(user, {**ECHO, "scheduled_time": at(1.0), "description": "once"})
    listed = (await user.ok("/scheduled_jobs"))["items"]
    assert [item["name"] for item in listed] == [name]
    assert listed[0]["schedule_options"] == {"interval": None}
    [run] = await wait_runs(api, name, 1)
    assert run["owner"]["login"] == "ops"
    assert run["options"]["scheduled-job-id"] == name
    assert (await api.wait_job(run["name"]))["state"] == "finished"
    assert (await user.ok("/scheduled_jobs"))["items"] == []  # a one-off has no run to come
    item = await user.ok(f"/scheduled_jobs/environment_jobs/{name}")
    assert item["last_run"]["job"] == {"id": run["id"], "name": run["name"]}
    assert item["next_run"] is None
    await asyncio.sleep(1.5)
    assert len(await runs_of(api, name)) == 1


async def test_a_recurring_schedule_runs_every_interval_until_deleted(api: Api) -> None:
    body = {**ECHO, "scheduled_time": at(0.5), "schedule_options": every(1)}
    name = await schedule(api, body)
    runs = await wait_runs(api, name, 3)
    item = (await api.ok("/scheduled_jobs"))["items"][0]
    assert item["schedule_options"] == every(1)
    response = await api.client.delete(
        f"/orchestrator/v1/scheduled_jobs/{name}", headers=api.headers
    )
    assert (response.status, await response.read()) == (204, b"")
    made = len(await runs_of(api, name))
    assert made >= len(runs)
    await asyncio.sleep(2.5)
    assert len(await runs_of(api, name)) == made  # no run after the delete
    assert (await api.ok("/scheduled_jobs"))["items"] == []
    assert (await api.ok(f"/scheduled_jobs/environment_jobs/{name}"))["enabled"] is False


@pytest.mark.parametrize(
    ("change", "status", "kind"),
    [
        ({"scheduled_time": "2020-01-01T00:00:00Z"}, 400, "invalid-time"),
        ({"scheduled_time": "tomorrow"}, 400, "validation-error"),
        ({"scheduled_time": None}, 400, "validation-error"),
        ({"task": "testmod::nosuch"}, 404, "unknown-task"),
        ({"environment": "nosuch"}, 404, "unknown-environment"),
        ({"task": "testmod::typed", "params": {"name": 5}}, 400, "validation-error"),
        ({"scope": {"application": "Wordpress_app[demo]"}}, 400, "validation-error"),
        ({"scope": {"nodes": []}}, 400, "empty-target"),
        (
            {"schedule_options": {"interval": {"units": "days", "value": 1}}},
            400,
            "validation-error",
        ),
        (
            {"schedule_options": {"interval": {"units": "seconds", "value": 0}}},
            400,
            "validation-error",
        ),
    ],
)
async def test_schedule_task_refuses_what_task_refuses_and_records_nothing(
    api: Api, change: Json, status: int, kind: str
) -> None:
    body = {**ECHO, "scheduled_time": at(3600), **change}
    got, answer = await api.post("/command/schedule_task", body)
    assert (got, answer["kind"]) == (status, f"{ORCH}/{kind}"), answer
    assert set(answer) == {"kind", "msg", "details"}
    assert (await api.ok("/scheduled_jobs/environment_jobs"))["items"] == []


async def test_schedule_task_needs_the_permissions_of_task(api: Api) -> None:
    nobody = await api.as_new_user("nobody", [])
    status, answer = await nobody.post("/command/schedule_task", {**ECHO, "scheduled_time": at(60)})
    assert (status, answer["kind"]) == (403, f"{ORCH}/not-permitted"), answer


@pytest.mark.parametrize(
    "query",
    ["limit=-1", "limit=x", "offset=-2", "order=up", "order_by=owner", "type=job"],
)
async def test_bad_paging_of_scheduled_jobs_is_a_query_error(api: Api, query: str) -> None:
    status, answer = await api.get(f"/scheduled_jobs?{query}")
    assert (status, answer["kind"]) == (400, f"{ORCH}/query-error"), answer


async def test_scheduled_jobs_are_paged_and_ordered(api: Api) -> None:
    names = [await schedule(api, {**ECHO, "scheduled_time": at(3600 - 60 * i)}) for i in range(3)]
    page = await api.ok("/scheduled_jobs?limit=2&offset=0")
    assert [item["name"] for item in page["items"]] == [names[2], names[1]]  # soonest first
    assert page["pagination"] == {
        "limit": 2, "offset": 0, "order": "asc", "order_by": "next_run", "total": 3,
    }  # fmt: skip
    page = await api.ok("/scheduled_jobs?order_by=name&order=desc&offset=1")
    assert [item["name"] for item in page["items"]] == [names[1], names[0]]


async def test_only_the_owner_or_an_administrator_deletes_a_scheduled_job(api: Api) -> None:
    ops = await api.as_new_user("ops", ["tasks:run:testmod::echo", "orchestrator:view:*"])
    other = await api.as_new_user("other", ["tasks:run:testmod::echo", "orchestrator:view:*"])
    name = await schedule(ops, {**ECHO, "scheduled_time": at(3600)})
    url = f"/orchestrator/v1/scheduled_jobs/{name}"
    response = await other.client.delete(url, headers=other.headers)
    answer = await response.json()
    assert (response.status, answer["kind"]) == (403, f"{ORCH}/not-permitted"), answer
    assert answer["msg"] == f"not authorized to delete job {name}"
    response = await api.client.delete(url, headers=api.headers)  # the administrator
    assert response.status == 204
    for path, status in (("/scheduled_jobs/999", 204), ("/scheduled_jobs/x", 400)):
        response = await api.client.delete(f"/orchestrator/v1{path}", headers=api.headers)
        assert response.status == status


async def test_a_permission_revoked_before_the_run_refuses_the_run_and_the_schedule_goes_on(
    api: Api,
) -> None:
    """The run is refused (not skipped): a skip means the previous run is still going, while
    this occurrence did come and could not be made; its error is the schedule's last_run."""
    ops = await api.as_new_user("ops", ["tasks:run:testmod::echo"])
    name = await schedule(ops, {**ECHO, "scheduled_time": at(1.5), "schedule_options": every(1)})
    await api.admin("/roles/ops/revoke", {"permissions": ["tasks:run:testmod::echo"]})
    item = await wait_last_run(api, name)
    error = item["last_run"]["job"]["submission_error"]
    assert error["kind"] == f"{ORCH}/not-permitted", item
    assert await runs_of(api, name) == []
    await api.admin("/roles/ops/grant", {"permissions": ["tasks:run:testmod::echo"]})
    [run] = (await wait_runs(api, name, 1))[:1]  # the next occurrence runs again
    assert run["owner"]["login"] == "ops"


async def test_an_environment_gone_at_fire_time_is_the_last_run_and_the_schedule_goes_on(
    tmp_path: Path, api: Api
) -> None:
    environments = tmp_path / "environments"
    shutil.copytree(environments / "production", environments / "gone")
    body = {**ECHO, "environment": "gone", "scheduled_time": at(1.5), "schedule_options": every(1)}
    name = await schedule(api, body)
    shutil.rmtree(environments / "gone")
    item = await wait_last_run(api, name)
    assert item["last_run"]["job"]["submission_error"]["kind"] == f"{ORCH}/unknown-environment"
    first = item["last_run"]["time"]
    async with asyncio.timeout(10):
        while (await wait_last_run(api, name))["last_run"]["time"] == first:
            await asyncio.sleep(0.1)  # the next occurrence is tried too
    assert (await api.ok(f"/scheduled_jobs/environment_jobs/{name}"))["enabled"] is True


async def test_environment_jobs_are_made_read_changed_and_disabled(api: Api) -> None:
    body = {
        "type": "task",
        "environment": "production",
        "input": {"name": "testmod::echo", "parameters": {}, "scope": {"nodes": ["n-01"]}},
        "schedule": {"start_time": at(3600), "interval": {"units": "seconds", "value": 86400}},
        "description": "nightly echo",
        "userdata": {"team": "ops"},
    }
    status, answer = await api.post("/scheduled_jobs/environment_jobs", body)
    assert status == 200, answer
    name = answer["scheduled_job"]["name"]
    assert answer["scheduled_job"]["id"].endswith(f"/scheduled_jobs/environment_jobs/{name}")
    item = await api.ok(f"/scheduled_jobs/environment_jobs/{name}")
    assert (item["type"], item["enabled"], item["description"]) == ("task", True, "nightly echo")
    assert item["input"]["name"] == "testmod::echo"
    assert item["schedule"]["interval"] == {"units": "seconds", "value": 86400}
    assert item["next_run"] == {"time": item["schedule"]["start_time"]}
    assert item["last_run"] is None
    assert item["userdata"] == {"team": "ops"}
    response = await api.client.put(
        f"/orchestrator/v1/scheduled_jobs/environment_jobs/{name}",
        json={"description": "changed", "schedule": {"start_time": at(7200)}},
        headers=api.headers,
    )
    assert response.status == 200, await response.text()
    item = await api.ok(f"/scheduled_jobs/environment_jobs/{name}")
    assert (item["description"], item["schedule"]["interval"]) == ("changed", None)
    assert item["input"]["name"] == "testmod::echo"  # a key not given is kept
    for change, status, kind in (
        ({"schedule": {"start_time": "2020-01-01T00:00:00Z"}}, 400, "invalid-time"),
        ({"input": {"name": "testmod::nosuch", "scope": {"nodes": ["n-01"]}}}, 404, "unknown-task"),
        ({"enabled": False}, 200, None),
        ({"enabled": True}, 400, "disabled-scheduled-job"),
    ):
        response = await api.client.put(
            f"/orchestrator/v1/scheduled_jobs/environment_jobs/{name}",
            json=change,
            headers=api.headers,
        )
        answer = await response.json()
        assert response.status == status, answer
        if kind is not None:
            assert answer["kind"] == f"{ORCH}/{kind}", answer
    assert (await api.ok(f"/scheduled_jobs/environment_jobs/{name}"))["enabled"] is False


async def test_a_scheduled_deploy_runs_as_a_deploy_job(api: Api) -> None:
    body = {
        "type": "deploy",
        "environment": "production",
        "input": {"scope": {"nodes": ["n-02"]}, "noop": True},
        "schedule": {"start_time": at(1.0)},
    }
    status, answer = await api.post("/scheduled_jobs/environment_jobs", body)
    assert status == 200, answer
    item = await wait_last_run(api, answer["scheduled_job"]["name"])
    job = await api.wait_job(item["last_run"]["job"]["name"])
    assert (job["type"], job["options"]["noop"], job["state"]) == ("deploy", True, "finished")


async def test_a_scheduled_plan_runs_as_a_plan_job_of_its_owner(api: Api) -> None:
    """Type plan: each parameter wrapped as environment_plan_run takes it, a query resolved
    when the run is made; the plan job names the scheduled job in its options."""
    ops = await api.as_new_user(
        "ops", ["plans:run:plantest", "tasks:run:testmod::echo", "nodes:view_data:*"]
    )
    query = 'nodes[certname] { certname = "localhost" }'
    body = {
        "type": "plan",
        "input": {
            "name": "plantest",
            "parameters": {"targets": {"type": "query", "value": query}, "pkg": {"value": "vim"}},
        },
        "schedule": {"start_time": at(1.0), "interval": None},
    }
    status, answer = await ops.post("/scheduled_jobs/environment_jobs", body)
    assert status == 200, answer
    name = answer["scheduled_job"]["name"]
    listed = (await ops.ok("/scheduled_jobs?type=plan"))["items"]
    assert [(item["name"], item["plan"]) for item in listed] == [(name, "plantest")]
    item = await wait_last_run(ops, name)
    run = item["last_run"]["job"]
    assert run["id"].endswith(f"/plan_jobs/{run['name']}")
    async with asyncio.timeout(20):
        while (plan := await ops.ok(f"/plan_jobs/{run['name']}"))["state"] not in (
            "success",
            "failure",
        ):
            await asyncio.sleep(0.05)
    assert plan["state"] == "success", plan["result"]
    assert plan["options"]["scheduled_job_id"] == name
    assert plan["owner"]["login"] == "ops"
    assert plan["result"]["targets"] == ["localhost"]  # the query, resolved when it ran
    assert item["input"] == body["input"]


@pytest.mark.parametrize(
    ("given", "status", "kind"),
    [
        ({"name": "plantest::nosuch"}, 404, "unknown-plan"),
        ({"name": "plantest", "parameters": {"count": {"value": "many"}}}, 400, "validation-error"),
        ({"name": "plantest", "parameters": {"targets": ["n-01"]}}, 400, "validation-error"),
    ],
)
async def test_a_scheduled_plan_is_checked_as_plan_run_checks_it(
    api: Api, given: Json, status: int, kind: str
) -> None:
    body = {"type": "plan", "input": given, "schedule": {"start_time": at(3600)}}
    got, answer = await api.post("/scheduled_jobs/environment_jobs", body)
    assert (got, answer["kind"]) == (status, f"{ORCH}/{kind}"), answer
    assert (await api.ok("/scheduled_jobs/environment_jobs"))["items"] == []


@pytest.mark.parametrize(
    ("path", "status", "kind"),
    [
        ("/scheduled_jobs/environment_jobs/7", 404, "unknown-job"),
        ("/scheduled_jobs/environment_jobs/x", 400, "validation-error"),
        ("/scheduled_jobs/environment_jobs?limit=x", 400, "query-error"),
        ("/scheduled_jobs/environment_jobs?order_by=next_run", 400, "query-error"),
    ],
)
async def test_environment_job_reads_refuse_bad_ids_and_paging(
    api: Api, path: str, status: int, kind: str
) -> None:
    got, answer = await api.get(path)
    assert (got, answer["kind"]) == (status, f"{ORCH}/{kind}"), answer


async def test_after_a_restart_the_missed_runs_run_once_and_the_schedule_keeps_its_times(
    tmp_path: Path,
) -> None:
    data = tmp_path / "restart"
    async with running(data) as (engine, api):
        name = await schedule(
            api, {**ECHO, "scheduled_time": at(1.0), "schedule_options": every(1)}
        )
        await wait_runs(api, name, 1)
        fired_before = engine.projector.state.schedules[name].fired
    await asyncio.sleep(4.5)  # nothing runs for four intervals or so
    async with running(data) as (engine, api):
        schedule_state = engine.projector.state.schedules[name]
        async with asyncio.timeout(10):
            while schedule_state.fired < fired_before + 2:
                await asyncio.sleep(0.05)
        log = [e for e in engine.projector.state.schedules.values() if e.name == name]
        assert log == [schedule_state]
        assert schedule_state.missed >= 3  # recorded as missed, not run
        assert schedule_state.fired == fired_before + 2  # the first after the restart ran once
        occurrence = schedule_state.last_run.occurrence if schedule_state.last_run else None
        assert occurrence is not None
        assert (occurrence - schedule_state.start) % 1 == 0  # still on the schedule's times
        runs = await wait_runs(api, name, schedule_state.fired)
        assert len(runs) == schedule_state.fired


async def test_an_empty_target_at_fire_time_is_the_last_run_and_the_schedule_goes_on(
    tmp_path: Path,
) -> None:
    """The query matched a node when the schedule was made; the node has left the inventory
    when the run comes: the run is refused as /command/task would be, and the schedule goes on
    (the node back, the next run is made)."""
    inventory = tmp_path / "inventory.yaml"
    with_node = "version: 2\nconfig: {transport: sim}\ntargets: [n-01, n-02]\n"
    inventory.write_text(with_node)
    async with running(tmp_path / "data", inventory=inventory) as (_, api):
        scope = {"query": 'inventory[certname] { certname = "n-01" }'}
        body = {**ECHO, "scope": scope, "scheduled_time": at(3), "schedule_options": every(1)}
        name = await schedule(api, body)
        inventory.write_text("version: 2\nconfig: {transport: sim}\ntargets: [n-02]\n")
        status, answer = await api.post("/inventory/reload", {})
        assert status == 200, answer
        item = await wait_last_run(api, name)
        assert item["last_run"]["job"]["submission_error"]["kind"] == f"{ORCH}/empty-target"
        assert await runs_of(api, name) == []
        inventory.write_text(with_node)
        status, answer = await api.post("/inventory/reload", {})
        assert status == 200, answer
        [run] = (await wait_runs(api, name, 1))[:1]
        job = await api.wait_job(run["name"])
        assert [n["name"] for n in (await api.ok(f"/jobs/{job['name']}/nodes"))["items"]] == [
            "n-01"
        ]
