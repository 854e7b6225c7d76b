"""The projection of ended jobs (podium.history): every read answers byte-for-byte as it did from
memory, on one history folded both ways (jobs run by a real engine, a user who sees only their
own, a large job, a live one), before and after pruning; a restart folds only the log's tail; a
projection that is damaged or of another schema is rebuilt from the log."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, Final

import msgspec
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from podium.api.app import build_app
from podium.api.settings import ApiSettings
from podium.api.sources import InventoryHolder, SourceFiles
from podium.api.views import job_item, node_item
from podium.auth import new_token, token_sha256
from podium.engine import Engine
from podium.environments import Environments
from podium.events.filelog import FileEventLog
from podium.events.jobspec import TaskJob
from podium.events.model import (
    Event,
    JobFinished,
    JobReady,
    JobsPruned,
    JobState,
    NodeRunDispatched,
    NodeRunFinished,
    NodeRunStarted,
    NodeState,
    TokenIssued,
)
from podium.events.producer import Producer
from podium.events.projector import Projector
from podium.events.render import job_event
from podium.events.state import Job, PlanJob, State
from podium.history.archive import Archive
from podium.history.reads import JobReader
from podium.history.store import PROJECTION_FILE, HistoryStore, JobFilter, Write
from podium.jsontypes import Json
from podium.rbac.builtin import ADMIN_ID, ADMIN_LOGIN, builtin_events
from tests.builders import job_requested, stamp
from tests.conftest import ENVIRONMENTS, FLEET, INVENTORY, Api, running, serving, settings_for
from tests.integration.test_plans import run_plan, wait_plan

# Nodes of the large job among every read compared; 100,000 passes too (about 4 minutes on 2
# busy cores; PODIUM_TEST_LARGE_JOB=100000). A job of HUGE nodes has its reads compared alone.
LARGE: Final = int(os.environ.get("PODIUM_TEST_LARGE_JOB", "5000"))
HUGE: Final = 100_000
PUBLIC_URL: Final = "https://podium.test:8143"  # answers name one host whatever the port
NOW: Final = 2_000_000_000.0  # the clock of both apps: durations of running nodes agree
LOG_FILE: Final = "events.log"
ENDS: Final = (NodeState.FINISHED, NodeState.FAILED, NodeState.ERRORED, NodeState.SKIPPED)


async def _engine_history(data: Path) -> tuple[str, str]:
    """Jobs run by a real engine: tasks on sim nodes that succeed and fail, a deploy, a stopped
    job, and the jobs of a user who may see only their own; plan jobs that succeed, fail, fail
    and are resumed, and one Bolt drives that is still going (its ended job kept in memory for
    it). Returns both users' tokens."""
    async with running(data) as (_, api):
        await _plan_history(api, data / "marker")
        runner = await api.as_new_user("runner", ["tasks:run:*"])
        names = [await api.run_task(["n-01", "n-02"]) for _ in range(3)]
        names.append(await api.run_task(["flaky-1", "flaky-2", "flaky-3", "flaky-4"]))
        status, answer = await api.post(
            "/command/deploy", {"environment": "production", "scope": {"nodes": ["n-03"]}}
        )
        assert status == 202, answer
        names.append(str(answer["job"]["name"]))
        names.append(await runner.run_task(["n-04"]))
        slow = await api.run_task(["slow-1", "slow-2", "slow-3"], concurrency=1)
        await api.wait_node_state(slow, "running", 1)
        status, _ = await api.post("/command/stop", {"job": slow, "force": True})
        assert status == 202
        for name in [*names, slow]:
            await api.wait_job(name)
        return api.token, runner.token


async def _plan_history(api: Api, marker: Path) -> None:
    plans = [
        await run_plan(api, "plantest", {"targets": ["localhost", "n-01"], "pkg": "curl"}),
        await run_plan(api, "plantest::failing", {"targets": "localhost"}),
        await run_plan(api, "plantest::resumable", {"marker": str(marker)}),
    ]
    states = [(await wait_plan(api, name))["state"] for name in plans]
    assert states == ["success", "failure", "failure"]
    marker.write_text("there\n")
    status, answer = await api.post("/command/plan_resume", {"plan_job": plans[2], "from_step": 2})
    assert status == 202, answer
    assert (await wait_plan(api, plans[2]))["state"] == "success"
    status, answer = await api.post("/command/plan_start", {"plan_name": "ops::deploy"})
    assert status == 202, answer
    body = {
        "task": "testmod::echo",
        "params": {},
        "scope": {"nodes": ["n-02"]},
        "plan_job": answer["name"],
    }
    status, answer = await api.post("/command/task", body)
    assert status == 202, answer
    await api.wait_job(answer["job"]["name"])


