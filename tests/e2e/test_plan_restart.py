"""A plan survives `kill -9` of `podium serve`, and of the active scheduler on RabbitMQ: the
restarted process (or the standby taking over) folds the log, finds the plan job in the step it
was in, and carries on from there, never running a finished step twice."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from podium.events.amqp.settings import AmqpSettings
from podium.jsontypes import Json
from tests.conftest import open_broker
from tests.e2e.cluster import Client, Cluster, sim_inventory
from tests.e2e.test_serve import client, connected, server_process


async def wait_plan(api: Client, name: str) -> Json:
    async with asyncio.timeout(60):
        while (plan := await api.get(f"/plan_jobs/{name}"))["state"] in ("pending", "running"):
            await asyncio.sleep(0.1)
    return plan


async def test_a_plan_carries_on_after_the_server_is_killed_mid_step(tmp_path: Path) -> None:
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(
        "config: {transport: sim}\n"
        "groups:\n"
        "  - name: fast\n    targets: [fast1, fast2]\n    config: {sim: {latency-ms: 10}}\n"
        "  - name: slow\n    targets: [slow1]\n    config: {sim: {latency-ms: 60000}}\n"
    )
    data = tmp_path / "data"
    with server_process(data, inventory) as server:
        async with client(server) as api:
            status, answer = await api.post(
                "/command/plan_run",
                {"plan_name": "plantest::restart", "params": {"fast": "fast", "slow": "slow"}},
            )
            assert status == 202, answer
            name = answer["name"]
            async with asyncio.timeout(30):  # until the middle step's node runs
                while True:
                    plan = await api.get(f"/plan_jobs/{name}")
                    if len(plan["status"]) == 2:
                        middle = sorted(plan["status"], key=int)[1]
                        job = await api.get(f"/jobs/{middle}")
                        if (job["node_states"] or {}).get("running"):
                            break
                    await asyncio.sleep(0.1)
            first = sorted(plan["status"], key=int)[0]
            before = await api.get(f"/plan_jobs/{name}/events")
            server.kill()  # SIGKILL, mid-step

        server.start()
        async with aiohttp.ClientSession() as session:
            await server.wait_ready(session)
            api = connected(session, server)
            plan = await wait_plan(api, name)
            assert plan["state"] == "success", plan["result"]
            # the step it was in ended errored (a task is never run twice) and was caught;
            # the plan went on to its last step
            assert plan["result"] == {"middle": "failure", "last": "success"}
            events = (await api.get(f"/plan_jobs/{name}/events"))["items"]
            assert events[: len(before["items"])] == before["items"]
            starts = [e["details"]["job-id"] for e in events if e["type"] == "task_start"]
            assert len(starts) == 3  # one job per step: none started twice
            assert [str(job) for job in starts[:2]] == [first, middle]
            ran = (await api.get(f"/jobs/{first}/events"))["items"]
            assert [e["type"] for e in ran].count("node_running") == 2  # not run again
            assert (await api.get(f"/jobs/{middle}"))["node_states"] == {"errored": 1}
            assert events[-1]["type"] == "plan_finished"


@pytest.fixture
async def cluster(tmp_path: Path, amqp_url: str) -> AsyncIterator[Cluster]:
    prefix = f"e2e-plan-{uuid.uuid4().hex[:8]}"
    inventory = sim_inventory(
        tmp_path / "inventory.yaml",
        {"fast": (2, "{latency-ms: 10}"), "long": (1, "{latency-ms: 3000}")},
    )
    running = Cluster.create(tmp_path, amqp_url, prefix, inventory, lease_s=2, heartbeat_s=0.4)
    try:
        yield running
    finally:
        running.stop_all()
        async with open_broker(AmqpSettings(url=amqp_url, prefix=prefix)):
            pass  # deletes the prefix's queues and exchanges


async def test_a_standby_scheduler_carries_a_plan_on_after_the_leader_is_killed(
    cluster: Cluster,
) -> None:
    api_process = cluster.start("api")
    for _ in range(2):
        cluster.start("scheduler")
    cluster.start("executor", "--slots", "16")
    await cluster.wait_running(cluster.processes)
    async with aiohttp.ClientSession() as session:
        api = await Client.connect(session, api_process)
        status, answer = await api.post(
            "/command/plan_run",
            {"plan_name": "plantest::restart", "params": {"fast": "fast", "slow": "long"}},
        )
        assert status == 202, answer
        name = answer["name"]
        async with asyncio.timeout(30):  # until the middle step's job is there
            while len((await api.get(f"/plan_jobs/{name}"))["status"]) < 2:
                await asyncio.sleep(0.05)
        leader = await cluster.leader()
        leader.kill()  # SIGKILL of the active scheduler, mid-step
        successor = await cluster.leader()
        assert successor is not leader
        plan = await wait_plan(api, name)
        assert plan["state"] == "success", plan["result"]
        assert plan["result"] == {"middle": "success", "last": "success"}
        events = (await api.get(f"/plan_jobs/{name}/events"))["items"]
        assert [e["type"] for e in events] == ["task_start"] * 3 + ["plan_finished"]
        jobs = [e["details"]["job-id"] for e in events[:3]]
        assert len(set(jobs)) == 3  # one job per step: none started twice
        for job in jobs:
            ran = (await api.get(f"/jobs/{job}/events"))["items"]
            targets = 1 if job == jobs[1] else 2
            assert [e["type"] for e in ran].count("node_running") == targets
