"""Query and node-group scopes, the inventory endpoints and reloading, over real HTTP against
the 52-node fleet of tests/data/fleet."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Final

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from podium.api.scopes import LocalQueries
from podium.jsontypes import Json
from tests.conftest import FLEET, Api, running
from tests.integration.test_api_commands import expect_error, job_count
from tests.unit.test_queries import (
    CACHE,
    DB,
    EXPENSIVE_TO_COMPILE,
    PQL_WORDS,
    SLOW_REGEX,
    WEB,
    WIN,
    ast_json,
)

ORCH: Final = "puppetlabs.orchestrator"
GROUP: Final = "6f1c4f0e-1b1a-4c3e-9d7e-00000000000"
ALL_NODES: Final = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
async def fleet(tmp_path: Path) -> AsyncIterator[Api]:
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text((FLEET / "inventory.yaml").read_text())
    async with running(tmp_path / "data", inventory=inventory) as (_, api):
        yield api


def task(scope: Json) -> Json:
    return {"task": "testmod::echo", "params": {}, "scope": scope}


def deploy(scope: Json) -> Json:
    return {"environment": "production", "scope": scope, "enforce_environment": False}


async def job_nodes(api: Api, name: str) -> list[str]:
    return sorted(node["name"] for node in (await api.ok(f"/jobs/{name}/nodes"))["items"])


async def accepted(api: Api, path: str, body: Json) -> str:
    status, answer = await api.post(path, body)
    assert status == 202, answer
    return str(answer["job"]["name"])


async def test_a_task_on_a_pql_query_runs_on_exactly_the_matching_nodes(fleet: Api) -> None:
    query = 'inventory[certname] { facts.os.family = "RedHat" and facts.processors.count >= 16 }'
    name = await accepted(fleet, "/command/task", task({"query": query}))
    assert await job_nodes(fleet, name) == DB[:3]
    job = await fleet.wait_job(name)
    assert job["options"]["scope"] == {"query": query}
    assert job["node_states"] == {"finished": 3}


async def test_a_deploy_on_an_ast_query_runs_on_exactly_the_matching_nodes(fleet: Api) -> None:
    query = ["from", "nodes", ["=", ["fact", "kernel"], "windows"]]
    name = await accepted(fleet, "/command/deploy", deploy({"query": query}))
    assert await job_nodes(fleet, name) == WIN
    assert (await fleet.wait_job(name))["node_states"] == {"finished": 6}


async def test_an_ast_query_sent_as_a_string_is_read_as_ast(fleet: Api) -> None:
    name = await accepted(
        fleet, "/command/task", task({"query": '["from", "nodes", ["~", "certname", "^cache"]]'})
    )
    assert await job_nodes(fleet, name) == CACHE


async def test_an_invalid_pql_query_is_a_query_error_saying_where(fleet: Api) -> None:
    query = 'nodes[certname] {\n  certname ~ "^web" and ~ }'
    answer = await expect_error(fleet, "/command/task", task({"query": query}), 400, "query-error")
    assert answer["msg"] == "Invalid PQL at line 2, column 25: unexpected '~ }'"
    assert answer["details"] == {"query": query, "line": 2, "column": 25}
    assert await job_count(fleet) == 0


@pytest.mark.parametrize(
    ("query", "detail"),
    [
        (["from", "nodes", ["=", "hostname", "x"]], {"field": "hostname", "entity": "nodes"}),
        (["=", "certname", "x"], {}),
        (["from", "reports"], {"entity": "reports"}),
        ("nodes[count()] {}", {}),
    ],
)
async def test_an_invalid_ast_query_is_a_query_error_naming_what_is_wrong(
    fleet: Api, query: Json, detail: Json
) -> None:
    for path, body in (
        ("/command/task", task({"query": query})),
        ("/command/deploy", deploy({"query": query})),
    ):
        answer = await expect_error(fleet, path, body, 400, "query-error")
        assert answer["details"]["query"] == query
        assert detail.items() <= answer["details"].items()
    assert await job_count(fleet) == 0


async def test_a_query_matching_nothing_is_empty_target(fleet: Api) -> None:
    answer = await expect_error(
        fleet, "/command/task", task({"query": 'nodes { certname = "nope" }'}), 400, "empty-target"
    )
    assert answer["msg"] == "The query matches no node"
    answer = await expect_error(
        fleet,
        "/command/task",
        task({"query": 'resources[certname] { type = "Class" }'}),
        400,
        "empty-target",
    )
    assert "no resource data" in answer["msg"]


async def test_a_query_holding_an_integer_too_big_for_the_log_is_refused(fleet: Api) -> None:
    query = ["from", "nodes", ["or", ["~", "certname", "^db"], ["=", ["fact", "x"], 2**70]]]
    answer = await expect_error(
        fleet, "/command/task", task({"query": query}), 400, "validation-error"
    )
    assert "64 bits" in answer["msg"]
    assert await job_count(fleet) == 0


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(query=st.lists(st.sampled_from(PQL_WORDS), max_size=15).map(" ".join) | ast_json)
async def test_generated_queries_over_http_get_a_job_or_a_clear_400(
    fleet: Api, query: Json
) -> None:
    status, answer = await fleet.post("/command/task", task({"query": query}))
    if status != 202:
        assert status == 400, answer
        assert answer["kind"] in {
            f"{ORCH}/query-error",
            f"{ORCH}/empty-target",
            f"{ORCH}/validation-error",
        }
        assert answer["msg"]


async def test_a_node_group_scope_targets_the_groups_members(fleet: Api) -> None:
    scope = {"node_group": f"{GROUP}3"}  # Web in dc2, under Web servers, under Linux
    assert await job_nodes(fleet, await accepted(fleet, "/command/task", task(scope))) == WEB[15:]
    name = await accepted(fleet, "/command/deploy", deploy(scope))
    assert await job_nodes(fleet, name) == WEB[15:]


async def test_a_group_below_a_rule_less_group_targets_what_its_other_ancestors_allow(
    fleet: Api,
) -> None:
    name = await accepted(fleet, "/command/task", task({"node_group": f"{GROUP}6"}))
    assert await job_nodes(fleet, name) == WEB


async def test_the_all_nodes_group_targets_every_node(fleet: Api) -> None:
    name = await accepted(fleet, "/command/deploy", deploy({"node_group": ALL_NODES}))
    assert len(await job_nodes(fleet, name)) == 52


@pytest.mark.parametrize(
    ("group", "kind", "reason"),
    [
        ("0b7c1c9e-5a0e-4f7b-8f57-0000000000ff", "validation-error", "unknown"),
        ("not-a-group", "validation-error", "unknown"),
        (f"{GROUP}5", "validation-error", "no rule of its own"),
        (f"{GROUP}9", "empty-target", None),  # a rule nobody matches
    ],
)
async def test_a_node_group_that_cannot_be_used_is_refused_naming_it(
    fleet: Api, group: str, kind: str, reason: str | None
) -> None:
    answer = await expect_error(fleet, "/command/task", task({"node_group": group}), 400, kind)
    assert answer["details"]["node_group"] == group
    if reason:
        assert answer["details"]["reason"] == reason
    assert await job_count(fleet) == 0


async def test_node_groups_are_listed_with_their_rules(fleet: Api) -> None:
    items = (await fleet.ok("/node_groups"))["items"]
    assert [item["name"] for item in items[:3]] == ["All Nodes", "Linux", "Web servers"]
    assert items[0] == {
        "id": ALL_NODES,
        "name": "All Nodes",
        "parent": ALL_NODES,
        "environment": "production",
        "description": "",
        "rule": ["and", ["~", "name", ".*"]],
        "rule_with_inherited": ["and", ["and", ["~", "name", ".*"]]],
    }
    assert len(items) == 11


async def test_the_inventory_lists_every_target_as_connected(fleet: Api) -> None:
    items = (await fleet.ok("/inventory"))["items"]
    assert len(items) == 52
    first = items[0]
    assert first["name"] == "web-01.example.com"
    assert first["connected"] is True
    assert first["broker"] == "sim://web-01.example.com"
    assert first["timestamp"].endswith("Z")


async def test_one_node_of_the_inventory_or_an_unknown_one(fleet: Api) -> None:
    lab = await fleet.ok("/inventory/lab-03")
    assert lab["connected"] is True
    assert lab["facts"]["x.y"] == {"z": 1}  # the inventory's facts, merged as queries see them
    assert lab["facts"]["role"] == "lab"
    assert await fleet.ok("/inventory/nowhere.example.com") == {
        "name": "nowhere.example.com",
        "connected": False,
        "facts": {},
    }


async def test_post_inventory_answers_for_each_node_in_request_order(fleet: Api) -> None:
    status, answer = await fleet.post(
        "/inventory", {"nodes": ["lab-02", "ghost", "db-01.example.com"]}
    )
    assert status == 200
    assert [(i["name"], i["connected"]) for i in answer["items"]] == [
        ("lab-02", True),
        ("ghost", False),
        ("db-01.example.com", True),
    ]


@pytest.mark.parametrize("body", [{}, {"nodes": "lab-02"}, {"nodes": [""]}, {"nodes": [3]}])
async def test_a_bad_inventory_request_is_a_validation_error(fleet: Api, body: Json) -> None:
    await expect_error(fleet, "/inventory", body, 400, "validation-error")


@pytest.mark.parametrize(
    ("query", "kind"),
    [
        ("nodes { " + "certname = 'x' and " * 1200 + "certname = 'y' }", "query-error"),
        ("nodes { " + "!" * 3000 + "certname = 'x' }", "query-error"),
        (["from", "nodes", *[["not"]] * 3], "query-error"),
    ],
)
async def test_an_oversized_or_deeply_nested_query_is_refused_not_a_server_error(
    fleet: Api, query: Json, kind: str
) -> None:
    await expect_error(fleet, "/command/task", task({"query": query}), 400, kind)


async def test_a_regex_that_would_backtrack_is_matched_in_linear_time(fleet: Api) -> None:
    query = ["from", "nodes", ["~", "certname", SLOW_REGEX]]
    await expect_error(fleet, "/command/task", task({"query": query}), 400, "empty-target")


@pytest.mark.parametrize("pattern", EXPENSIVE_TO_COMPILE)
async def test_a_regex_too_expensive_to_compile_is_a_query_error_naming_it(
    fleet: Api, pattern: str
) -> None:
    query = ["from", "nodes", ["~", "certname", pattern]]
    answer = await expect_error(fleet, "/command/task", task({"query": query}), 400, "query-error")
    assert answer["msg"].startswith(f"Invalid regular expression {pattern!r}")
    assert answer["details"]["regex"] == pattern
    assert await job_count(fleet) == 0


async def test_a_node_group_rule_too_expensive_to_compile_is_refused_on_reload(
    tmp_path: Path,
) -> None:
    groups = tmp_path / "node_groups.yaml"
    groups.write_text("[]\n")
    async with running(tmp_path / "data", node_groups=groups) as (_, api):
        rule = '["~", "name", "(((a{200}){200}){200})"]'
        groups.write_text(f"- id: {GROUP}1\n  name: Heavy\n  rule: {rule}\n")
        status, answer = await api.post("/inventory/reload", {})
        assert status == 400, answer
        assert "(((a{200}){200}){200})" in answer["msg"]


async def test_local_queries_are_worked_out_a_few_at_a_time() -> None:
    queries, lock = LocalQueries(threads=2), threading.Lock()
    running_now, most = 0, 0

    def work() -> None:
        nonlocal running_now, most
        with lock:
            running_now += 1
            most = max(most, running_now)
        time.sleep(0.01)
        with lock:
            running_now -= 1

    try:
        await asyncio.gather(*(queries.run(work) for _ in range(8)))
    finally:
        queries.close()
    assert most <= 2


async def test_a_query_nested_deeper_than_json_allows_is_a_clear_400(fleet: Api) -> None:
    body = (
        '{"task": "testmod::echo", "params": {}, "scope": {"query": '
        + "[" * 5000
        + "]" * 5000
        + "}}"
    )
    status, answer = await fleet.post_raw("/command/task", body.encode())
    assert status == 400, answer
    assert answer["kind"] in (f"{ORCH}/validation-error", f"{ORCH}/query-error")


async def test_a_nodes_facts_are_shown_only_to_who_may_view_node_data(fleet: Api) -> None:
    viewer = await fleet.as_new_user("viewer", [])
    assert "facts" not in await viewer.ok("/inventory/lab-03")
    await fleet.admin("/roles/viewer/grant", {"permissions": ["nodes:view_data:*"]})
    assert (await viewer.ok("/inventory/lab-03"))["facts"]["role"] == "lab"