def _large_job(name: str, nodes: int, at: float) -> list[list[Event]]:
    """A finished job of `nodes` nodes in every ending, results with sensitive values."""
    names = [f"big-{n:06d}" for n in range(nodes)]
    requested = job_requested(names, request_id=f"large-{name}", at=at)
    dispatched: list[Event] = [JobReady(at=at, job=name)]
    dispatched += [NodeRunDispatched(at=at, job=name, node=n, attempt=1) for n in names]
    started: list[Event] = [
        NodeRunStarted(at=at + 1, job=name, node=n, attempt=1, executor="e-1") for n in names
    ]
    finished: list[Event] = [
        NodeRunFinished(
            at=at + 2 + index % 7,
            job=name,
            node=n,
            attempt=1,
            state=ENDS[index % 4],
            result={"_output": f"ran on {n}", "_sensitive": "hush"} if index % 3 else None,
            message="" if index % 5 else f"note on {n}",
        )
        for index, n in enumerate(names)
    ]
    done: list[Event] = [JobFinished(at=at + 10, job=name, state=JobState.FINISHED)]
    return [[requested], dispatched, started, finished, done]


def _live_job(name: str, at: float) -> list[list[Event]]:
    nodes = ["live-1", "live-2", "live-3"]
    ready: list[Event] = [JobReady(at=at, job=name)]
    return [
        [job_requested(nodes, request_id=f"live-{name}", at=at, kind="deploy")],
        ready + [NodeRunDispatched(at=at, job=name, node=n, attempt=1) for n in nodes],
        [NodeRunStarted(at=at + 1, job=name, node=n, attempt=1, executor="e-1") for n in nodes[:2]],
        [NodeRunFinished(at=at + 2, job=name, node="live-1", attempt=1, state=NodeState.FAILED)],
    ]


async def _append(log: FileEventLog, batches: list[list[Event]], origin: str, seq: int) -> int:
    for batch in batches:
        await log.append(stamp(batch, origin=origin, first_seq=seq))
        seq += len(batch)
    return seq


@asynccontextmanager
async def _app(log: FileEventLog, archive: Archive | None) -> AsyncIterator[Projector]:
    projector = Projector(log, archive=archive)
    if archive is not None:
        archive.start(projector.state, projector.next_offset)
    task = asyncio.get_running_loop().create_task(projector.run())
    await projector.caught_up.wait()
    try:
        yield projector
    finally:
        task.cancel()
        await asyncio.wait([task])
        if archive is not None:
            await archive.close()


def _build(projector: Projector, log: FileEventLog, archive: Archive | None) -> web.Application:
    sources = InventoryHolder.load(SourceFiles(INVENTORY, FLEET / "node_groups.yaml"))
    return build_app(
        projector,
        Producer(log, origin="reads-only"),
        log,
        Environments(ENVIRONMENTS),
        sources,
        ApiSettings(public_url=PUBLIC_URL),
        clock=lambda: NOW,
        archive=archive,
    )


