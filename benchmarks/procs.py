"""Podium processes for a benchmark: one embedded `podium serve`, or a cluster on RabbitMQ.

Every process is started as `python -m podium.cli ...` with its own log file, and every one is
ended by its own pid (SIGTERM, then SIGKILL after a grace period). A cluster runs under a prefix
of its own, and its queues and exchanges are deleted when it is done.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import signal
import socket
import sys
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import aiohttp

from podium.events.amqp.broker import Broker
from podium.events.amqp.settings import AmqpSettings
from podium.events.amqp.topology import delete_everything
from podium.settings import EXAMPLES

AMQP_URL: Final = os.environ.get("PODIUM_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
ENVIRONMENTS: Final = EXAMPLES / "environments"
TASK: Final = "demo::echo"
_STOP_GRACE_S: Final = 20.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_inventory(path: Path, groups: dict[str, tuple[int, str]]) -> Path:
    """Groups of sim nodes: name -> (how many, sim settings in YAML flow style). Nodes are
    named `<group>-<n>`."""
    lines = ["version: 2", "config:", "  transport: sim", "groups:"]
    for name, (count, sim) in groups.items():
        nodes = ", ".join(node_names(name, count))
        lines += [
            f"  - name: {name}",
            f"    targets: [{nodes}]",
            "    config:",
            f"      sim: {sim}",
        ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def node_names(group: str, count: int) -> list[str]:
    return [f"{group}-{n:05d}" for n in range(count)]


@dataclass
class Proc:
    """One podium (or helper) process: its command line and its log."""

    role: str
    argv: list[str]
    log: Path
    process: asyncio.subprocess.Process

    @property
    def pid(self) -> int:
        return self.process.pid

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    async def wait_for(self, phrase: str, timeout_s: float = 60.0) -> None:
        async with asyncio.timeout(timeout_s):
            while phrase not in self.text():
                if self.process.returncode is not None:
                    raise RuntimeError(f"{self.role} exited:\n{self.text()[-3000:]}")
                await asyncio.sleep(0.05)

    async def stop(self) -> None:
        """SIGTERM, then SIGKILL if it has not exited within the grace period."""
        if self.process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(_STOP_GRACE_S):
                await self.process.wait()
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
            await self.process.wait()


async def start(role: str, argv: Sequence[str], log: Path, env: dict[str, str]) -> Proc:
    with log.open("ab") as out:
        process = await asyncio.create_subprocess_exec(
            *argv, stdout=out, stderr=asyncio.subprocess.STDOUT, env=env
        )
    return Proc(role, list(argv), log, process)


def podium_argv(command: str, flags: dict[str, object]) -> list[str]:
    argv = [sys.executable, "-m", "podium.cli", command]
    for key, value in flags.items():
        flag = key.replace("_", "-")
        if isinstance(value, bool):
            argv.append(f"--{flag}" if value else f"--no-{flag}")
        else:
            argv += [f"--{flag}", str(value)]
    return argv


def shown(argv: Sequence[str]) -> str:
    """A command line as someone would type it (the interpreter as `python`)."""
    return shlex.join(["python", *argv[1:]] if argv and argv[0] == sys.executable else argv)


@dataclass
class Podium:
    """A running deployment: where its api answers, its token, and its processes."""

    directory: Path
    url: str
    token: str
    procs: list[Proc]
    amqp: AmqpSettings | None = None
    commands: list[str] = field(default_factory=list)
    common: dict[str, object] = field(default_factory=dict)  # flags every process was given

    @property
    def api(self) -> Proc:
        return next(p for p in self.procs if p.role in ("serve", "api"))

    @property
    def log_path(self) -> Path:
        """The embedded event log."""
        return self.directory / "data" / "events.log"

    async def add_executor(self, flags: dict[str, object]) -> Proc:
        assert self.amqp is not None
        index = sum(1 for p in self.procs if p.role == "executor")
        argv = podium_argv("executor", _amqp_flags(self.amqp) | self.common | flags)
        proc = await start("executor", argv, self.directory / f"executor-{index}.log", _env())
        self.procs.append(proc)
        self.commands.append(shown(argv))
        await proc.wait_for("podium is running")
        return proc

    async def remove_executor(self) -> None:
        proc = next(p for p in reversed(self.procs) if p.role == "executor")
        await proc.stop()
        self.procs.remove(proc)


def _env() -> dict[str, str]:
    # Only flags configure the processes: no PODIUM_* from the caller's environment leaks in.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PODIUM_")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _amqp_flags(amqp: AmqpSettings) -> dict[str, object]:
    return {"amqp_url": amqp.url, "prefix": amqp.prefix}


def _http_flags(directory: Path, inventory: Path, port: int) -> dict[str, object]:
    return {
        "port": port,
        "data_dir": directory / "data",
        "inventory": inventory,
        "environments": ENVIRONMENTS,
        "watch_s": 0,
    }


@contextlib.asynccontextmanager
async def embedded(directory: Path, inventory: Path, **flags: object) -> AsyncIterator[Podium]:
    """`podium serve` on the embedded log in `directory`, with extra `flags`."""
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    argv = podium_argv("serve", _http_flags(directory, inventory, port) | flags)
    proc = await start("serve", argv, directory / "serve.log", _env())
    try:
        await proc.wait_for("Podium is serving")
        token = (directory / "data" / "admin.token").read_text().strip()
        url = f"http://127.0.0.1:{port}/orchestrator/v1"
        yield Podium(directory, url, token, [proc], commands=[shown(argv)])
    finally:
        await proc.stop()


@contextlib.asynccontextmanager
async def cluster(
    directory: Path,
    inventory: Path,
    executors: int,
    *,
    scheduler_flags: dict[str, object] | None = None,
    executor_flags: dict[str, object] | None = None,
    api_flags: dict[str, object] | None = None,
    common: dict[str, object] | None = None,
) -> AsyncIterator[Podium]:
    """An api, a scheduler and `executors` executors on RabbitMQ under a fresh prefix."""
    directory.mkdir(parents=True, exist_ok=True)
    amqp = AmqpSettings(url=AMQP_URL, prefix=f"bench-{uuid.uuid4().hex[:10]}")
    shared = _amqp_flags(amqp) | (common or {})
    port = free_port()
    podium = Podium(directory, f"http://127.0.0.1:{port}/orchestrator/v1", "", [], amqp)
    podium.common = common or {}
    try:
        plan = [
            ("scheduler", shared | (scheduler_flags or {}), "podium is running"),
            ("api", _http_flags(directory, inventory, port) | shared | (api_flags or {}), ""),
        ]
        for role, flags, phrase in plan:
            argv = podium_argv(role, flags)
            proc = await start(role, argv, directory / f"{role}.log", _env())
            podium.procs.append(proc)
            podium.commands.append(shown(argv))
            await proc.wait_for(phrase or "Podium is serving")
        podium.token = (directory / "data" / "admin.token").read_text().strip()
        for _ in range(executors):
            await podium.add_executor(executor_flags or {})
        yield podium
    finally:
        for proc in reversed(podium.procs):
            await proc.stop()
        await _delete_queues(amqp)


async def _delete_queues(amqp: AmqpSettings) -> None:
    broker = await Broker.open(amqp, "bench-cleanup")
    try:
        await delete_everything(broker)
    finally:
        await broker.close()


class Client:
    """The orchestrator API of a running deployment, over one aiohttp session."""

    def __init__(self, session: aiohttp.ClientSession, podium: Podium) -> None:
        self.session = session
        self.url = podium.url
        self.headers = {"X-Authentication": podium.token}

    async def post(self, path: str, body: object) -> dict[str, object]:
        async with self.session.post(f"{self.url}{path}", json=body, headers=self.headers) as r:
            answer: dict[str, object] = await r.json()
            if r.status != 202:
                raise RuntimeError(f"POST {path}: {r.status} {answer}")
            return answer

    async def get(self, path: str) -> dict[str, object]:
        async with self.session.get(f"{self.url}{path}", headers=self.headers) as r:
            answer: dict[str, object] = await r.json()
            if r.status != 200:
                raise RuntimeError(f"GET {path}: {r.status} {answer}")
            return answer

    async def task(self, nodes: list[str], **extra: object) -> str:
        body = {"task": TASK, "params": {"message": "hi"}, "scope": {"nodes": nodes}, **extra}
        answer = await self.post("/command/task", body)
        job = answer["job"]
        assert isinstance(job, dict)
        return str(job["name"])

    async def stop(self, job: str) -> None:
        await self.post("/command/stop", {"job": job})

    async def state(self, job: str) -> str:
        return str((await self.get(f"/jobs/{job}"))["state"])

    async def wait_job(self, job: str, timeout_s: float = 120.0, poll_s: float = 0.05) -> str:
        async with asyncio.timeout(timeout_s):
            while (state := await self.state(job)) not in ("finished", "failed", "stopped"):
                await asyncio.sleep(poll_s)
        return state
