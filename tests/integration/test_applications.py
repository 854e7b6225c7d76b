"""Application deploys over real HTTP: dependency order seen in the job's events, failures
skipping dependants, cycles, unknown applications, whole-environment deploys and
enforce_environment. (An environment with nothing to deploy: test_api_commands.py.)"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Final

import pytest

from podium.jsontypes import Json
from tests.conftest import Api, running
from tests.integration.test_api_commands import expect_error, job_count

Event = tuple[str, str, str | None]  # type, node, why it was skipped
INVENTORY: Final = """
version: 2
config: {transport: sim}
targets: [db-1, db-2, app-1, app-2, app-3, web-1, web-2, web-3, web-4, free-1]
groups:
  - name: broken
    targets: [broken-db]
    config:
      sim: {failure-rate: 1.0}
  - name: dev
    targets:
      - name: dev-1
        vars: {environment: dev}
      - name: dev-2
        facts: {environment: dev}
"""
PRODUCTION: Final = """
Shop[demo]:
  components:
    Shop::Db[demo]: {nodes: [db-1, db-2]}
    Shop::App[demo]: {nodes: [app-1, app-2], requires: ["Shop::Db[demo]"]}
    Shop::Web[demo]: {nodes: [web-1, web-2], requires: ["Shop::App[demo]"]}
Shop[broken]:
  components:
    Shop::Db[broken]: {nodes: [broken-db]}
    Shop::App[broken]: {nodes: [app-3], requires: ["Shop::Db[broken]"]}
    Shop::Web[broken]: {nodes: [web-3], requires: ["Shop::App[broken]"]}
Devapp[x]:
  components:
    Devapp::Db[x]: {nodes: [dev-1]}
    Devapp::Web[x]: {nodes: [web-4], requires: ["Devapp::Db[x]"]}
Empty[x]:
  components:
    Empty::Nothing[x]: {nodes: []}
"""
CYCLIC: Final = """
Loop[x]:
  components:
    Loop::A[x]: {nodes: [db-1], requires: ["Loop::B[x]"]}
    Loop::B[x]: {nodes: [db-2], requires: ["Loop::A[x]"]}
