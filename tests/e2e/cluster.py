"""A Podium cluster on RabbitMQ as separate OS processes, for the end-to-end tests."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from podium.jsontypes import Json
from tests.conftest import ENVIRONMENTS, NODE_ENDS
from tests.sshd import free_port

TERMINAL = {"finished", "failed", "stopped"}


def sim_inventory(path: Path, groups: dict[str, tuple[int, str]]) -> Path:
    """Groups of sim nodes: name -> (how many, the sim settings in YAML flow style)."""
    lines = ["version: 2", "config:", "  transport: sim", "groups:"]
    for name, (count, sim) in groups.items():
        nodes = ", ".join(f"{name}{i:04d}" for i in range(count))
        lines += [
            f"  - name: {name}",
            f"    targets: [{nodes}]",
            "    config:",
            f"      sim: {sim}",
        ]
    path.write_text("\n".join(lines) + "\n")
    return path


@dataclass
class Process:
    role: str
    args: list[str]
    log: Path
    popen: subprocess.Popen[bytes]
    port: int | None = None

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill(self) -> None:
        if self.alive():
            self.popen.send_signal(signal.SIGKILL)
            self.popen.wait()


@dataclass
class Cluster:
    directory: Path
    env: dict[str, str]
    processes: list[Process] = field(default_factory=list)

    @classmethod
    def create(
        cls, directory: Path, amqp_url: str, prefix: str, inventory: Path, **settings: object
    ) -> Cluster:
        env = {
            **os.environ,
            "PODIUM_AMQP_URL": amqp_url,
            "PODIUM_PREFIX": prefix,
            "PODIUM_ENVIRONMENTS": str(ENVIRONMENTS),
            "PODIUM_INVENTORY": str(inventory),
            "PODIUM_LOG_LEVEL": "info",
        }
        env.update({f"PODIUM_{key.upper()}": str(value) for key, value in settings.items()})
        return cls(directory, env)

    def start(self, role: str, *args: str, status: bool = False) -> Process:
        """Start a process of `role`; with `status`, a scheduler or executor serves its
        health endpoints on `Process.port`."""
        index = sum(1 for p in self.processes if p.role == role)
        log = self.directory / f"{role}-{index}.log"
        port = None
        if role == "api":
            port = free_port()
            args = ("--port", str(port), "--data-dir", str(self.directory / f"api-{index}"), *args)
        elif status:
            port = free_port()
            args = ("--status-port", str(port), *args)
        command = [sys.executable, "-m", "podium.cli", role, *args]
        with log.open("ab") as out:
            popen = subprocess.Popen(command, env=self.env, stdout=out, stderr=subprocess.STDOUT)
        process = Process(role, list(args), log, popen, port)
        self.processes.append(process)
        return process

    def of(self, role: str) -> list[Process]:
        return [p for p in self.processes if p.role == role]

    async def wait_running(self, processes: Iterable[Process], timeout_s: float = 60) -> None:
        async with asyncio.timeout(timeout_s):
            for process in processes:
                while "podium is" not in process.text():
                    assert process.alive(), process.text()
                    await asyncio.sleep(0.1)

    async def leader(self, timeout_s: float = 30) -> Process:
        """The scheduler that holds the lead now (the last to say it acquired it)."""
        async with asyncio.timeout(timeout_s):
            while True:
                leading = [
                    p
                    for p in self.of("scheduler")
                    if p.alive()
                    and p.text().count("leadership acquired") > p.text().count("leadership lost")
                ]
                if len(leading) == 1:
                    return leading[0]
                await asyncio.sleep(0.1)

    def stop_all(self) -> None:
        for process in self.processes:
            process.kill()


class Client:
    """The orchestrator API of one api process."""

    def __init__(self, session: aiohttp.ClientSession, base: str, token: str) -> None:
        self.session, self.base, self.token = session, base, token

    @classmethod
    async def connect(cls, session: aiohttp.ClientSession, process: Process) -> Client:
        """Wait until the api answers; use the admin token whichever replica made it."""
        async with asyncio.timeout(60):
            while True:
                assert process.alive(), process.text()
                try:
                    async with session.get(
                        f"http://127.0.0.1:{process.port}/status/v1/simple"
                    ) as r:
                        if r.status == 200:
                            break
                except aiohttp.ClientConnectionError:
                    pass
                await asyncio.sleep(0.1)
        directory = Path(process.args[process.args.index("--data-dir") + 1]).parent
        tokens = sorted(directory.glob("api-*/admin.token"))
        assert tokens, "no api replica made the admin token"
        return cls(session, f"http://127.0.0.1:{process.port}", tokens[0].read_text().strip())

    async def post(self, path: str, body: Json) -> tuple[int, Json]:
        async with self.session.post(
            f"{self.base}/orchestrator/v1{path}",
            json=body,
            headers={"X-Authentication": self.token},
        ) as response:
            return response.status, await response.json()

    async def get(self, path: str) -> Json:
        async with self.session.get(
            f"{self.base}/orchestrator/v1{path}", headers={"X-Authentication": self.token}
        ) as response:
            assert response.status == 200, await response.text()
            return await response.json()

    async def task(self, nodes: list[str], **extra: Json) -> str:
        body = {"task": "testmod::echo", "params": {}, "scope": {"nodes": nodes}, **extra}
        status, answer = await self.post("/command/task", body)
        assert status == 202, answer
        return str(answer["job"]["name"])

    async def wait_job(self, name: str, timeout_s: float = 120) -> Json:
        async with asyncio.timeout(timeout_s):
            while (job := await self.get(f"/jobs/{name}"))["state"] not in TERMINAL:
                await asyncio.sleep(0.1)
        return job

    async def wait_nodes(self, name: str, state: str, count: int, timeout_s: float = 60) -> None:
        """Until at least `count` nodes of the job are in `state`."""
        async with asyncio.timeout(timeout_s):
            while (await self.get(f"/jobs/{name}"))["node_states"].get(state, 0) < count:
                await asyncio.sleep(0.05)

    async def view(self) -> str:
        """Every job with its nodes and events, as comparable text."""
        views = []
        for job in (await self.get("/jobs?order_by=name"))["items"]:
            name = job["name"]
            job.pop("duration", None)
            views += [job, await self.get(f"/jobs/{name}/events")]
            nodes = await self.get(f"/jobs/{name}/nodes")
            for node in nodes["items"]:
                node.pop("duration", None)
                node["details"].pop("run-time", None)
            views.append(nodes)
        return json.dumps(views).replace(self.base, "http://api")


def check_each_node_ran_once(events: list[Json], nodes: Iterable[str]) -> None:
    """One node_running at most and exactly one terminal event per node, in id order."""
    ids = [int(e["id"]) for e in events]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    running: dict[str, int] = {}
    ended: dict[str, int] = {}
    for event in events:
        node = event["details"].get("node")
        if event["type"] == "node_running":
            running[node] = running.get(node, 0) + 1
        elif event["type"] in NODE_ENDS:
            ended[node] = ended.get(node, 0) + 1
    assert ended == dict.fromkeys(nodes, 1)
    assert all(count == 1 for count in running.values()), running


async def health(session: aiohttp.ClientSession, process: Process) -> tuple[int, Json]:
    """A process's /status/v1/services answer: the status code and its one service entry."""
    url = f"http://127.0.0.1:{process.port}/status/v1/services"
    async with session.get(url) as response:
        body = await response.json()
        return response.status, body["orchestrator-service"]
