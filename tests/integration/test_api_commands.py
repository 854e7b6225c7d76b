"""The command endpoint over real HTTP: every rule of the spec, every error kind."""

from __future__ import annotations

from pathlib import Path

import pytest

from podium.jsontypes import Json
from tests.conftest import Api, running

ORCH = "puppetlabs.orchestrator"
NODE_STATES = {"new", "running", "finished", "failed", "errored", "skipped"}


async def expect_error(api: Api, path: str, body: Json, status: int, kind: str) -> Json:
    got_status, answer = await api.post(path, body)
    assert (got_status, answer.get("kind")) == (status, f"{ORCH}/{kind}"), answer
    assert set(answer) == {"kind", "msg", "details"}
    assert isinstance(answer["msg"], str)
    assert answer["msg"]
    return answer


async def job_count(api: Api) -> int:
    return int((await api.ok("/jobs"))["pagination"]["total"])


def task_body(**overrides: Json) -> Json:
    body: dict[str, Json] = {"task": "testmod::echo", "params": {}, "scope": {"nodes": ["n-01"]}}
    body.update(overrides)
    return {key: value for key, value in body.items() if value is not ...}


async def test_a_task_is_accepted_with_an_absolute_job_url_and_is_readable_at_once(
    api: Api,
) -> None:
    status, answer = await api.post("/command/task", task_body())
    assert status == 202
    name = answer["job"]["name"]
    host = f"{api.client.server.host}:{api.client.server.port}"
    assert answer == {"job": {"id": f"http://{host}/orchestrator/v1/jobs/{name}", "name": name}}
    job = await api.ok(f"/jobs/{name}")  # read-your-writes: no waiting
    assert job["options"]["environment"] == "production"  # the default
    assert job["options"]["task"] == "testmod::echo"
    assert job["options"]["scope"] == {"nodes": ["n-01"]}
    assert job["node_count"] == 1


async def test_job_names_are_dense_integers(api: Api) -> None:
    names = [await api.run_task(["n-01"]) for _ in range(3)]
    assert names == ["1", "2", "3"]


async def test_the_absolute_url_follows_an_allowed_host_header(tmp_path: Path) -> None:
    async with running(tmp_path / "data", allowed_hosts=("orch.example.com",)) as (_, api):
        response = await api.client.post(
            "/orchestrator/v1/command/task",
            json=task_body(),
            headers={**api.headers, "Host": "orch.example.com:8143"},
        )
        answer = await response.json()
    assert answer["job"]["id"] == "http://orch.example.com:8143/orchestrator/v1/jobs/1"


async def test_a_deploy_takes_every_documented_key(api: Api) -> None:
    body = {
        "environment": "production",
        "scope": {"nodes": ["n-01", "n-02", "n-01"]},
        "description": "rollout",
        "noop": True,
        "concurrency": 1,
        "enforce_environment": False,
        "debug": True,
        "trace": True,
        "evaltrace": True,
    }
    status, answer = await api.post("/command/deploy", body)
    assert status == 202, answer
    job = await api.ok(f"/jobs/{answer['job']['name']}")
    assert job["type"] == "deploy"
    assert job["node_count"] == 2  # a node named twice runs once
    assert job["options"] == {
        "environment": "production",
        "scope": {"nodes": ["n-01", "n-02", "n-01"]},
        "noop": True,
        "no_noop": False,
        "concurrency": 1,
        "enforce_environment": False,
        "debug": True,
        "trace": True,
        "evaltrace": True,
        "target": None,
        "description": "rollout",
    }
    assert job["description"] == "rollout"


async def test_a_deploy_without_scope_or_target_deploys_the_whole_inventory(api: Api) -> None:
    status, answer = await api.post("/command/deploy", {"environment": "production"})
    assert status == 202, answer
    job = await api.ok(f"/jobs/{answer['job']['name']}")
    assert job["node_count"] == 13
    assert job["options"]["scope"] == {}


@pytest.mark.parametrize("enforce", [{}, {"enforce_environment": False}])
async def test_a_deploy_to_the_agents_own_environment_enforces_nothing(
    api: Api, enforce: Json
) -> None:
    body = {"environment": "", "scope": {"nodes": ["n-01"]}, **enforce}
    status, answer = await api.post("/command/deploy", body)
    assert status == 202, answer
    job = await api.ok(f"/jobs/{answer['job']['name']}")
    assert job["options"]["enforce_environment"] is False


