"""Reloading the inventory and the node groups without a restart: on request, on a file change,
and keeping what is in force when a file does not load."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from podium.engine import Engine
from tests.conftest import Api, running
from tests.integration.test_api_commands import expect_error

INVENTORY = "version: 2\nconfig:\n  transport: sim\ntargets:\n"
GROUPS = "- id: 5a9e0f4c-2b7d-4c1e-8a3f-000000000001\n  name: Web\n  rule: ['~', name, '^web']\n"


@dataclass
class Served:
    engine: Engine
    api: Api
    inventory: Path
    groups: Path


def targets(*names: str) -> str:
    return "".join(f"  - {name}\n" for name in names)


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    inventory, groups = tmp_path / "inventory.yaml", tmp_path / "groups.yaml"
    inventory.write_text(INVENTORY + targets("web-1", "db-1"))
    groups.write_text(GROUPS)
    async with running(tmp_path / "data", inventory=inventory, node_groups=groups) as (engine, api):
        yield Served(engine, api, inventory, groups)


async def names(api: Api) -> list[str]:
    return [item["name"] for item in (await api.ok("/inventory"))["items"]]


async def test_a_reload_puts_the_changed_inventory_and_groups_in_force(served: Served) -> None:
    api = served.api
    served.inventory.write_text(INVENTORY + targets("web-1", "web-2", "db-1"))
    served.groups.write_text(GROUPS.replace("'^web'", "'^db'"))
    status, answer = await api.post("/inventory/reload", {})
    assert status == 200, answer
    assert answer["inventory"]["nodes"] == 3
    assert answer["node_groups"] == {"groups": 2}
    assert await names(api) == ["web-1", "web-2", "db-1"]
    status, job = await api.post(
        "/command/task",
        {
            "task": "testmod::echo",
            "params": {},
            "scope": {"node_group": "5a9e0f4c-2b7d-4c1e-8a3f-000000000001"},
        },
    )
    assert status == 202, job
    nodes = (await api.ok(f"/jobs/{job['job']['name']}/nodes"))["items"]
    assert [node["name"] for node in nodes] == ["db-1"]


@pytest.mark.parametrize(
    ("which", "text", "message"),
    [
        ("inventory", "version: 2\ngroups: [{name: a, targets: ['bad name']}]\n", "whitespace"),
        ("inventory", "version: 2\ntargets: [", "not valid YAML"),
        ("inventory", "targets: " + "[" * 10_000 + "]" * 10_000, "nested more deeply"),
        ("groups", "- " + "[" * 10_000 + "]" * 10_000, "nested more deeply"),
        ("inventory", "version: 2\ntargets: [\xe9]", "not UTF-8"),
        ("groups", "- {name: x, id: 5a9e0f4c-2b7d-4c1e-8a3f-000000000002, parent: nope}", "UUID"),
    ],
)
async def test_a_failed_reload_keeps_what_is_in_force_and_says_why(
    served: Served, which: str, text: str, message: str
) -> None:
    path = served.inventory if which == "inventory" else served.groups
    path.write_bytes(text.encode("latin-1"))
    answer = await expect_error(served.api, "/inventory/reload", {}, 400, "inventory-error")
    assert str(path) in answer["msg"]
    assert message in answer["msg"]
    assert "previous one stays in force" in answer["msg"]
    assert await names(served.api) == ["web-1", "db-1"]
    assert len((await served.api.ok("/node_groups"))["items"]) == 2


async def test_a_changed_file_is_reloaded_by_the_watcher_and_a_bad_one_is_not(
    served: Served,
) -> None:
    sources = served.engine.api.sources
    assert sources is not None
    assert sources.reload_if_changed() is False  # nothing changed
    served.inventory.write_text(INVENTORY + targets("web-9"))
    assert sources.reload_if_changed() is True
    assert await names(served.api) == ["web-9"]
    served.inventory.write_text("version: 3\n")
    assert sources.reload_if_changed() is False  # refused; the previous one stays
    assert sources.reload_if_changed() is False  # and is not retried until the file changes
    assert await names(served.api) == ["web-9"]
    served.inventory.write_text(INVENTORY + targets("web-9", "web-10"))
    assert sources.reload_if_changed() is True
    assert await names(served.api) == ["web-9", "web-10"]


async def test_a_job_keeps_the_inventory_it_was_resolved_against(served: Served) -> None:
    api = served.api
    status, answer = await api.post(
        "/command/task",
        {"task": "testmod::echo", "params": {}, "scope": {"query": "nodes[certname] {}"}},
    )
    assert status == 202, answer
    served.inventory.write_text(INVENTORY + targets("other"))
    status, _ = await api.post("/inventory/reload", {})
    assert status == 200
    job = await api.wait_job(answer["job"]["name"])
    assert job["node_states"] == {"finished": 2}
    assert await names(api) == ["other"]


async def test_the_watcher_picks_up_a_changed_file_without_being_asked(tmp_path: Path) -> None:
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(INVENTORY + targets("web-1"))
    async with running(tmp_path / "data", inventory=inventory, watch_s=0.02) as (_, api):
        assert await names(api) == ["web-1"]
        inventory.write_text(INVENTORY + targets("web-1", "web-2"))
        async with asyncio.timeout(10):
            while await names(api) != ["web-1", "web-2"]:
                await asyncio.sleep(0.02)


async def test_the_watcher_outlives_a_file_it_cannot_read(tmp_path: Path) -> None:
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(INVENTORY + targets("web-1"))
    async with running(tmp_path / "data", inventory=inventory, watch_s=0.02) as (engine, api):
        watcher = next(task for task in engine.tasks if task.get_name() == "inventory watcher")
        for bad in ("targets: " + "[" * 10_000 + "]" * 10_000, "version: 2\ntargets: [\xe9]"):
            inventory.write_bytes(bad.encode("latin-1"))
            await asyncio.sleep(0.2)  # ten checks: time enough to see the bad file (not asserted)
            assert not watcher.done()
            assert await names(api) == ["web-1"]
        inventory.write_text(INVENTORY + targets("web-2"))
        async with asyncio.timeout(10):
            while await names(api) != ["web-2"]:
                await asyncio.sleep(0.02)
