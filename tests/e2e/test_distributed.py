"""Podium on RabbitMQ as separate processes: api, schedulers and executors, with failures."""

from __future__ import annotations

import asyncio
import json
import signal
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest

from podium.api.bodies import iso_seconds
from podium.events.amqp.broker import Broker
from podium.events.amqp.log import AmqpEventLog
from podium.events.amqp.settings import AmqpSettings
from podium.events.fold import fold_all
from podium.events.model import Event
from podium.events.state import State
from podium.jsontypes import Json
from tests.conftest import most_running_at_once, open_broker
from tests.e2e.cluster import (
    Client,
    Cluster,
    Process,
    check_each_node_ran_once,
    health,
    sim_inventory,
)
from tests.e2e.schedules import check_each_occurrence_once, every_event

FAST = "{latency-ms: [1, 6], seed: 5}"


@pytest.fixture
async def cluster(tmp_path: Path, amqp_url: str) -> AsyncIterator[Cluster]:
    prefix = f"e2e-{uuid.uuid4().hex[:8]}"
    inventory = sim_inventory(
        tmp_path / "inventory.yaml",
        {
            "fast": (1000, FAST),
            "slow": (200, "{latency-ms: 250}"),
            "long": (4, "{latency-ms: 4000}"),
        },
    )
    running = Cluster.create(tmp_path, amqp_url, prefix, inventory, lease_s=2, heartbeat_s=0.4)
    try:
        yield running
    finally:
        running.stop_all()
        async with open_broker(AmqpSettings(url=amqp_url, prefix=prefix)):
            pass  # deletes the prefix's queues and exchanges


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as opened:
        yield opened