async def test_a_deploy_to_the_agents_own_environment_cannot_enforce_one(api: Api) -> None:
    body = {"environment": "", "scope": {"nodes": ["n-01"]}, "enforce_environment": True}
    answer = await expect_error(api, "/command/deploy", body, 400, "validation-error")
    assert "enforce_environment" in answer["msg"]


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/command/deploy", {"scope": {"nodes": ["n-01"]}}, "environment"),
        ("/command/deploy", {"environment": 5, "scope": {"nodes": ["n-01"]}}, "environment"),
        ("/command/deploy", {"environment": "production", "noop": True, "no_noop": True}, ""),
        ("/command/deploy", {"environment": "production", "noop": "true"}, "noop"),
        ("/command/deploy", {"environment": "production", "concurrency": 0}, "concurrency"),
        ("/command/deploy", {"environment": "production", "concurrency": -3}, "concurrency"),
        ("/command/deploy", {"environment": "production", "concurrency": "3"}, "concurrency"),
        ("/command/deploy", {"environment": "production", "concurrency": 1.5}, "concurrency"),
        ("/command/deploy", {"environment": "production", "scope": {}}, "scope"),
        (
            "/command/deploy",
            {"environment": "production", "scope": {"nodes": ["a"], "node_group": "x"}},
            "scope",
        ),
        (
            "/command/deploy",
            {"environment": "production", "scope": {"hosts": ["a"]}},
            "scope.hosts",
        ),
        (
            "/command/deploy",
            {"environment": "production", "scope": {"nodes": "n-01"}},
            "scope.nodes",
        ),
        (
            "/command/deploy",
            {"environment": "production", "scope": {"nodes": [""]}},
            "scope.nodes.0",
        ),
        (
            "/command/deploy",
            {"environment": "production", "scope": {"nodes": ["a b"]}},
            "scope.nodes.0",
        ),
        ("/command/deploy", {"environment": "production", "scope": ["n-01"]}, "scope"),
        (
            "/command/deploy",
            {"environment": "production", "scope": {"nodes": ["a"]}, "target": "x"},
            "",
        ),
        ("/command/deploy", {"environment": "Prod!", "scope": {"nodes": ["a"]}}, ""),
        ("/command/task", task_body(task=...), "task"),
        ("/command/task", task_body(params=...), "params"),
        ("/command/task", task_body(scope=...), "scope"),
        ("/command/task", task_body(params=[]), "params"),
        ("/command/task", task_body(task=7), "task"),
        ("/command/task", task_body(task="Bad::Name"), ""),
        ("/command/task", task_body(task="testmod::"), ""),
        ("/command/task", task_body(scope={"application": "App[x]"}), ""),
        ("/command/task", task_body(noop=True), ""),
        ("/command/task", task_body(params={"n": 2**70}), ""),
        ("/command/stop", {}, "job"),
        ("/command/stop", {"job": "abc"}, "job"),
        ("/command/stop", {"job": "0"}, "job"),
        ("/command/stop", {"job": "1", "force": "yes"}, "force"),
    ],
)
async def test_bad_commands_get_a_validation_error_naming_the_field_and_change_nothing(
    api: Api, path: str, body: Json, field: str
) -> None:
    answer = await expect_error(api, path, body, 400, "validation-error")
    if field:
        assert field in [error["field"] for error in answer["details"]["errors"]], answer
        assert field in answer["msg"]
    assert await job_count(api) == 0


@pytest.mark.parametrize(
    "data",
    [b"", b"not json", b"{", b"[]", b"42", b'"text"', b"null", b'{"task": "x"', "{é}".encode()],
)
async def test_a_body_that_is_not_a_json_object_is_a_validation_error(
    api: Api, data: bytes
) -> None:
    status, answer = await api.post_raw("/command/task", data)
    assert (status, answer["kind"]) == (400, f"{ORCH}/validation-error")
    assert "JSON" in answer["msg"]
    assert await job_count(api) == 0


async def test_a_body_over_one_mebibyte_is_refused_with_413(api: Api) -> None:
    big = {**task_body(), "params": {"blob": "x" * (1024 * 1024)}}
    status, answer = await api.post("/command/task", big)
    assert (status, answer["kind"]) == (413, f"{ORCH}/validation-error")
    assert await job_count(api) == 0


@pytest.mark.parametrize(
    ("path", "body", "status", "kind"),
    [
        ("/command/task", task_body(environment="nowhere"), 404, "unknown-environment"),
        ("/command/deploy", {"environment": "nowhere"}, 404, "unknown-environment"),
        ("/command/task", task_body(task="testmod::nope"), 404, "unknown-task"),
        ("/command/task", task_body(task="nomodule"), 404, "unknown-task"),
        ("/command/task", task_body(scope={"nodes": []}), 400, "empty-target"),
        (
            "/command/deploy",
            {"environment": "production", "scope": {"nodes": []}},
            400,
            "empty-target",
        ),
        ("/command/stop", {"job": "99"}, 404, "unknown-job"),
        ("/command/stop", {"job": 99}, 404, "unknown-job"),
    ],
)
async def test_unknown_things_get_their_own_error_kinds(
    api: Api, path: str, body: Json, status: int, kind: str
) -> None:
    await expect_error(api, path, body, status, kind)
    assert await job_count(api) == 0


@pytest.mark.parametrize(
    "inventory_text",
    [
        "version: 2\n",  # no nodes at all
        "targets:\n  - name: dev-1\n    vars: {environment: dev}\n",  # none in production
    ],
)
async def test_a_deploy_of_an_environment_without_nodes_is_empty_environment(
    tmp_path: Path, inventory_text: str
) -> None:
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(inventory_text)
    async with running(tmp_path / "data", inventory=inventory) as (_, api):
        answer = await expect_error(
            api, "/command/deploy", {"environment": "production"}, 400, "empty-environment"
        )
        assert "no nodes and no applications" in answer["msg"]
        assert await job_count(api) == 0


async def test_a_stop_answers_with_the_counts_of_every_node_state(api: Api) -> None:
    name = await api.run_task(["slow-1", "slow-2", "n-01"], concurrency=2)
    await api.wait_node_state(name, "running", 2)
    status, answer = await api.post("/command/stop", {"job": name})
    assert status == 202
    assert answer["job"]["name"] == name
    assert answer["job"]["id"].endswith(f"/orchestrator/v1/jobs/{name}")
    assert set(answer["job"]["nodes"]) == NODE_STATES
    assert sum(answer["job"]["nodes"].values()) == 3
    status, answer = await api.post("/command/stop", {"job": int(name), "force": True})
    assert status == 202
    job = await api.wait_job(name)
    assert job["state"] == "stopped"
