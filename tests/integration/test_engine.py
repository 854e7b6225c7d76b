"""The engine end to end in one process: limits, stop, forced stop, restart and recovery."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from pathlib import Path

from podium.engine import Engine
from podium.jsontypes import Json
from tests.conftest import Api, most_running_at_once, running, serving, settings_for


async def crash(engine: Engine) -> None:
    """Leave as a killed process would: no drain, no flush beyond what is already durable."""
    for task in engine.tasks:
        task.cancel()
    await asyncio.gather(*engine.tasks, return_exceptions=True)
    await engine.adapters.event_log.close()


async def snapshot(api: Api, names: list[str]) -> str:
    """Jobs, nodes and events as the API shows them, with the server's address taken out."""
    views = [
        await api.ok(f"/jobs/{name}{suffix}")
        for name in names
        for suffix in ("", "/nodes", "/events", "/report")
    ]
    origin = f"http://{api.client.server.host}:{api.client.server.port}"
    return json.dumps(views).replace(origin, "http://server")


def sim_inventory(path: Path, count: int, latency_ms: object, *, extra: str = "") -> Path:
    names = ", ".join(f"s{i:03d}" for i in range(count))
    path.write_text(
        f"version: 2\nconfig:\n  transport: sim\n  sim: {{latency-ms: {latency_ms}}}\n"
        f"targets: [{names}]\n{extra}"
    )
    return path


async def test_a_job_never_has_more_runs_in_flight_than_its_concurrency(tmp_path: Path) -> None:
    inventory = sim_inventory(tmp_path / "inv.yaml", 30, "[1, 10]")
    async with running(tmp_path / "data", inventory=inventory) as (_, api):
        name = await api.run_task([f"s{i:03d}" for i in range(30)], concurrency=3)
        job = await api.wait_job(name)
        assert job["node_states"] == {"finished": 30}
        events = (await api.ok(f"/jobs/{name}/events"))["items"]
        assert most_running_at_once(events) == 3


async def test_jobs_share_the_global_in_flight_limit(tmp_path: Path) -> None:
    inventory = sim_inventory(tmp_path / "inv.yaml", 20, "[1, 10]")
    async with running(tmp_path / "data", inventory=inventory, max_inflight=4) as (engine, api):
        names = [await api.run_task([f"s{i:03d}" for i in range(j, 20, 2)]) for j in range(2)]
        for name in names:
            await api.wait_job(name)
        merged: list[Json] = []
        for name in names:
            merged += (await api.ok(f"/jobs/{name}/events"))["items"]
        assert most_running_at_once(merged) <= 4
        assert engine.projector.state.inflight == 0


async def test_stopping_twice_gives_one_job_stopping_and_skips_what_never_ran(
    tmp_path: Path,
) -> None:
    inventory = sim_inventory(tmp_path / "inv.yaml", 6, 300)
    async with running(tmp_path / "data", inventory=inventory) as (_, api):
        name = await api.run_task([f"s{i:03d}" for i in range(6)], concurrency=2)
        await api.wait_node_state(name, "running", 2)
        first = await api.post("/command/stop", {"job": name})
        second = await api.post("/command/stop", {"job": name})
        assert first[0] == second[0] == 202
        job = await api.wait_job(name)
        assert job["state"] == "stopped"
        assert job["node_states"] == {"finished": 2, "skipped": 4}
        assert [s["state"] for s in job["status"]][-2:] == ["stopping", "stopped"]
        events = (await api.ok(f"/jobs/{name}/events"))["items"]
        types = [event["type"] for event in events]
        assert types.count("job_stopping") == 1
        assert types.count("job_finished") == 1
        assert types[-1] == "job_finished"
        assert events[-1]["details"] == {"state": "stopped"}
        skipped = [e for e in events if e["type"] == "node_skipped"]
        assert len(skipped) == 4
        assert all(e["details"]["detail"]["message"] for e in skipped)
        nodes = (await api.ok(f"/jobs/{name}/nodes?state=skipped"))["items"]
        assert all(node["start_timestamp"] is None for node in nodes)

        third = await api.post("/command/stop", {"job": name})  # an ended job: nothing changes
        assert third[0] == 202
        assert third[1]["job"]["nodes"]["skipped"] == 4
        assert (await api.ok(f"/jobs/{name}/events"))["items"] == events


