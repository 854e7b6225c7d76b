"""Tasks of the example environment run end to end, each on `local` and on `ssh` (a real sshd
on loopback): input methods, metaparameters, install trees, output rules, caps, timeouts,
forced stops and unreachable hosts."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from podium.jsontypes import Json
from tests.conftest import Api, running, ssh_inventory
from tests.processes import processes_running
from tests.sshd import SshServer

MIB = 1024 * 1024


@pytest.fixture(params=["localhost", "ssh-1"], ids=["local", "ssh"])
def node(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def run_on(api: Api, node: str, task: str, params: Json, **extra: Json) -> Json:
    """Run a task on one node and return that node's item once the job has ended."""
    name = await api.run_task([node], task=task, params=params, **extra)
    job = await api.wait_job(name)
    assert job["state"] == "finished", job
    nodes = (await api.ok(f"/jobs/{name}/nodes"))["items"]
    assert len(nodes) == 1
    return nodes[0]


@pytest.mark.parametrize(
    ("task", "on_stdin", "in_environment"),
    [
        ("demo::inputs", True, True),
        ("demo::inputs_stdin", True, False),
        ("demo::inputs_env", False, True),
    ],
)
async def test_each_input_method_delivers_the_parameters_and_the_task_name(
    examples_api: Api, node: str, task: str, on_stdin: bool, in_environment: bool
) -> None:
    params = {"a": 1, "b": "a string", "c": [1, 2, "3"], "d": {"x": {"y": [0]}}, "e": None}
    item = await run_on(examples_api, node, task, params)
    assert item["state"] == "finished", item["result"]
    received = item["result"]
    expected_stdin = {**params, "_task": task}
    assert received["stdin"] == (expected_stdin if on_stdin else None)
    expected_env = {
        "PT_a": "1",
        "PT_b": "a string",
        "PT_c": '[1, 2, "3"]',
        "PT_d": '{"x": {"y": [0]}}',
        "PT_e": "null",
        "PT__task": task,
    }
    assert received["environment"] == (expected_env if in_environment else {})


async def test_noop_reaches_the_task_as_the_noop_metaparameter(
    examples_api: Api, node: str
) -> None:
    item = await run_on(examples_api, node, "demo::inputs", {"x": 1}, noop=True)
    assert item["result"]["stdin"] == {"x": 1, "_task": "demo::inputs", "_noop": True}
    assert item["result"]["environment"]["PT__noop"] == "true"


async def test_a_noop_run_changes_nothing(examples_api: Api, node: str, tmp_path: Path) -> None:
    path = tmp_path / "created-by-touch"
    item = await run_on(examples_api, node, "demo::touch", {"path": str(path)}, noop=True)
    assert item["result"] == {
        "path": str(path),
        "changed": False,
        "would_change": True,
        "noop": True,
    }
    assert not path.exists()
    item = await run_on(examples_api, node, "demo::touch", {"path": str(path)})
    assert item["result"] == {"path": str(path), "changed": True}
    assert path.exists()


async def test_support_files_are_installed_under_installdir_and_removed_afterwards(
    examples_api: Api, node: str, tmp_path: Path
) -> None:
    (tmp_path / "tree" / "sub").mkdir(parents=True)
    (tmp_path / "tree" / "small").write_bytes(b"x" * 10)
    (tmp_path / "tree" / "sub" / "large").write_bytes(b"y" * 3000)
    item = await run_on(examples_api, node, "toolkit::dir_size", {"path": str(tmp_path / "tree")})
    assert item["state"] == "finished", item["result"]
    result = item["result"]
    assert (result["files"], result["bytes"], result["size"]) == (2, 3010, "2.9 KiB")
    assert result["largest"] == str(tmp_path / "tree" / "sub" / "large")
    assert not Path(result["installdir"]).exists()


async def test_structured_output_becomes_the_result(examples_api: Api, node: str) -> None:
    item = await run_on(examples_api, node, "hostinfo", {})
    assert item["state"] == "finished", item["result"]
    assert set(item["result"]) == {"hostname", "kernel", "machine", "os", "uptime_s", "user"}


async def test_an_error_object_fails_the_run_even_with_exit_code_zero(
    examples_api: Api, node: str, tmp_path: Path
) -> None:
    missing = str(tmp_path / "missing.conf")
    item = await run_on(examples_api, node, "demo::config_check", {"path": missing})
    assert item["state"] == "failed"
    assert item["result"]["_error"] == {
        "kind": "demo/missing-file",
        "msg": f"cannot read {missing}: No such file or directory",
        "details": {"path": missing},
    }


