"""`podium serve` as a real subprocess: concurrency seen from the events, idempotent stop,
SIGKILL mid-job and a restart that rebuilds the same state, and a clean SIGTERM."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime
from pathlib import Path

import aiohttp

from podium.api.bodies import iso_seconds
from podium.events.filelog import FileEventLog
from podium.events.fold import fold_all
from podium.jsontypes import Json
from tests.conftest import ENVIRONMENTS, most_running_at_once
from tests.e2e.cluster import Client
from tests.e2e.schedules import check_each_occurrence_once, every_event
from tests.sshd import free_port

TERMINAL = {"finished", "failed", "stopped"}
NODE_ENDS = {"node_finished", "node_failed", "node_errored", "node_skipped"}


def write_inventory(path: Path) -> Path:
    fleet = ", ".join(f"f{i:03d}" for i in range(200))
    slow = ", ".join(f"slow{i}" for i in range(12))
    path.write_text(
        "version: 2\nconfig:\n  transport: sim\n"
        "groups:\n"
        f"  - name: fleet\n    targets: [{fleet}]\n"
        "    config:\n      sim: {latency-ms: [2, 15], failure-rate: 0.05, seed: 9}\n"
        f"  - name: slow\n    targets: [{slow}]\n"
        "    config:\n      sim: {latency-ms: 700}\n"
    )
    return path


class Server:
    def __init__(self, data: Path, inventory: Path, *extra: str) -> None:
        self.data, self.inventory, self.port = data, inventory, free_port()
        self.extra = extra
        self.process: subprocess.Popen[bytes] | None = None
        self.log = data.parent / f"serve-{self.port}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        command = [
            sys.executable,
            "-m",
            "podium.cli",
            "serve",
            "--port",
            str(self.port),
            "--data-dir",
            str(self.data),
            "--inventory",
            str(self.inventory),
            "--environments",
            str(ENVIRONMENTS),
            *self.extra,
        ]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)

    async def wait_ready(self, session: aiohttp.ClientSession) -> None:
        async with asyncio.timeout(30):
            while True:
                assert self.process is not None
                assert self.process.poll() is None, self.log.read_text()
                try:
                    async with session.get(f"{self.url}/status/v1/simple") as response:
                        if response.status == 200:
                            return
                except aiohttp.ClientConnectionError:
                    pass
                await asyncio.sleep(0.1)

    def signal(self, sig: signal.Signals) -> int:
        assert self.process is not None
        self.process.send_signal(sig)
        return self.process.wait(timeout=60)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


async def everything(api: Client) -> list[Json]:
    """Every job, each followed by its events, as the API shows them."""
    views = []
    for job in (await api.get("/jobs?order_by=name"))["items"]:
        views += [await api.get(f"/jobs/{job['name']}/events"), job]
    return views


def connected(session: aiohttp.ClientSession, server: Server) -> Client:
    token = (server.data / "admin.token").read_text().strip()
    return Client(session, server.url, token)


@contextmanager
def server_process(data: Path, inventory: Path, *extra: str) -> Iterator[Server]:
    server = Server(data, inventory, *extra)
    try:
        yield server
    finally:
        server.kill()


@asynccontextmanager
async def client(server: Server) -> AsyncIterator[Client]:
    async with aiohttp.ClientSession() as session:
        server.start()
        await server.wait_ready(session)
        yield connected(session, server)


async def test_serve_runs_stops_survives_sigkill_and_shuts_down_cleanly(tmp_path: Path) -> None:
    inventory = write_inventory(tmp_path / "inventory.yaml")
    data = tmp_path / "data"
    with server_process(data, inventory) as server:
        async with client(server) as api:
            assert (data / "admin.token").stat().st_mode & 0o777 == 0o600

            # 200 sim nodes, at most 10 at once, as the events show.
            fleet = await api.task([f"f{i:03d}" for i in range(200)], concurrency=10)
            job = await api.wait_job(fleet)
            assert job["state"] == "finished"
            assert sum(job["node_states"].values()) == 200
            events = (await api.get(f"/jobs/{fleet}/events"))["items"]
            assert most_running_at_once(events) == 10
            assert [e["type"] for e in events].count("node_running") == 200

            # A slow job stopped twice: one job_stopping, the rest skipped.
            slow = await api.task([f"slow{i}" for i in range(6)], concurrency=2)
            await api.wait_nodes(slow, "running", 2)
            for _ in range(2):
                status, _ = await api.post("/command/stop", {"job": slow})
                assert status == 202
            stopped = await api.wait_job(slow)
            assert stopped["state"] == "stopped"
            assert stopped["node_states"] == {"finished": 2, "skipped": 4}
            slow_events = [e["type"] for e in (await api.get(f"/jobs/{slow}/events"))["items"]]
            assert slow_events.count("job_stopping") == 1
            assert slow_events[-1] == "job_finished"

            # SIGKILL in the middle of a job.
            doomed = await api.task([f"slow{i}" for i in range(6, 12)], concurrency=3)
            await api.wait_nodes(doomed, "running", 3)
            before = await everything(api)
            server.kill()

        server.start()
        async with aiohttp.ClientSession() as session:
            await server.wait_ready(session)
            api = connected(session, server)
            after = await everything(api)
            # Everything read before the kill is still there, with the same names and ids;
            # the doomed job may have moved on since (its lost runs are being settled).
            before_jobs, after_jobs = before, after
            assert [v.get("name") for v in after_jobs[1::2]] == [
                v.get("name") for v in before_jobs[1::2]
            ]
            for old, new in zip(before_jobs[0::2], after_jobs[0::2], strict=True):
                assert new["items"][: len(old["items"])] == old["items"]
            for old, new in zip(before_jobs[1:-1:2], after_jobs[1:-1:2], strict=True):
                assert old == new  # ended jobs are exactly as they were
            job = await api.wait_job(doomed)
            assert job["state"] == "finished"
            assert job["node_states"].get("errored") == 3  # the task runs the kill cut off
            assert await api.task(["f000"]) == str(int(doomed) + 1)

            # SIGTERM: runs in progress finish, the log is flushed, exit code 0.
            last = await api.task([f"slow{i}" for i in range(3)])
            await api.wait_nodes(last, "running", 3)
            assert server.signal(signal.SIGTERM) == 0

        server.start()
        async with aiohttp.ClientSession() as session:
            await server.wait_ready(session)
            api = connected(session, server)
            finished = await api.get(f"/jobs/{last}")
            assert finished["node_states"] == {"finished": 3}
            assert finished["state"] in ("running", "finished")


async def test_sighup_reloads_the_inventory(tmp_path: Path) -> None:
    inventory = tmp_path / "inventory.yaml"

    def write(*names: str) -> None:
        inventory.write_text(f"config: {{transport: sim}}\ntargets: [{', '.join(names)}]\n")

    async def names(api: Client) -> list[str]:
        return [item["name"] for item in (await api.get("/inventory"))["items"]]

    async def reloaded(server: Server, api: Client, expected: list[str]) -> None:
        assert server.process is not None
        server.process.send_signal(signal.SIGHUP)
        async with asyncio.timeout(20):
            while await names(api) != expected:
                await asyncio.sleep(0.05)

    write("a1")
    with server_process(tmp_path / "data", inventory, "--watch-s", "0") as server:
        async with client(server) as api:
            assert await names(api) == ["a1"]
            write("a1", "a2")
            await reloaded(server, api, ["a1", "a2"])
            write("a2", "a3")
            await reloaded(server, api, ["a2", "a3"])
            assert server.signal(signal.SIGTERM) == 0


async def test_scheduled_runs_fire_once_across_a_sigkill_of_podium_serve(tmp_path: Path) -> None:
    """A one-off task 2 s ahead and one every 2 s; `podium serve` is killed (SIGKILL) while a
    run is going and started again after a few intervals; its log says every occurrence was
    fired, skipped or missed once, each fired one made one job, and the schedule went on."""
    inventory = write_inventory(tmp_path / "inventory.yaml")
    data = tmp_path / "data"
    task = {"task": "testmod::echo", "params": {}, "scope": {"nodes": ["slow0", "slow1"]}}
    every = {"interval": {"units": "seconds", "value": 2}}
    with server_process(data, inventory) as server:
        async with client(server) as api:
            start = datetime.fromtimestamp(time.time() + 2, UTC).isoformat()
            once = await scheduled(api, {**task, "scheduled_time": start})
            recurring = await scheduled(
                api, {**task, "concurrency": 1, "scheduled_time": start, "schedule_options": every}
            )  # each run about 1.4 s: two nodes of 700 ms, one at a time
            async with asyncio.timeout(60):
                while len(made := await runs_of(api, recurring)) < 2 or made[-1]["state"] != (
                    "running"
                ):
                    await asyncio.sleep(0.05)
            server.kill()
            killed_at = time.time()
        await asyncio.sleep(5)  # two intervals or so with nothing running
        async with client(server) as api:
            async with asyncio.timeout(60):
                while not [j for j in await runs_of(api, recurring) if created(j) > killed_at]:
                    await asyncio.sleep(0.1)
            for job in await runs_of(api, recurring):
                await api.wait_job(job["name"])
            async with api.session.delete(
                f"{api.base}/orchestrator/v1/scheduled_jobs/{recurring}",
                headers={"X-Authentication": api.token},
            ) as response:
                assert response.status == 204
            assert server.signal(signal.SIGTERM) == 0
    log = await FileEventLog.open(data / "events.log")
    try:
        events = await every_event(log)
    finally:
        await log.close()
    state = fold_all(events)
    fired = check_each_occurrence_once(state, events, recurring, 2)
    assert max(fired) > killed_at  # it went on after the restart
    assert state.schedules[recurring].missed + state.schedules[recurring].skipped >= 1
    assert check_each_occurrence_once(state, events, once, 2) == [iso_seconds(start)]


async def scheduled(api: Client, body: Json) -> str:
    status, answer = await api.post("/command/schedule_task", body)
    assert status == 202, answer
    return str(answer["scheduled_job"]["name"])


async def runs_of(api: Client, schedule: str) -> list[Json]:
    jobs = (await api.get("/jobs?order_by=name"))["items"]
    return [job for job in jobs if job["options"]["scheduled-job-id"] == schedule]


def created(job: Json) -> float:
    return iso_seconds(job["status"][0]["enter_time"])


async def test_a_burst_of_new_connections_waits_in_the_listen_queue(tmp_path: Path) -> None:
    """While the server cannot accept (stopped here; busy in real life), the kernel completes
    the handshakes of connecting clients into the listen queue, up to its length. A client
    past it has its SYN dropped and tries again only a second later."""
    burst = 600
    with server_process(tmp_path / "data", write_inventory(tmp_path / "inventory.yaml")) as server:
        async with client(server) as api:
            assert server.process is not None
            server.process.send_signal(signal.SIGSTOP)
            try:
                attempts = [
                    asyncio.wait_for(asyncio.open_connection("127.0.0.1", server.port), 0.8)
                    for _ in range(burst)
                ]
                opened = await asyncio.gather(*attempts, return_exceptions=True)
            finally:
                server.process.send_signal(signal.SIGCONT)
            connected = [pair for pair in opened if isinstance(pair, tuple)]
            for _, writer in connected:
                writer.close()
            assert len(connected) == burst
            assert (await api.get("/jobs"))["items"] == []  # and it serves on