async def test_a_forced_stop_kills_runs_in_progress(api: Api) -> None:
    name = await api.run_task(
        ["localhost", "slow-1"], task="testmod::sleep", params={"seconds": 120}
    )
    await api.wait_node_state(name, "running", 2)
    status, _ = await api.post("/command/stop", {"job": name, "force": True})
    assert status == 202
    job = await api.wait_job(name, timeout_s=30)  # the runs would take 60 and 120 seconds
    assert job["state"] == "stopped"
    assert job["node_states"] == {"errored": 2}
    nodes = (await api.ok(f"/jobs/{name}/nodes"))["items"]
    for node in nodes:
        assert node["result"]["kind"] == "puppetlabs.orchestrator/execution-failure"
        assert "forced stop" in node["result"]["msg"]


async def test_a_forced_stop_that_comes_while_runs_start_kills_them(tmp_path: Path) -> None:
    """Stopped by force right after it was asked for, a job's run may be starting (its start
    being recorded) when the stop notice reaches the executor: it is killed all the same, not
    left to the next notice. Notices are not sent again within the test."""
    settings = settings_for(tmp_path / "data")
    settings = replace(settings, scheduler=replace(settings.scheduler, stop_repeat_s=3_600.0))
    async with Engine(settings) as engine, serving(engine) as api:
        for _ in range(5):
            name = await api.run_task(["slow-1"])  # a run of 60 seconds
            status, _ = await api.post("/command/stop", {"job": name, "force": True})
            assert status == 202
            job = await api.wait_job(name, timeout_s=30)
            assert job["state"] == "stopped"
            assert set(job["node_states"]) <= {"errored", "skipped"}


async def test_a_restart_rebuilds_the_same_jobs_names_and_event_ids(tmp_path: Path) -> None:
    data = tmp_path / "data"
    async with running(data) as (_, api):
        names = [await api.run_task(["n-01", "flaky-1", "flaky-2", "localhost"]) for _ in range(3)]
        for name in names:
            await api.wait_job(name)
        before = await snapshot(api, names)
        token = api.token
    async with running(data) as (_, api):
        assert api.token == token  # the admin token survives too
        assert await snapshot(api, names) == before
        assert await api.run_task(["n-01"]) == "4"


async def test_after_a_crash_task_runs_in_progress_end_errored_and_deploys_run_again(
    tmp_path: Path,
) -> None:
    inventory = sim_inventory(tmp_path / "inv.yaml", 4, 400)
    data = tmp_path / "data"
    engine = await Engine.start(settings_for(data, inventory=inventory))
    async with serving(engine) as api:
        task = await api.run_task(["s000", "s001", "s002"], concurrency=2)
        status, answer = await api.post(
            "/command/deploy", {"environment": "production", "scope": {"nodes": ["s003"]}}
        )
        assert status == 202
        deploy = answer["job"]["name"]
        await api.wait_node_state(task, "running", 2)
        await api.wait_node_state(deploy, "running", 1)
        events_before = (await api.ok(f"/jobs/{task}/events"))["items"]
    await crash(engine)

    async with running(data, inventory=inventory) as (_, api):
        job = await api.wait_job(task)
        assert job["state"] == "finished"
        assert job["node_states"] == {"errored": 2, "finished": 1}
        events = (await api.ok(f"/jobs/{task}/events"))["items"]
        assert events[: len(events_before)] == events_before
        errored = [e for e in events if e["type"] == "node_errored"]
        assert all("was lost" in e["details"]["detail"]["msg"] for e in errored)
        redeployed = await api.wait_job(deploy)
        assert redeployed["node_states"] == {"finished": 1}
        deploy_events = [e["type"] for e in (await api.ok(f"/jobs/{deploy}/events"))["items"]]
        assert deploy_events == ["node_running", "node_running", "node_finished", "job_finished"]


async def test_closing_lets_runs_in_progress_finish(tmp_path: Path) -> None:
    inventory = sim_inventory(tmp_path / "inv.yaml", 2, 300)
    data = tmp_path / "data"
    async with running(data, inventory=inventory) as (_, api):
        name = await api.run_task(["s000", "s001"])
        await api.wait_node_state(name, "running", 2)
    async with running(data, inventory=inventory) as (_, api):
        job = await api.ok(f"/jobs/{name}")
        assert job["node_states"] == {"finished": 2}
