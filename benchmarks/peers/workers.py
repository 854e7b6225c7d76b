"""The harness side of the peers: a RabbitMQ vhost of their own, their worker processes, and one
fan-out at a time through `benchmarks.peers.client` (a subprocess, as the workers are).

The vhost is made and deleted with `rabbitmqctl` (the local broker), so everything the peers
declare (queues, exchanges, Dramatiq's delay and dead-letter queues) goes with it. Results live
in Redis database `REDIS_DB`, which the client flushes around every fan-out.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final
from urllib.parse import quote, urlsplit, urlunsplit

import aio_pika
import msgspec
from aio_pika.exceptions import ChannelNotFoundEntity

from benchmarks.cpu import CpuTrace, broker_pids, pids_named
from benchmarks.peers.outcome import Outcome, Peer
from benchmarks.peers.settings import REDIS_DB, PeerSettings
from benchmarks.procs import AMQP_URL, Proc, _env, shown, start

REDIS_URL: Final = f"redis://127.0.0.1:6379/{REDIS_DB}"
REDIS_SERVER: Final = "redis-server"
ROOT: Final = Path(__file__).resolve().parents[2]  # where `benchmarks` imports from
PROCESSES: Final = 2  # worker processes, as figure 2's two executors
DRAMATIQ_THREADS: Final = 8  # Dramatiq's default; its prefetch is twice this
_READY_S: Final = 60.0


def worker_argvs(peer: Peer, queue: str) -> list[list[str]]:
    """Celery: two `celery worker` processes, each with one prefork child (`-c 1`) and a
    prefetch of 64 (the app's multiplier). Dramatiq: one `dramatiq` command that forks two
    worker processes of `DRAMATIQ_THREADS` threads each."""
    if peer == "celery":
        return [
            [
                sys.executable, "-m", "celery", "-A", "benchmarks.peers.celery_app", "worker",
                "--pool", "prefork", "--concurrency", "1", "--loglevel", "WARNING",
                "--without-gossip", "--without-mingle", "--without-heartbeat",
                "--hostname", f"peer{n}@%h", "--queues", queue,
            ]
            for n in range(PROCESSES)
        ]  # fmt: skip
    return [
        [
            sys.executable, "-m", "dramatiq", "benchmarks.peers.dramatiq_app",
            "--processes", str(PROCESSES), "--threads", str(DRAMATIQ_THREADS), "--queues", queue,
        ]
    ]  # fmt: skip


async def _rabbitmqctl(*args: str) -> None:
    process = await asyncio.create_subprocess_exec(
        "rabbitmqctl", "-q", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"rabbitmqctl {' '.join(args)}: {out.decode(errors='replace')}")


@contextlib.asynccontextmanager
async def vhost(base_url: str = AMQP_URL) -> AsyncIterator[str]:
    """A fresh vhost on the local broker for the URL's user; yields the URL into it."""
    name = f"podium-peers-{uuid.uuid4().hex[:10]}"
    parts = urlsplit(base_url)
    await _rabbitmqctl("add_vhost", name)
    try:
        await _rabbitmqctl(
            "set_permissions", "-p", name, parts.username or "guest", ".*", ".*", ".*"
        )
        yield urlunsplit(parts._replace(path="/" + quote(name, safe="")))
    finally:
        await _rabbitmqctl("delete_vhost", name)


async def wait_consumers(url: str, queue: str, count: int, procs: list[Proc]) -> None:
    """Until `count` consumers are on `queue`: every worker process is taking work."""
    connection = await aio_pika.connect(url)
    try:
        async with asyncio.timeout(_READY_S):
            while True:
                for proc in procs:
                    if proc.process.returncode is not None:
                        raise RuntimeError(f"{proc.role} exited:\n{proc.text()[-3000:]}")
                channel = await connection.channel()
                with contextlib.suppress(ChannelNotFoundEntity):
                    declared = await channel.declare_queue(queue, passive=True)
                    if (declared.declaration_result.consumer_count or 0) >= count:
                        return
                with contextlib.suppress(Exception):
                    await channel.close()
                await asyncio.sleep(0.1)
    finally:
        await connection.close()


def descendants(pid: int) -> list[int]:
    """`pid` and every process below it (a Celery worker's prefork children, the processes a
    `dramatiq` command forks)."""
    found = [pid]
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            found += descendants(int(child))
    return found


@dataclass(frozen=True, slots=True)
class PeerRun:
    """One fan-out, and the CPU used over its measured window (first publish to last result):
    the worker processes' and the client's together, and, apart, the broker's and Redis's."""

    outcome: Outcome
    cpu_s: float
    broker_cpu_s: float
    redis_cpu_s: float

    @property
    def cpu_us_per_run(self) -> float:
        return self.cpu_s / self.outcome.tasks * 1e6

    @property
    def broker_cpu_us_per_run(self) -> float:
        return self.broker_cpu_s / self.outcome.tasks * 1e6

    @property
    def redis_cpu_us_per_run(self) -> float:
        return self.redis_cpu_s / self.outcome.tasks * 1e6


@dataclass
class PeerWorkers:
    """A peer's running workers, and how to put one fan-out through them."""

    peer: Peer
    settings: PeerSettings
    env: dict[str, str]
    commands: list[str] = field(default_factory=list)
    pids: list[int] = field(default_factory=list)  # every worker process, once all are ready

    def client_argv(self, tasks: int, fail_every: int = 0) -> list[str]:
        argv = [sys.executable, "-m", "benchmarks.peers.client", self.peer, "--tasks", str(tasks)]
        return argv + (["--fail-every", str(fail_every)] if fail_every else [])

    def shown(self, argv: list[str]) -> str:
        """A command line with the settings it needs in front."""
        assignments = " ".join(f"{k}={v}" for k, v in self.settings.env().items())
        return f"{assignments} {shown(argv)}"

    async def fanout(self, tasks: int, fail_every: int = 0) -> Outcome:
        argv = self.client_argv(tasks, fail_every)
        process = await asyncio.create_subprocess_exec(
            *argv, stdout=asyncio.subprocess.PIPE, env=self.env, cwd=ROOT
        )
        out, _ = await process.communicate()
        if process.returncode != 0:
            raise RuntimeError(f"the {self.peer} client failed ({process.returncode})")
        return msgspec.json.decode(out, type=Outcome)

    async def measured(self, tasks: int) -> PeerRun:
        """A fan-out with the workers', the broker's and Redis's CPU read every 10 ms meanwhile,
        taken over the fan-out's own window as the client reports it."""
        traces = (
            CpuTrace(self.pids),
            CpuTrace(broker_pids()),
            CpuTrace(pids_named(REDIS_SERVER)),
        )
        for trace in traces:
            trace.read()
        sampling = [asyncio.ensure_future(trace.sample()) for trace in traces]
        try:
            outcome = await self.fanout(tasks)
        finally:
            for task in sampling:
                task.cancel()
        for trace in traces:
            trace.read()
        workers, broker, redis = (t.used(outcome.started_at, outcome.finished_at) for t in traces)
        return PeerRun(outcome, workers + outcome.client_cpu_s, broker, redis)


@contextlib.asynccontextmanager
async def peer_workers(peer: Peer, directory: Path) -> AsyncIterator[PeerWorkers]:
    """A vhost, then the peer's worker processes on it, ended by their pids afterwards."""
    directory.mkdir(parents=True, exist_ok=True)
    async with vhost() as url:
        settings = PeerSettings(url, REDIS_URL, f"bench-{peer}")
        env = _env() | settings.env() | {"PYTHONPATH": str(ROOT)}
        workers = PeerWorkers(peer, settings, env)
        procs: list[Proc] = []
        try:
            for n, argv in enumerate(worker_argvs(peer, settings.queue)):
                log = directory / f"{peer}-{n}.log"
                procs.append(await start(f"{peer} worker {n}", argv, log, env))
                workers.commands.append(workers.shown(argv))
            await wait_consumers(url, settings.queue, PROCESSES, procs)
            workers.pids = [pid for proc in procs for pid in descendants(proc.pid)]
            yield workers
        finally:
            for proc in reversed(procs):
                await proc.stop()