async def test_output_that_is_not_json_becomes_output(examples_api: Api, node: str) -> None:
    item = await run_on(examples_api, node, "demo::disk_free", {"path": "/"})
    assert item["state"] == "finished", item["result"]
    assert set(item["result"]) == {"_output"}
    assert item["result"]["_output"].startswith("Filesystem")


async def test_output_that_is_not_utf8_fails_the_run(
    examples_api: Api, node: str, tmp_path: Path
) -> None:
    legacy = tmp_path / "latin1.txt"
    legacy.write_bytes("café crème\n".encode("latin-1"))
    item = await run_on(examples_api, node, "demo::read_file", {"path": str(legacy)})
    assert item["state"] == "failed"
    error = item["result"]["_error"]
    assert error["kind"] == "puppetlabs.tasks/task-error"
    assert "UTF-8" in error["msg"]


async def test_a_non_zero_exit_gets_a_generated_error_with_the_exit_code(
    examples_api: Api, node: str
) -> None:
    item = await run_on(examples_api, node, "demo::fail", {"code": 3})
    assert item["state"] == "failed"
    assert item["result"] == {
        "_output": "",
        "_error": {
            "kind": "puppetlabs.tasks/task-error",
            "msg": "The task errored with a code 3",
            "details": {"exitcode": 3},
        },
    }


async def test_output_over_the_cap_is_cut_and_marked_truncated(
    examples_api: Api, node: str
) -> None:
    item = await run_on(examples_api, node, "demo::log_dump", {"lines": 25_000})
    assert item["state"] == "finished", item["result"]
    result = item["result"]
    assert result["_truncated"] is True
    kept = result["_output"].encode()
    assert MIB - 4 < len(kept) <= MIB
    assert kept.startswith(b"203.0.113.1 - - [01/Jan/2024:00:00:01 +0000]")


async def test_a_run_past_its_timeout_ends_errored(examples_api: Api, node: str) -> None:
    item = await run_on(examples_api, node, "demo::slow", {"seconds": 60}, timeout=1)
    assert item["state"] == "errored"
    assert item["result"]["kind"] == "puppetlabs.orchestrator/execution-failure"
    assert item["result"]["msg"] == f"The task demo::slow timed out on {node} after 1 seconds"


async def test_without_a_request_timeout_the_environments_task_timeout_applies(
    tmp_path: Path, sshd: SshServer, node: str
) -> None:
    production = tmp_path / "environments" / "production"
    tasks = production / "modules" / "napper" / "tasks"
    tasks.mkdir(parents=True)
    (tasks / "init.sh").write_text("#!/bin/sh\nsleep 60\n")
    (production / "podium.yaml").write_text("task-timeout-s: 1\n")
    inventory = ssh_inventory(tmp_path / "inventory.yaml", sshd)
    overrides = {"environments": tmp_path / "environments", "inventory": inventory}
    async with running(tmp_path / "data", **overrides) as (_, api):
        item = await run_on(api, node, "napper", {})
    assert item["state"] == "errored"
    assert item["result"]["msg"] == f"The task napper timed out on {node} after 1 seconds"


async def test_a_forced_stop_kills_every_process_the_task_started(
    examples_api: Api, node: str
) -> None:
    seconds = 900 + (1 if node == "localhost" else 2)  # a command line no other test uses
    sleeper = ["sleep", str(seconds)]
    name = await examples_api.run_task([node], task="demo::slow", params={"seconds": seconds})
    async with asyncio.timeout(20):
        while not processes_running(sleeper):  # the task's child: sh runs sleep, not exec
            await asyncio.sleep(0.05)
    status, _ = await examples_api.post("/command/stop", {"job": name, "force": True})
    assert status == 202
    job = await examples_api.wait_job(name)
    assert job["state"] == "stopped"
    assert job["node_states"] == {"errored": 1}
    async with asyncio.timeout(20):
        while processes_running(sleeper):
            await asyncio.sleep(0.05)


async def test_an_unreachable_host_ends_errored_naming_the_host_and_the_cause(
    examples_api: Api,
) -> None:
    item = await run_on(examples_api, "ssh-down", "demo::echo", {"message": "hi"})
    assert item["state"] == "errored"
    message = item["result"]["msg"]
    assert message.startswith("Could not connect to ")
    assert "@127.0.0.1:" in message
    assert "refused" in message.lower()
    assert item["result"]["details"]["reached"] is False
    inventory = await examples_api.ok("/inventory/ssh-down")
    assert inventory["connected"] is False


async def test_values_with_shell_metacharacters_arrive_unchanged(
    examples_api: Api, node: str
) -> None:
    value = "p@ss w0rd'\"$HOME `id` \\n\nnext line;"
    item = await run_on(examples_api, node, "demo::inputs", {"text": value})
    assert item["result"]["environment"]["PT_text"] == value
    assert item["result"]["stdin"]["text"] == value