"""


@pytest.fixture
async def apps(tmp_path: Path) -> AsyncIterator[Api]:
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(INVENTORY)
    environments = tmp_path / "environments"
    for name, applications in (("production", PRODUCTION), ("cyclic", CYCLIC)):
        (environments / name).mkdir(parents=True)
        (environments / name / "applications.yaml").write_text(applications)
    (environments / "misconfigured").mkdir()
    (environments / "misconfigured" / "applications.yaml").write_text("Shop[x]: [")
    (environments / "nested").mkdir()
    (environments / "nested" / "applications.yaml").write_text("[" * 10_000 + "]" * 10_000)
    (environments / "nested_settings").mkdir()
    (environments / "nested_settings" / "podium.yaml").write_text("[" * 10_000 + "]" * 10_000)
    data = tmp_path / "data"
    async with running(data, inventory=inventory, environments=environments) as (_, api):
        yield api


async def deployed(api: Api, body: Json) -> Json:
    status, answer = await api.post("/command/deploy", {"environment": "production", **body})
    assert status == 202, answer
    return await api.wait_job(answer["job"]["name"])


async def node_events(api: Api, job: str) -> list[Event]:
    """(type, node, why) of each node event, in log order; `why` says why a node was skipped."""
    items = (await api.ok(f"/jobs/{job}/events"))["items"]
    return [
        (item["type"], item["details"]["node"], (item["details"]["detail"] or {}).get("message"))
        for item in items
        if "node" in item["details"]
    ]


def first(events: list[Event], kind: str, nodes: set[str]) -> int:
    return min(i for i, (t, n, _) in enumerate(events) if t == kind and n in nodes)


def last(events: list[Event], kind: str, nodes: set[str]) -> int:
    return max(i for i, (t, n, _) in enumerate(events) if t == kind and n in nodes)


async def test_an_instance_deploys_its_components_in_dependency_order(apps: Api) -> None:
    job = await deployed(apps, {"scope": {"application": "Shop[demo]"}})
    assert job["node_states"] == {"finished": 6}
    events = await node_events(apps, job["name"])
    db, app, web = {"db-1", "db-2"}, {"app-1", "app-2"}, {"web-1", "web-2"}
    assert last(events, "node_finished", db) < first(events, "node_running", app)
    assert last(events, "node_finished", app) < first(events, "node_running", web)
    assert {node for _, node, _ in events} == db | app | web


async def test_a_failed_component_skips_everything_that_requires_it(apps: Api) -> None:
    job = await deployed(apps, {"scope": {"application": "shop['broken']"}})
    assert job["state"] == "finished"
    assert job["node_states"] == {"failed": 1, "skipped": 2}
    events = await node_events(apps, job["name"])
    skipped = {node: message for kind, node, message in events if kind == "node_skipped"}
    assert skipped == {
        "app-3": "Skipped: Shop::App[broken] requires Shop::Db[broken], "
        "which did not finish successfully",
        "web-3": "Skipped: Shop::Web[broken] requires Shop::App[broken], "
        "which did not finish successfully",
    }
    assert not any(kind == "node_running" and node in skipped for kind, node, _ in events)


async def test_an_application_type_deploys_every_instance_also_as_a_deprecated_target(
    apps: Api,
) -> None:
    job = await deployed(apps, {"target": "Shop"})
    assert job["node_count"] == 9
    assert job["options"]["target"] == "Shop"
    assert job["node_states"] == {"finished": 6, "failed": 1, "skipped": 2}


@pytest.mark.parametrize("name", ["Wordpress_app", "Shop[nope]", "Empty[x]", "Empty"])
async def test_an_unknown_or_empty_application_is_empty_target(apps: Api, name: str) -> None:
    for body in ({"scope": {"application": name}}, {"target": name}):
        answer = await expect_error(
            apps, "/command/deploy", {"environment": "production", **body}, 400, "empty-target"
        )
        assert name in answer["msg"]
    assert await job_count(apps) == 0


async def test_a_malformed_application_name_is_a_validation_error(apps: Api) -> None:
    body = {"environment": "production", "scope": {"application": "shop demo["}}
    await expect_error(apps, "/command/deploy", body, 400, "validation-error")


async def test_a_dependency_cycle_is_refused_naming_the_cycle(apps: Api) -> None:
    for body in ({"scope": {"application": "Loop"}}, {}):  # the instance, the environment
        answer = await expect_error(
            apps, "/command/deploy", {"environment": "cyclic", **body}, 400, "dependency-cycle"
        )
        assert "Loop::A[x] -> Loop::B[x] -> Loop::A[x]" in answer["msg"]
        assert answer["details"]["cycle"] == ["Loop::A[x]", "Loop::B[x]", "Loop::A[x]"]
    assert await job_count(apps) == 0


async def test_an_unusable_applications_file_is_a_validation_error_naming_it(apps: Api) -> None:
    answer = await expect_error(
        apps, "/command/deploy", {"environment": "misconfigured"}, 400, "validation-error"
    )
    assert "applications.yaml" in answer["msg"]
    nodes = {"environment": "misconfigured", "scope": {"nodes": ["db-1"]}}
    assert (await apps.post("/command/deploy", nodes))[0] == 202  # a scope that needs none


@pytest.mark.parametrize(
    ("path", "body", "file"),
    [
        ("/command/deploy", {"environment": "nested"}, "applications.yaml"),
        ("/command/deploy", {"environment": "nested_settings"}, "podium.yaml"),
        (
            "/command/task",
            {
                "environment": "nested_settings",
                "task": "a::b",
                "params": {},
                "scope": {"nodes": ["db-1"]},
            },
            "podium.yaml",
        ),
    ],
)
async def test_a_file_nested_too_deeply_is_a_validation_error_not_a_server_error(
    apps: Api, path: str, body: Json, file: str
) -> None:
    answer = await expect_error(apps, path, body, 400, "validation-error")
    assert file in answer["msg"]
    assert "nested more deeply" in answer["msg"]


async def test_a_whole_environment_deploy_runs_its_applications_and_its_nodes(apps: Api) -> None:
    job = await deployed(apps, {})
    nodes = {n["name"]: n for n in (await apps.ok(f"/jobs/{job['name']}/nodes"))["items"]}
    assert "free-1" in nodes  # in no environment: deployed with any
    assert "dev-2" not in nodes  # in another environment and in no application here
    assert nodes["dev-1"]["state"] == "errored"  # placed here, but in dev: enforced
    assert nodes["web-4"]["state"] == "skipped"  # requires what dev-1 hosts
    assert nodes["web-3"]["state"] == "skipped"
    events = await node_events(apps, job["name"])
    assert last(events, "node_finished", {"app-1", "app-2"}) < first(
        events, "node_running", {"web-1", "web-2"}
    )


async def test_enforce_environment_errors_nodes_of_another_environment_without_running_them(
    apps: Api,
) -> None:
    scope = {"nodes": ["free-1", "dev-1", "dev-2"]}
    job = await deployed(apps, {"scope": scope})
    nodes = {n["name"]: n for n in (await apps.ok(f"/jobs/{job['name']}/nodes"))["items"]}
    assert nodes["free-1"]["state"] == "finished"
    for node in ("dev-1", "dev-2"):
        assert nodes[node]["state"] == "errored"
        assert nodes[node]["start_timestamp"] is None  # never ran
        assert nodes[node]["result"] == {
            "kind": "puppetlabs.orchestrator/execution-failure",
            "msg": f"{node} is in environment dev, not production; "
            "enforce_environment keeps it from running",
            "details": {"node": node},
        }
    job = await deployed(apps, {"scope": scope, "enforce_environment": False})
    assert job["node_states"] == {"finished": 3}


async def test_a_rerun_of_an_application_deploy_keeps_its_dependency_order(apps: Api) -> None:
    job = await deployed(apps, {"scope": {"application": "Shop[demo]"}})
    status, answer = await apps.post(
        "/command/rerun", {"job": job["name"], "nodes": ["web-2", "db-1", "app-1"]}
    )
    assert status == 202, answer
    again = await apps.wait_job(answer["job"]["name"])
    assert again["node_states"] == {"finished": 3}
    assert again["options"]["scope"] == {"nodes": ["db-1", "app-1", "web-2"]}
    events = await node_events(apps, again["name"])
    assert last(events, "node_finished", {"db-1"}) < first(events, "node_running", {"app-1"})
    assert last(events, "node_finished", {"app-1"}) < first(events, "node_running", {"web-2"})
