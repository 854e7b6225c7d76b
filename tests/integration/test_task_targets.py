"""POST /command/task_target and the task-target reads; a task-target's nodes from each source
(nodes, node groups, a PQL query, all three) limit what a user may run, over the fleet."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Final

import pytest

from podium.events.model import JobRequested
from podium.jsontypes import Json
from tests.conftest import FLEET, Api, running

ORCH: Final = "puppetlabs.orchestrator"
ADMIN: Final = "/podium/v1"
WEB_DC2: Final = "6f1c4f0e-1b1a-4c3e-9d7e-000000000003"  # Web in dc2
EVERYTHING: Final = 'inventory[certname] { certname ~ "." }'


@pytest.fixture
async def fleet(tmp_path: Path) -> AsyncIterator[Api]:
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text((FLEET / "inventory.yaml").read_text())
    async with running(tmp_path / "data", inventory=inventory) as (_, api):
        yield api


async def posted(api: Api, path: str, body: Json, status: int) -> Json:
    response = await api.client.post(path, json=body, headers=api.headers)
    answer = await response.json()
    assert response.status == status, answer
    return answer


async def user_limited_to(api: Api, target: Json) -> Api:
    """A user whose only task permission is the task-target made from `target`, who may run
    queries and use node groups: so what it runs shows what the task-target allows."""
    made = await posted(api, "/orchestrator/v1/command/task_target", target, 200)
    name = made["task_target"]["name"]
    await posted(api, f"{ADMIN}/users", {"login": "limited"}, 201)
    permissions = [
        f"tasks:run_with_constraints:{name}",
        "nodes:view_data:*",
        "node_groups:view:*",
    ]
    await posted(api, f"{ADMIN}/roles", {"name": "limited", "permissions": permissions}, 201)
    await posted(api, f"{ADMIN}/roles/limited/assign", {"users": ["limited"]}, 200)
    token = await posted(api, f"{ADMIN}/tokens", {"user": "limited", "lifetime": "1h"}, 201)
    return Api(api.client, token["token"])


async def nodes_run(api: Api, scope: Json) -> list[str]:
    body = {"task": "testmod::echo", "params": {}, "scope": scope}
    status, answer = await api.post("/command/task", body)
    assert status == 202, answer
    name = answer["job"]["name"]
    await api.wait_job(name)
    return sorted(n["name"] for n in (await api.ok(f"/jobs/{name}/nodes"))["items"])


SOURCES: Final[dict[str, Json]] = {
    "nodes": {"nodes": ["db-01.example.com", "cache-01.example.net"]},
    "a node group": {"node_groups": [WEB_DC2]},
    "a PQL query": {"pql_query": 'inventory[certname] { facts.os.family = "RedHat" }'},
    "all three": {
        "nodes": ["cache-01.example.net"],
        "node_groups": [WEB_DC2],
        "pql_query": 'nodes[certname] { certname = "db-02.example.com" }',
    },
}


async def covered_by(admin: Api, given: Json) -> list[str]:
    """The nodes each source of the task-target names, as the admin's scopes resolve them."""
    nodes = set(given.get("nodes", []))
    for group in given.get("node_groups", []):
        nodes.update(await nodes_run(admin, {"node_group": group}))
    if "pql_query" in given:
        nodes.update(await nodes_run(admin, {"query": given["pql_query"]}))
    return sorted(nodes)


@pytest.mark.parametrize("source", list(SOURCES))
async def test_a_task_target_limits_a_query_scope_to_its_nodes(fleet: Api, source: str) -> None:
    given = SOURCES[source]
    covered = await covered_by(fleet, given)
    limited = await user_limited_to(
        fleet, {"display_name": source, "tasks": ["testmod::echo"], **given}
    )
    # Every node of the fleet asked for: the others are left out without a word.
    assert await nodes_run(limited, {"query": EVERYTHING}) == covered


@pytest.mark.parametrize("source", list(SOURCES))
async def test_a_task_target_refuses_a_nodes_scope_beyond_its_nodes(
    fleet: Api, source: str
) -> None:
    given = SOURCES[source]
    covered = await covered_by(fleet, given)
    assert len(covered) < 52  # the fleet has nodes beyond it
    limited = await user_limited_to(fleet, {"display_name": source, "all_tasks": True, **given})
    assert await nodes_run(limited, {"nodes": covered}) == covered
    body = {
        "task": "testmod::echo",
        "params": {},
        "scope": {"nodes": [*covered, "web-01.example.com"]},
    }
    status, answer = await limited.post("/command/task", body)
    assert (status, answer["kind"]) == (403, f"{ORCH}/not-permitted"), answer
    assert answer["details"]["nodes"] == ["web-01.example.com"]