class Both:
    """The same request to the app reading from memory and to the one reading the projection."""

    def __init__(self, memory: TestClient[Any, Any], projected: TestClient[Any, Any]) -> None:
        self.memory, self.projected = memory, projected
        self.compared = 0

    async def same(self, path: str, token: str, **headers: str) -> bytes:
        """The path under /orchestrator/v1 (or from the root when it starts with //)."""
        url = path[1:] if path.startswith("//") else f"/orchestrator/v1{path}"
        answers = []
        for client in (self.memory, self.projected):
            response = await client.get(url, headers={"X-Authentication": token, **headers})
            answers.append((response.status, await response.read()))
        assert answers[0] == answers[1], path
        self.compared += 1
        return answers[0][1]

    async def same_post(self, path: str, body: Json, token: str) -> bytes:
        """A command both refuse (it would change the log otherwise)."""
        answers = []
        for client in (self.memory, self.projected):
            url = f"/orchestrator/v1{path}"
            response = await client.post(url, json=body, headers={"X-Authentication": token})
            answers.append((response.status, await response.read()))
        assert answers[0] == answers[1], path
        assert answers[0][0] >= 400, answers[0]
        self.compared += 1
        return answers[0][1]

    async def same_metrics(self, token: str) -> str:
        """The job and node lines of /metrics (request counts differ: each app had its own)."""
        texts = []
        for client in (self.memory, self.projected):
            response = await client.get("/metrics", headers={"X-Authentication": token})
            lines = (await response.text()).splitlines()
            texts.append("\n".join(line for line in lines if "podium_http_responses" not in line))
        assert texts[0] == texts[1]
        return texts[0]

    async def same_stream_start(self, path: str, token: str, messages: int) -> None:
        """The first `messages` Server-Sent Events of an endless stream."""
        texts = []
        for client in (self.memory, self.projected):
            headers = {"X-Authentication": token, "Accept": "text/event-stream"}
            async with client.get(f"/orchestrator/v1{path}", headers=headers) as response:
                chunks, seen = [], 0
                async with asyncio.timeout(60):
                    while seen < messages:
                        chunk = await response.content.read(1 << 20)
                        chunks.append(chunk)
                        seen += chunk.count(b"\n\n")
            texts.append(b"".join(chunks).split(b"\n\n")[:messages])
        assert texts[0] == texts[1], path
        self.compared += 1