async def rabbitmqctl(*args: str) -> None:
    process = await asyncio.create_subprocess_exec(
        "rabbitmqctl", *args, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    _, stderr = await process.communicate()
    assert process.returncode == 0, stderr.decode()


def nodes(group: str, count: int, first: int = 0) -> list[str]:
    return [f"{group}{i:04d}" for i in range(first, first + count)]


async def test_a_thousand_nodes_run_once_each_within_the_jobs_concurrency(
    cluster: Cluster, session: aiohttp.ClientSession
) -> None:
    api = cluster.start("api")
    for _ in range(2):
        cluster.start("scheduler")
    for _ in range(3):
        cluster.start("executor", "--slots", "32")
    await cluster.wait_running(cluster.processes)
    client = await Client.connect(session, api)
    name = await client.task(nodes("fast", 1000), concurrency=50)
    job = await client.wait_job(name)
    assert job["state"] == "finished"
    assert job["node_states"] == {"finished": 1000}
    events = (await client.get(f"/jobs/{name}/events"))["items"]
    check_each_node_ran_once(events, nodes("fast", 1000))
    assert [e["type"] for e in events].count("node_running") == 1000
    assert 1 < most_running_at_once(events) <= 50


async def test_a_killed_executors_runs_are_settled_and_the_job_finishes(
    cluster: Cluster, session: aiohttp.ClientSession
) -> None:
    api = cluster.start("api")
    cluster.start("scheduler")
    victim = cluster.start("executor", "--slots", "16", status=True)
    cluster.start("executor", "--slots", "16")
    await cluster.wait_running(cluster.processes)
    client = await Client.connect(session, api)
    name = await client.task(nodes("slow", 120), concurrency=20)
    await client.wait_nodes(name, "finished", 10)
    # Killed while it holds runs (on a busy machine the other executor may have had them all).
    async with asyncio.timeout(30):
        while (await health(session, victim))[1]["status"]["runs_in_progress"] < 2:
            await asyncio.sleep(0.02)
    victim.kill()
    job = await client.wait_job(name)
    assert job["state"] == "finished"
    events = (await client.get(f"/jobs/{name}/events"))["items"]
    check_each_node_ran_once(events, nodes("slow", 120))
    lost = [e for e in events if e["type"] == "node_errored"]
    assert lost  # the task runs the victim had started end errored and are not run again
    for event in lost:
        assert "was lost" in event["details"]["detail"]["msg"]
    assert job["node_states"]["finished"] + len(lost) == 120


async def test_a_standby_scheduler_takes_over_from_a_killed_leader(
    cluster: Cluster, session: aiohttp.ClientSession
) -> None:
    api = cluster.start("api")
    for _ in range(2):
        cluster.start("scheduler", status=True)
    for _ in range(2):
        cluster.start("executor", "--slots", "16")
    await cluster.wait_running(cluster.processes)
    client = await Client.connect(session, api)
    leader = await cluster.leader()
    for scheduler in cluster.of("scheduler"):
        status, entry = await health(session, scheduler)
        assert (status, entry["state"]) == (200, "running")
        assert entry["status"]["scheduler"] == ("leader" if scheduler is leader else "standby")
    name = await client.task(nodes("slow", 100), concurrency=16)
    await client.wait_nodes(name, "finished", 16)
    killed_at = time.monotonic()
    leader.kill()
    successor = await cluster.leader()
    assert successor is not leader
    assert time.monotonic() - killed_at < 10
    job = await client.wait_job(name)
    assert job["state"] == "finished"
    assert job["node_states"] == {"finished": 100}
    check_each_node_ran_once(
        (await client.get(f"/jobs/{name}/events"))["items"], nodes("slow", 100)
    )


def log_lines(process: Process) -> list[Json]:
    return [json.loads(line) for line in process.text().splitlines() if line.startswith("{")]


async def test_a_clean_sigterm_of_a_scheduler_warns_of_nothing(cluster: Cluster) -> None:
    """A standby that stops says nothing of leadership; a leader that stops releases it, at
    info: neither has lost anything."""
    first = cluster.start("scheduler", status=True)
    await cluster.wait_running([first])
    leader = await cluster.leader()
    standby = cluster.start("scheduler", status=True)
    await cluster.wait_running([standby])
    await asyncio.sleep(0.5)  # "podium is running" comes just before the signal handlers
    for process in (standby, leader):
        process.popen.send_signal(signal.SIGTERM)
        assert process.popen.wait(timeout=60) == 0, process.text()
        loud = [line for line in log_lines(process) if line["level"] not in ("debug", "info")]
        assert loud == [], process.text()

    def leadership(process: Process) -> list[tuple[str, str]]:
        lines = log_lines(process)
        return [(line["event"], line["level"]) for line in lines if "leadership" in line["event"]]

    assert leadership(leader) == [("leadership acquired", "info"), ("leadership released", "info")]
    assert leadership(standby) == []


async def test_a_rabbitmq_restart_mid_job_loses_nothing(
    cluster: Cluster, session: aiohttp.ClientSession
) -> None:
    api = cluster.start("api", "--submit-timeout-s", "3")
    cluster.start("scheduler")
    for _ in range(2):
        cluster.start("executor", "--slots", "16")
    await cluster.wait_running(cluster.processes)
    client = await Client.connect(session, api)
    name = await client.task(nodes("slow", 150), concurrency=30)
    await client.wait_nodes(name, "finished", 20)
    await rabbitmqctl("stop_app")
    try:
        started = time.monotonic()
        status, answer = await client.post(
            "/command/task",
            {"task": "testmod::echo", "params": {}, "scope": {"nodes": ["fast0000"]}},
        )
        assert (status, answer["kind"]) == (503, "puppetlabs.orchestrator/broker-unavailable")
        assert time.monotonic() - started < 10  # an answer, not a hang
        status, entry = await health(session, api)
        assert (status, entry["state"], entry["status"]["broker"]) == (503, "error", "disconnected")
        alive = await client.get(f"/jobs/{name}")  # reads go on from the folded state
        assert alive["name"] == name
    finally:
        await rabbitmqctl("start_app")
    job = await client.wait_job(name)
    assert job["state"] == "finished"
    events = (await client.get(f"/jobs/{name}/events"))["items"]
    check_each_node_ran_once(events, nodes("slow", 150))
    jobs = (await client.get("/jobs"))["items"]
    assert [j["name"] for j in jobs] == [name]  # the command answered 503 was not run
    # A replica started now folds the log from scratch: no gap, no copy, the same answers.
    replica = await Client.connect(session, cluster.start("api"))
    assert await replica.view() == await client.view()
    assert all(p.alive() for p in cluster.processes)


async def test_a_stop_from_a_second_replica_stops_a_big_job_within_one_window(
    cluster: Cluster, session: aiohttp.ClientSession
) -> None:
    first = cluster.start("api")
    second = cluster.start("api")
    cluster.start("scheduler", "--max-inflight", "40")
    for _ in range(2):
        cluster.start("executor", "--slots", "16")
    await cluster.wait_running(cluster.processes)
    one = await Client.connect(session, first)
    other = await Client.connect(session, second)  # with the one admin token, either's
    assert len(list(cluster.directory.glob("api-*/admin.token"))) == 1
    said = [line for p in (first, second) for line in p.text().splitlines()
            if line.startswith("Admin token: ")]  # fmt: skip
    elsewhere = "Admin token: in the data dir of the api replica that made it"
    assert sorted(line == elsewhere for line in said) == [False, True]
    name = await one.task(nodes("fast", 1000) + nodes("slow", 200))
    await one.wait_nodes(name, "finished", 50)
    status, answer = await other.post("/command/stop", {"job": name})
    assert status == 202
    ran_before_stop = sum(
        answer["job"]["nodes"][s] for s in ("running", "finished", "failed", "errored")
    )
    job = await one.wait_job(name)
    assert job["state"] == "stopped"
    ran = sum(job["node_states"].get(s, 0) for s in ("finished", "failed", "errored"))
    assert ran <= ran_before_stop + 40  # what was in flight when the stop came, at most
    assert job["node_states"]["skipped"] == 1200 - ran
    events = (await one.get(f"/jobs/{name}/events"))["items"]
    assert [e["type"] for e in events].count("job_stopping") == 1
    assert events[-1]["type"] == "job_finished"
    await other.wait_job(name)
    assert await other.view() == await one.view()  # the replicas agree


async def test_a_run_longer_than_the_lease_is_not_taken_for_lost(
    cluster: Cluster, session: aiohttp.ClientSession
) -> None:
    api = cluster.start("api")
    cluster.start("scheduler")
    cluster.start("executor")
    await cluster.wait_running(cluster.processes)
    client = await Client.connect(session, api)
    name = await client.task(nodes("long", 4))  # 4 s runs, a 2 s lease
    job = await client.wait_job(name)
    assert job["node_states"] == {"finished": 4}
    assert not any(
        e["type"] == "node_errored" for e in (await client.get(f"/jobs/{name}/events"))["items"]
    )


def created(job: Json) -> float:
    return iso_seconds(job["status"][0]["enter_time"])


async def folded_log(cluster: Cluster) -> tuple[State, list[Event]]:
    """The cluster's log as it is on RabbitMQ, every event of it and its fold."""
    settings = AmqpSettings(url=cluster.env["PODIUM_AMQP_URL"], prefix=cluster.env["PODIUM_PREFIX"])
    broker = await Broker.open(settings, "reader")
    try:
        log = await AmqpEventLog.open(broker)
        events = await every_event(log)
        await log.close()
    finally:
        await broker.close()
    return fold_all(events), events


async def test_scheduled_runs_fire_exactly_once_across_a_killed_leader(
    cluster: Cluster, session: aiohttp.ClientSession
) -> None:
    """A one-off task 2 s ahead and one every 2 s on real processes; the leading scheduler is
    killed (SIGKILL) while a run is going; the log says every occurrence fired once. Two api
    replicas both make each fired occurrence's job: the log keeps one."""
    api = cluster.start("api")
    cluster.start("api")
    for _ in range(2):
        cluster.start("scheduler")
    cluster.start("executor", "--slots", "16")
    await cluster.wait_running(cluster.processes)
    client = await Client.connect(session, api)
    leader = await cluster.leader()
    start = datetime.fromtimestamp(time.time() + 2, UTC).isoformat()
    task = {"task": "testmod::echo", "params": {}, "scope": {"nodes": nodes("slow", 4)}}
    status, answer = await client.post("/command/schedule_task", {**task, "scheduled_time": start})
    assert status == 202, answer
    once = answer["scheduled_job"]["name"]
    every = {"interval": {"units": "seconds", "value": 2}}
    status, answer = await client.post(
        "/command/schedule_task",
        {**task, "concurrency": 1, "scheduled_time": start, "schedule_options": every},
    )  # each run takes about 1 s: 4 nodes of 250 ms, one at a time
    assert status == 202, answer
    recurring = answer["scheduled_job"]["name"]

    async def runs() -> list[Json]:
        jobs = (await client.get("/jobs?order_by=name"))["items"]
        return [j for j in jobs if j["options"]["scheduled-job-id"] == recurring]

    async with asyncio.timeout(60):
        while len(made := await runs()) < 2 or made[-1]["state"] != "running":
            await asyncio.sleep(0.05)
    leader.kill()
    killed_at = time.time()
    assert await cluster.leader() is not leader
    async with asyncio.timeout(60):
        while not [j for j in await runs() if created(j) > killed_at + 1]:
            await asyncio.sleep(0.1)
    for job in await runs():
        await client.wait_job(job["name"])
    async with session.delete(
        f"{client.base}/orchestrator/v1/scheduled_jobs/{recurring}",
        headers={"X-Authentication": client.token},
    ) as response:
        assert response.status == 204
    state, events = await folded_log(cluster)
    fired = check_each_occurrence_once(state, events, recurring, 2)
    assert max(fired) > killed_at  # the successor fired too
    assert check_each_occurrence_once(state, events, once, 2) == [iso_seconds(start)]