async def test_the_job_records_the_permissions_used_and_the_nodes_left_out(tmp_path: Path) -> None:
    """What let the owner run the job, and what a query scope left out, are on the log with the
    job (JobRequested), so that the history says why each node ran or did not."""
    async with running(tmp_path / "data", inventory=FLEET / "inventory.yaml") as (engine, admin):
        given = SOURCES["all three"]
        covered = await covered_by(admin, given)
        limited = await user_limited_to(
            admin, {"display_name": "three", "tasks": ["testmod::echo"], **given}
        )
        fleet = await nodes_run(admin, {"query": EVERYTHING})
        assert await nodes_run(limited, {"query": EVERYTHING}) == covered
        end = (await engine.adapters.event_log.head()).offset
        requested: list[JobRequested] = []
        async for record in engine.adapters.event_log.subscribe(0):
            requested += [event for event in record.events if isinstance(event, JobRequested)]
            if record.offset >= end - 1:
                break
    last = requested[-1]
    assert sorted(last.nodes) == covered
    assert last.granted_by == ["tasks:run_with_constraints:1"]
    assert sorted(last.excluded) == sorted(set(fleet) - set(covered))
    # The admin's own jobs before it: granted by the admin role, nothing left out.
    assert all(job.excluded == [] and job.granted_by for job in requested[:-1])


async def test_a_node_group_scope_with_no_permitted_node_is_an_empty_target(fleet: Api) -> None:
    limited = await user_limited_to(
        fleet,
        {"display_name": "db only", "tasks": ["testmod::echo"], "nodes": ["db-01.example.com"]},
    )
    body = {"task": "testmod::echo", "params": {}, "scope": {"node_group": WEB_DC2}}
    status, answer = await limited.post("/command/task", body)
    assert (status, answer["kind"]) == (400, f"{ORCH}/empty-target"), answer


async def test_a_task_target_grants_only_its_tasks(fleet: Api) -> None:
    limited = await user_limited_to(
        fleet, {"display_name": "echo", "tasks": ["testmod::echo"], "nodes": ["db-01.example.com"]}
    )
    body = {"task": "testmod::fail", "params": {}, "scope": {"nodes": ["db-01.example.com"]}}
    status, answer = await limited.post("/command/task", body)
    assert (status, answer["kind"]) == (403, f"{ORCH}/not-permitted"), answer


async def test_task_targets_are_read_back_as_made(fleet: Api) -> None:
    first = {
        "display_name": "web",
        "tasks": ["service", "package::status"],
        "nodes": ["w1"],
        "node_groups": [WEB_DC2],
        "pql_query": 'nodes[certname] { certname = "x" }',
    }
    second = {"display_name": "all", "all_tasks": True, "tasks": ["ignored"], "nodes": []}
    for body in (first, second):
        await posted(fleet, "/orchestrator/v1/command/task_target", body, 200)
    items = (await fleet.ok("/scopes/task_targets"))["items"]
    assert [item["name"] for item in items] == ["1", "2"]
    assert items[0] == {
        "id": items[0]["id"],
        "name": "1",
        "display_name": "web",
        "tasks": ["service", "package::status"],
        "all_tasks": False,
        "nodes": ["w1"],
        "node_groups": [WEB_DC2],
        "pql_query": 'nodes[certname] { certname = "x" }',
    }
    assert items[0]["id"].endswith("/orchestrator/v1/scopes/task_targets/1")
    # all_tasks: tasks are left out, and so is a pql_query never given.
    assert set(items[1]) == {"id", "name", "display_name", "all_tasks", "nodes", "node_groups"}
    assert await fleet.ok("/scopes/task_targets/2") == items[1]
    status, answer = await fleet.get("/scopes/task_targets/3")
    assert (status, answer["kind"]) == (404, f"{ORCH}/unknown-task-target"), answer


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"tasks": ["a"]}, "display_name"),
        ({"display_name": 7, "tasks": ["a"]}, "display_name"),
        ({"display_name": "x"}, "all_tasks"),
        ({"display_name": "x", "tasks": []}, "all_tasks"),
        ({"display_name": "x", "tasks": [], "all_tasks": False}, "all_tasks"),
        ({"display_name": "x", "tasks": ["a", 1]}, "tasks.1"),
        ({"display_name": "x", "tasks": "a"}, "tasks"),
        ({"display_name": "x", "all_tasks": "true"}, "all_tasks"),
        ({"display_name": "x", "all_tasks": True, "nodes": ["n1", 2]}, "nodes.1"),
        ({"display_name": "x", "all_tasks": True, "nodes": "n1"}, "nodes"),
        ({"display_name": "x", "all_tasks": True, "node_groups": [3]}, "node_groups.0"),
        ({"display_name": "x", "all_tasks": True, "pql_query": ["from", "nodes"]}, "pql_query"),
        ({"display_name": "x", "all_tasks": True, "pql_query": "nodes[certname] {"}, "pql_query"),
    ],
)
async def test_each_validation_rule_names_its_field_and_changes_nothing(
    fleet: Api, body: Json, field: str
) -> None:
    status, answer = await fleet.post("/command/task_target", body)
    assert (status, answer["kind"]) == (400, f"{ORCH}/validation-error"), answer
    assert field in {error["field"] for error in answer["details"]["errors"]}, answer
    assert (await fleet.ok("/scopes/task_targets"))["items"] == []