async def _compare_lists(both: Both, state: State, token: str) -> None:
    """GET /jobs in every order, pages near and far, and every filter."""
    finished = sorted(job.finished_at for job in state.jobs.values() if job.finished_at is not None)
    middle = finished[len(finished) // 2]
    await both.same("/jobs", token)
    for order_by in ("timestamp", "name", "state", "environment", "owner"):
        for order in ("asc", "desc"):
            for page in ("limit=3&offset=1", "limit=2&offset=4", "limit=4&offset=6"):
                await both.same(f"/jobs?order_by={order_by}&order={order}&{page}", token)
    for query in (
        "type=task",
        "type=deploy",
        "task=echo",
        "task=testmod::echo&limit=2",
        f"min_finish_timestamp={time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(middle))}",
        f"max_finish_timestamp={time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(middle))}",
        "offset=100",
        "order_by=nonsense",
    ):
        await both.same(f"/jobs?{query}", token)


async def _compare_every_read(both: Both, projector: Projector, admin: str, runner: str) -> None:
    state = projector.state
    names = sorted(state.jobs, key=int)
    for token in (admin, runner):
        await _compare_lists(both, state, token)
    for name in [*names, "999999", "0012"]:
        token = admin if int(name) % 2 else runner
        for path in (
            f"/jobs/{name}",
            f"/jobs/{name}/nodes",
            f"/jobs/{name}/nodes?order_by=duration&order=desc&limit=5&offset=2",
            f"/jobs/{name}/nodes?state=failed&order_by=finish_timestamp",
            f"/jobs/{name}/report",
            f"/jobs/{name}/events",
            f"/jobs/{name}/events?start=abc",
        ):
            await both.same(path, admin)
            await both.same(path, token)
        job = state.jobs.get(name)
        if job is not None and job.events:
            mid = job.events[len(job.events) // 2].id
            await both.same(f"/jobs/{name}/events?start={mid}", admin)
            if job.finished_at is not None:
                await both.same(f"/jobs/{name}/events", admin, Accept="text/event-stream")
                await both.same(
                    f"/jobs/{name}/events",
                    admin,
                    Accept="text/event-stream",
                    **{"Last-Event-ID": str(mid)},
                )
    every = sorted(event.id for job in state.jobs.values() for event in job.events)
    for start in (1, every[len(every) // 3]):
        after = sum(1 for event_id in every if event_id >= start)
        await both.same_stream_start(f"/events?start={start}", admin, after)
        await both.same_stream_start(f"/events?start={start}&type=node_failed", admin, 1)
    await _compare_plan_reads(both, state, admin, runner)
    runner_events = sum(
        1 for job in state.jobs.values() if job.owner != "user-1" for _ in job.events
    )
    assert runner_events
    metrics = await both.same_metrics(admin)
    assert 'podium_jobs{state="finished"}' in metrics


async def _compare_plan_reads(both: Both, state: State, admin: str, runner: str) -> None:
    """GET /plan_jobs in every order and filter, each plan job, its events (pages, streams,
    one event), and a task Bolt sends for an ended one."""
    await _compare_plan_lists(both, state, admin, runner)
    for name in [*sorted(state.plan_jobs, key=int), "999", "01"]:
        for path in (f"/plan_jobs/{name}", f"/plan_jobs/{name}/events"):
            await both.same(path, admin)
            await both.same(path, runner)
        plan = state.plan_jobs.get(name)
        if plan is not None:
            await _compare_plan_events(both, plan, admin)


async def _compare_plan_lists(both: Both, state: State, admin: str, runner: str) -> None:
    for token in (admin, runner):
        await both.same("/plan_jobs", token)
    finished = sorted(p.finished_at for p in state.plan_jobs.values() if p.finished_at is not None)
    assert finished
    middle = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(finished[len(finished) // 2]))
    for order_by in ("timestamp", "name", "state", "environment", "owner"):
        for order in ("asc", "desc"):
            for page in ("", "&limit=2&offset=1", "&limit=2&offset=3&results=exclude"):
                await both.same(f"/plan_jobs?order_by={order_by}&order={order}{page}", admin)
    for query in (f"min_finish_timestamp={middle}", f"max_finish_timestamp={middle}", "offset=9"):
        await both.same(f"/plan_jobs?{query}", admin)


async def _compare_plan_events(both: Both, plan: PlanJob, admin: str) -> None:
    name = plan.name
    for event in (plan.events[0], plan.events[-1]):
        await both.same(f"/plan_jobs/{name}/events?start={event.id}", admin)
        await both.same(f"/plan_jobs/{name}/event/{event.id}", admin)
    await both.same(f"/plan_jobs/{name}/event/{plan.events[-1].id + 1}", admin)
    if plan.finished_at is not None:
        await both.same(f"/plan_jobs/{name}/events", admin, Accept="text/event-stream")
        body: Json = {"task": "testmod::echo", "scope": {"nodes": ["n-02"]}, "plan_job": name}
        await both.same_post("/command/task", {**body, "params": {}}, admin)


async def test_every_read_answers_the_same_from_the_projection_as_from_memory(
    tmp_path: Path,
) -> None:
    admin, runner = await _engine_history(tmp_path / "engine")
    log = await FileEventLog.open(tmp_path / "engine" / LOG_FILE, fsync=False)
    try:
        async with _app(log, None) as memory_projector:
            count = memory_projector.state.job_count
            at = time.time()
            seq = await _append(log, _large_job(str(count + 1), LARGE, at), "synthetic", 1)
            seq = await _append(log, _live_job(str(count + 2), at + 20), "synthetic", seq)
            await memory_projector.sync()
            archive, checkpoint = await Archive.open(tmp_path / PROJECTION_FILE)
            assert checkpoint is None
            async with _app(log, archive) as projected:
                await archive.flushed()
                # In memory: the live job, the job of the plan job Bolt drives, that plan job
                bolt = next(
                    p for p in memory_projector.state.plan_jobs.values() if p.driven_by_client
                )
                assert set(projected.state.jobs) == {str(count + 2), bolt.jobs[-1]}
                assert set(projected.state.plan_jobs) == {bolt.name}
                assert len(memory_projector.state.plan_jobs) == 4
                memory_app = _build(memory_projector, log, None)
                projected_app = _build(projected, log, archive)
                async with (
                    TestClient(TestServer(memory_app)) as one,
                    TestClient(TestServer(projected_app)) as two,
                ):
                    both = Both(one, two)
                    await _compare_every_read(both, memory_projector, admin, runner)

                    # Retention: jobs that ended before the last of the first three ended are
                    # pruned (those are jobs of three plans run at once: they end in any order)
                    ends = [memory_projector.state.jobs[name].finished_at for name in "123"]
                    assert None not in ends
                    pruned = JobsPruned(at=NOW, before=max(e for e in ends if e) + 1e-6)
                    seq = await _append(log, [[pruned]], "synthetic", seq)
                    await memory_projector.sync()
                    await projected.sync()
                    await archive.flushed()
                    assert "1" not in memory_projector.state.jobs
                    await _compare_every_read(both, memory_projector, admin, runner)
                    for name in ("1", "2", "3"):
                        assert (
                            await one.get(
                                f"/orchestrator/v1/jobs/{name}", headers={"X-Authentication": admin}
                            )
                        ).status == 404
                    # Names and ids go on from where they were, never again from a pruned one
                    highest = memory_projector.state.position
                    request = job_requested(["n-05"], request_id="after-pruning", at=NOW)
                    await _append(log, [[request]], "synthetic", seq)
                    await memory_projector.sync()
                    await projected.sync()
                    for state in (memory_projector.state, projected.state):
                        job = state.jobs[str(count + 3)]
                        assert job.created_position == highest + 1
                    assert both.compared > 300
    finally:
        await log.close()


async def test_a_job_of_100000_nodes_answers_the_same_from_the_projection(tmp_path: Path) -> None:
    """Every read of one ended job of HUGE nodes (all its nodes in one answer, its events, the
    stream of them), from memory and from the projection, on a log that holds only the admin
    user and that job."""
    token = new_token()
    issued = TokenIssued(
        at=NOW, token_sha256=token_sha256(token), user_id=ADMIN_ID, login=ADMIN_LOGIN
    )
    log = await FileEventLog.open(tmp_path / LOG_FILE, fsync=False)
    try:
        seq = await _append(log, [[*builtin_events(State(), NOW), issued]], "synthetic", 1)
        await _append(log, _large_job("1", HUGE, NOW - 1_000), "synthetic", seq)
        async with _app(log, None) as memory:
            job = memory.state.jobs["1"]
            assert len(job.nodes) == HUGE
            assert job.finished_at is not None
            archive, _ = await Archive.open(tmp_path / PROJECTION_FILE)
            async with _app(log, archive) as projected:
                await archive.flushed()
                assert "1" not in projected.state.jobs  # read from the store
                async with (
                    TestClient(TestServer(_build(memory, log, None))) as one,
                    TestClient(TestServer(_build(projected, log, archive))) as two,
                ):
                    both = Both(one, two)
                    mid = job.events[len(job.events) // 2].id
                    nodes = msgspec.json.decode(await both.same("/jobs/1/nodes", token))
                    assert len(nodes["items"]) == HUGE
                    for path in (
                        "/jobs/1",
                        "/jobs?limit=5",
                        "/jobs/1/nodes?order_by=duration&order=desc&limit=5&offset=2",
                        "/jobs/1/nodes?state=failed&order_by=finish_timestamp&limit=1000",
                        "/jobs/1/report",
                        "/jobs/1/events",
                        f"/jobs/1/events?start={mid}",
                    ):
                        await both.same(path, token)
                    await both.same("/jobs/1/events", token, Accept="text/event-stream")
    finally:
        await log.close()


async def test_a_restart_folds_only_the_tail(tmp_path: Path) -> None:
    data = tmp_path / "data"
    async with running(data, public_url=PUBLIC_URL) as (engine, api):
        for _ in range(5):
            await api.wait_job(await api.run_task(["n-01", "n-02", "n-03"]))
        assert engine.folded_at_start == 0
    checkpoint_offset, total = await _checkpoint_and_total(data)
    assert checkpoint_offset > 0
    tail = await _events_from(data, checkpoint_offset)
    async with running(data, public_url=PUBLIC_URL) as (engine, api):
        assert engine.folded_at_start == tail  # what came after the checkpoint, no more
        assert tail < total / 10
        await api.wait_job(await api.run_task(["n-04"]))
        before = await api.ok("/jobs")
    async with running(data, public_url=PUBLIC_URL) as (engine, api):
        assert engine.folded_at_start < engine.projector.state.position / 10
        assert await api.ok("/jobs") == before
        assert len(before["items"]) == 6
        assert len(engine.projector.state.jobs) == 0  # every job ended: none in memory


async def _checkpoint_and_total(data: Path) -> tuple[int, int]:
    """The projection's checkpoint offset, and the events the log holds."""
    archive, checkpoint = await Archive.open(data / PROJECTION_FILE)
    await asyncio.to_thread(archive.store.close)
    assert checkpoint is not None
    return checkpoint.next_offset, await _events_from(data, 0)


async def _events_from(data: Path, offset: int) -> int:
    log = await FileEventLog.open(data / LOG_FILE, fsync=False)
    try:
        head = await log.head()
        counted = 0
        if offset < head.offset:
            async for record in log.subscribe(offset):
                counted += len(record.events)
                if record.offset + 1 >= head.offset:
                    break
        return counted
    finally:
        await log.close()


@pytest.mark.parametrize("damage", ["garbage", "old schema"])
async def test_a_damaged_or_old_projection_is_rebuilt_from_the_log(
    tmp_path: Path, damage: str
) -> None:
    data = tmp_path / "data"
    async with running(data) as (_, api):
        names = [await api.run_task(["n-01"]) for _ in range(3)]
        for name in names:
            await api.wait_job(name)
        before = [await api.ok(f"/jobs/{name}/report") for name in names]
    projection = data / PROJECTION_FILE
    if damage == "garbage":
        for suffix in ("-wal", "-shm"):
            Path(f"{projection}{suffix}").unlink(missing_ok=True)
        projection.write_bytes(b"not a database at all" * 100)
    else:
        with sqlite3.connect(projection) as connection:
            connection.execute("PRAGMA user_version = 0")
    async with running(data) as (engine, api):
        assert engine.projector.folded == engine.projector.state.position  # all of it again
        assert [await api.ok(f"/jobs/{name}/report") for name in names] == before
    assert (data / f"{PROJECTION_FILE}.damaged").exists() == (damage == "garbage")


async def test_the_scheduler_prunes_ended_jobs_and_names_go_on(tmp_path: Path) -> None:
    """Retention of one second: the ended jobs leave the answers and the projection's rows;
    the next job is named after them, and its events have higher ids."""
    settings = settings_for(tmp_path / "data", job_retention_days=1 / 86_400)
    settings = replace(settings, scheduler=replace(settings.scheduler, prune_every_s=0.2))
    engine = await Engine.start(settings)
    try:
        async with serving(engine) as api:
            names = [await api.run_task(["n-01", "n-02"]) for _ in range(2)]
            assert names == ["1", "2"]
            for name in names:
                await api.wait_job(name)
            events = (await api.ok(f"/jobs/{names[-1]}/events"))["items"]
            highest = max(int(event["id"]) for event in events)
            async with asyncio.timeout(20):
                while (await api.ok("/jobs"))["items"]:
                    await asyncio.sleep(0.1)
            for name in names:
                status, _ = await api.get(f"/jobs/{name}")
                assert status == 404
            assert engine.projector.state.pruned_before > 0
            new = await api.run_task(["n-03"])
            assert new == "3"
            await api.wait_job(new)
            ids = [int(e["id"]) for e in (await api.ok(f"/jobs/{new}/events"))["items"]]
            assert min(ids) > highest
    finally:
        await engine.close()
    with sqlite3.connect(tmp_path / "data" / PROJECTION_FILE) as connection:
        kept = connection.execute("SELECT name FROM jobs").fetchall()
        gone = connection.execute("SELECT count(*) FROM events WHERE job < 3").fetchone()
    assert (1,) not in kept
    assert (2,) not in kept
    assert gone == (0,)


async def test_podium_projection_rebuild_builds_it_from_the_log(tmp_path: Path) -> None:
    data = tmp_path / "data"
    async with running(data, public_url=PUBLIC_URL) as (_, api):
        names = [await api.run_task(["n-01", "n-02"]) for _ in range(3)]
        for name in names:
            await api.wait_job(name)
        before = [await api.ok(f"/jobs/{name}/report") for name in names]
    (data / PROJECTION_FILE).write_bytes(b"")  # whatever was there goes
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "podium.cli",
        "projection",
        "rebuild",
        "--data-dir",
        str(data),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, err.decode()
    assert out.decode().startswith(f"rebuilt {data / PROJECTION_FILE}: ")
    assert ", 3 jobs in " in out.decode()
    async with running(data, public_url=PUBLIC_URL) as (engine, api):
        assert engine.folded_at_start < engine.projector.state.position / 10  # its checkpoint
        assert [await api.ok(f"/jobs/{name}/report") for name in names] == before


async def test_podium_projection_rebuild_needs_a_log(tmp_path: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "podium.cli",
        "projection",
        "rebuild",
        "--data-dir",
        str(tmp_path),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 2
    assert err.decode() == f"podium projection: no log in {tmp_path} (events.log)\n"


async def test_a_crash_between_writes_loses_nothing(tmp_path: Path) -> None:
    """The archive checkpoints at every record and is abandoned (as by SIGKILL: nothing queued
    is written, no last checkpoint) after each of several records; a restart from what is in
    the file folds the tail and ends with every job as a fold into memory has it."""
    log = await FileEventLog.open(tmp_path / LOG_FILE, fsync=False)
    try:
        seq = 1
        for number in range(1, 7):
            seq = await _append(log, _large_job(str(number), 3 + number, 1000.0 * number), "c", seq)
        records = (await log.head()).offset
        async with _app(log, None) as memory:
            expected = {
                name: _rendered(memory.state, job) for name, job in memory.state.jobs.items()
            }
        for crash_after in range(1, records, 4):
            path = tmp_path / f"projection-{crash_after}.sqlite"
            archive, _ = await Archive.open(path, checkpoint_events=1)
            projector = Projector(log, archive=archive)
            archive.start(projector.state, projector.next_offset, projector.chain)
            async for record in log.subscribe(0):
                projector.apply(record)
                await asyncio.sleep(0)  # the archive writes when it gets a turn, or not
                if record.offset + 1 == crash_after:
                    break
            await archive.abandon()
            archive, checkpoint = await Archive.open(path)
            state, offset, chain = checkpoint if checkpoint is not None else (None, 0, b"")
            restarted = Projector(log, state, offset, chain, archive)
            archive.start(restarted.state, restarted.next_offset, restarted.chain)
            task = asyncio.get_running_loop().create_task(restarted.run())
            await restarted.caught_up.wait()
            await archive.flushed()
            reader = JobReader(restarted, archive)
            found = {}
            for name in expected:
                job = await reader.job(name, nodes=True, events_from=1)
                assert job is not None, (crash_after, name)
                found[name] = _rendered(restarted.state, job)
            assert found == expected, crash_after
            task.cancel()
            await asyncio.wait([task])
            await archive.close()
    finally:
        await log.close()


def _rendered(state: State, job: Job) -> bytes:
    """A job as GET /jobs/<id>, its nodes and its events show it."""
    base = "https://podium.test/orchestrator/v1"
    return msgspec.json.encode(
        [
            job_item(state, job, base, NOW),
            [node_item(job, run, NOW) for run in job.nodes.values()],
            [job_event(job, event) for event in job.events],
        ]
    )


def test_reads_in_one_snapshot_see_one_state_of_the_store(tmp_path: Path) -> None:
    """GET /jobs counted a job twice when it was written between the store's two reads of one
    page (which jobs in memory it holds, then how many it holds): 5 jobs for 4, once in a full
    run. Reads inside `snapshot` see the store as it was at the first of them."""

    def ended(name: str) -> Job:
        return Job(
            name=name,
            owner="u",
            spec=TaskJob(environment="production", task="m::t"),
            targets=[],
            created_at=1.0,
            created_position=1,
            state=JobState.FINISHED,
            status=[],
            nodes={},
            undispatched={},
            counts={},
            finished_at=2.0,
        )

    store, _ = HistoryStore.open(tmp_path / PROJECTION_FILE)
    try:
        store.write(Write(next_offset=1, jobs=[ended("1")]))
        everything = JobFilter()
        with store.snapshot():
            assert store.count(everything) == 1
            store.write(Write(next_offset=2, jobs=[ended("2")]))  # the writer commits meanwhile
            assert store.present([1, 2]) == {1}
            assert store.count(everything) == 1
        assert store.count(everything) == 2
    finally:
        store.close()
