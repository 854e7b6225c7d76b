"""POST /command/rerun over real HTTP: a job's command again over all, the failed or some of
its nodes, checked and refused exactly as a new command would be."""

from __future__ import annotations

import shutil
from pathlib import Path

from podium.jsontypes import Json
from tests.conftest import ENVIRONMENTS, Api, running
from tests.integration.test_api_commands import expect_error, job_count

FLAKY = ["n-01", "flaky-1", "flaky-2", "flaky-3", "flaky-4"]


async def rerun(api: Api, body: Json) -> Json:
    """The new job, as GET /jobs/<id> shows it."""
    status, answer = await api.post("/command/rerun", body)
    assert status == 202, answer
    assert set(answer) == {"job"}
    assert set(answer["job"]) == {"id", "name"}
    return await api.ok(f"/jobs/{answer['job']['name']}")


async def node_states(api: Api, name: str) -> dict[str, str]:
    items = (await api.ok(f"/jobs/{name}/nodes"))["items"]
    return {item["name"]: item["state"] for item in items}


async def test_a_rerun_of_all_nodes_runs_the_same_task_and_options_again(api: Api) -> None:
    first = await api.run_task(
        ["n-02", "n-01"], params={"x": 1}, description="first", concurrency=1, timeout=30
    )
    original = await api.wait_job(first)
    again = await rerun(api, {"job": first, "nodes": "all"})
    assert again["options"] == {
        **original["options"],
        "scope": {"nodes": ["n-02", "n-01"]},
        "rerun_of": first,
    }
    assert again["description"] == "first"
    assert "rerun_of" not in original["options"]
    finished = await api.wait_job(again["name"])
    assert finished["node_states"] == {"finished": 2}
    results = {i["name"]: i["result"] for i in (await api.ok(f"/jobs/{first}/nodes"))["items"]}
    rerun_items = (await api.ok(f"/jobs/{again['name']}/nodes"))["items"]
    assert {item["name"]: item["result"] for item in rerun_items} == results
    assert set(results) == {"n-01", "n-02"}
    assert all(results.values())


async def test_a_rerun_of_the_failed_nodes_runs_exactly_those_that_failed_or_errored(
    api: Api,
) -> None:
    first = await api.run_task(FLAKY)
    await api.wait_job(first)
    states = await node_states(api, first)
    bad = [node for node in FLAKY if states[node] in ("failed", "errored")]
    assert 0 < len(bad) < len(FLAKY), states  # the seeded sim fails some, not all
    again = await rerun(api, {"job": first, "nodes": "failed", "description": "retry"})
    assert again["options"]["scope"] == {"nodes": bad}
    assert again["description"] == "retry"
    assert again["node_count"] == len(bad)


async def test_a_rerun_of_named_nodes_keeps_the_jobs_order_and_refuses_strangers(
    api: Api,
) -> None:
    first = await api.run_task(["n-01", "n-02", "n-03"])
    await api.wait_job(first)
    again = await rerun(api, {"job": first, "nodes": ["n-03", "n-01", "n-03"]})
    assert again["options"]["scope"] == {"nodes": ["n-01", "n-03"]}
    before = await job_count(api)
    answer = await expect_error(
        api,
        "/command/rerun",
        {"job": first, "nodes": ["n-01", "n-04", "nowhere"]},
        400,
        "validation-error",
    )
    assert answer["details"]["nodes"] == ["n-04", "nowhere"]
    assert "n-04" in answer["msg"]
    assert "nowhere" in answer["msg"]
    assert await job_count(api) == before


async def test_a_rerun_of_failed_nodes_when_none_failed_is_empty_target(api: Api) -> None:
    first = await api.run_task(["n-01"])
    await api.wait_job(first)
    await expect_error(
        api, "/command/rerun", {"job": first, "nodes": "failed"}, 400, "empty-target"
    )


async def test_a_deploy_is_rerun_with_its_flags(api: Api) -> None:
    body = {
        "environment": "production",
        "scope": {"nodes": ["n-01", "n-02"]},
        "noop": True,
        "debug": True,
        "concurrency": 1,
        "userdata": {"ticket": "OPS-1"},
    }
    status, answer = await api.post("/command/deploy", body)
    assert status == 202, answer
    first = answer["job"]["name"]
    original = await api.wait_job(first)
    again = await rerun(api, {"job": first, "nodes": ["n-02"]})
    assert again["type"] == "deploy"
    assert again["options"] == {
        **original["options"],
        "scope": {"nodes": ["n-02"]},
        "rerun_of": first,
    }
    finished = await api.wait_job(again["name"])
    assert finished["node_states"] == {"finished": 1}


async def test_bad_reruns_get_the_apis_errors_and_change_nothing(api: Api) -> None:
    first = await api.run_task(["n-01"])
    before = await job_count(api)
    await expect_error(api, "/command/rerun", {"job": "999", "nodes": "all"}, 404, "unknown-job")
    bodies: list[Json] = [
        {"job": first},
        {"job": first, "nodes": "some"},
        {"job": first, "nodes": []},
        {"job": first, "nodes": [""]},
        {"job": "x", "nodes": "all"},
        {"job": first, "nodes": "all", "description": 3},
        [],
    ]
    for body in bodies:
        await expect_error(api, "/command/rerun", body, 400, "validation-error")
    status, answer = await api.post_raw("/command/rerun", b"{not json")
    assert (status, answer["kind"]) == (400, "puppetlabs.orchestrator/validation-error")
    assert await job_count(api) == before


async def test_a_rerun_checks_permissions_as_a_new_command(api: Api) -> None:
    first = await api.run_task(["n-01"])
    await api.wait_job(first)
    stranger = await api.as_new_user("stranger", ["tasks:run:*"])
    await expect_error(
        stranger, "/command/rerun", {"job": first, "nodes": "all"}, 403, "not-permitted"
    )
    viewer = await api.as_new_user("onlooker", ["orchestrator:view:*"])
    answer = await expect_error(
        viewer, "/command/rerun", {"job": first, "nodes": "all"}, 403, "not-permitted"
    )
    assert "testmod::echo" in answer["msg"]
    echoer = await api.as_new_user("echoer", ["orchestrator:view:*", "tasks:run:testmod::echo"])
    again = await rerun(echoer, {"job": first, "nodes": "all"})
    assert again["owner"]["login"] == "echoer"


async def test_a_rerun_after_the_task_or_environment_is_gone_gets_a_new_commands_errors(
    tmp_path: Path,
) -> None:
    environments = tmp_path / "environments"
    shutil.copytree(ENVIRONMENTS, environments)
    async with running(tmp_path / "data", environments=environments) as (_, api):
        echo = await api.run_task(["n-01"])
        package = await api.run_task(
            ["n-01"], task="package", environment="test-env-1", params={"action": "status"}
        )
        await api.wait_job(echo)
        await api.wait_job(package)
        for file in ("echo.sh", "echo.json"):
            (environments / "production/modules/testmod/tasks" / file).unlink()
        shutil.rmtree(environments / "test-env-1")
        before = await job_count(api)
        answer = await expect_error(
            api, "/command/rerun", {"job": echo, "nodes": "all"}, 404, "unknown-task"
        )
        assert answer["details"]["task"] == "testmod::echo"
        answer = await expect_error(
            api, "/command/rerun", {"job": package, "nodes": "all"}, 404, "unknown-environment"
        )
        assert answer["details"] == {"environment": "test-env-1"}
        assert await job_count(api) == before
