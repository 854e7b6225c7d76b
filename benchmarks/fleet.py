"""Running one big sim job and timing it from the log: the shared part of figures 2, 4, 7, 8.

The start is the harness's clock just before the POST; the end is the `at` of the job's
`JobFinished` (or of its `JobStopping`), read by folding the deployment's log with Podium's own
fold. Both clocks are this machine's `time.time()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from benchmarks.cpu import CpuTrace, broker_pids
from benchmarks.logread import file_events, folded
from benchmarks.procs import Client, Podium, cluster, embedded, node_names, write_inventory
from podium.events.fold import fold_all
from podium.events.model import JobState
from podium.events.state import Job, State

FLEET = "fleet"
SLOW = "slow"
_SCHEDULER_ONLY = frozenset({"max_inflight"})
_EXECUTOR_ONLY = frozenset({"slots"})


@dataclass(frozen=True, slots=True)
class JobRun:
    nodes: int
    accepted_s: float  # POST to 202
    finished_s: float  # POST to JobFinished
    events: int  # events the log gained while the job ran
    name: str = ""  # the job's name
    cpu_s: float = float("nan")  # CPU of every Podium process, POST to JobFinished
    broker_cpu_s: float = float("nan")  # the same for RabbitMQ's beam.smp (NaN: embedded)
    cpu_s_by_role: dict[str, float] = field(default_factory=dict)  # serve, api, scheduler, ...

    @property
    def runs_per_s(self) -> float:
        return self.nodes / self.finished_s

    @property
    def cpu_us_per_run(self) -> float:
        return self.cpu_s / self.nodes * 1e6

    @property
    def broker_cpu_us_per_run(self) -> float:
        return self.broker_cpu_s / self.nodes * 1e6


def fleet_inventory(directory: Path, fleet: int, slow: int = 0, slow_ms: int = 50) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    groups = {FLEET: (fleet, "{latency-ms: 0}")}
    if slow:
        groups[SLOW] = (slow, f"{{latency-ms: {slow_ms}}}")
    return write_inventory(directory / "inventory.yaml", groups)


async def log_state(podium: Podium) -> State:
    if podium.amqp is not None:
        return await folded(amqp=podium.amqp)
    return await asyncio.to_thread(_fold_file, podium.log_path)


def _fold_file(path: Path) -> State:
    return fold_all(file_events(path))


def job_of(state: State, name: str) -> Job:
    job = state.jobs[name]
    assert job.state in (JobState.FINISHED, JobState.STOPPED), job.state
    return job


async def run_job(podium: Podium, nodes: list[str]) -> JobRun:
    """One job over `nodes`, from the POST to its JobFinished, and the CPU every Podium process
    (and, apart, the broker) used over exactly that window: read every 10 ms meanwhile, and
    interpolated at the JobFinished's `at`."""
    roles = {
        role: CpuTrace([p.pid for p in podium.procs if p.role == role])
        for role in sorted({p.role for p in podium.procs})
    }
    broker_cpu = CpuTrace(broker_pids() if podium.amqp is not None else [])
    async with aiohttp.ClientSession() as session:
        client = Client(session, podium)
        before = (await log_state(podium)).position
        traces = (*roles.values(), broker_cpu)
        for trace in traces:
            trace.read()
        sampling = [asyncio.ensure_future(trace.sample()) for trace in traces]
        try:
            started = time.time()
            name = await client.task(nodes)
            accepted = time.time()
            await client.wait_job(name, timeout_s=600, poll_s=0.1)
        finally:
            for task in sampling:
                task.cancel()
        for trace in traces:
            trace.read()
    state = await log_state(podium)
    job = job_of(state, name)
    assert job.finished_at is not None
    by_role = {role: trace.used(started, job.finished_at) for role, trace in roles.items()}
    return JobRun(
        len(nodes),
        accepted - started,
        job.finished_at - started,
        state.position - before,
        name,
        sum(by_role.values()),
        broker_cpu.used(started, job.finished_at) if broker_cpu.pids else float("nan"),
        by_role,
    )


@contextlib.asynccontextmanager
async def deployment(
    directory: Path, inventory: Path, rabbit: bool, executors: int = 2, **flags: object
) -> AsyncIterator[Podium]:
    """Embedded `podium serve`, or api + scheduler + executors on RabbitMQ, with `flags` for
    every process."""
    if rabbit:
        common = {k: v for k, v in flags.items() if k not in _SCHEDULER_ONLY | _EXECUTOR_ONLY}
        async with cluster(
            directory,
            inventory,
            executors,
            common=common,
            scheduler_flags={k: v for k, v in flags.items() if k in _SCHEDULER_ONLY},
            executor_flags={k: v for k, v in flags.items() if k in _EXECUTOR_ONLY},
        ) as podium:
            yield podium
    else:
        async with embedded(directory, inventory, **flags) as podium:
            yield podium


async def warm_up(podium: Podium) -> None:
    """A small job first: every process attached and every code path imported."""
    await run_job(podium, node_names(FLEET, 10))


async def ceiling_seconds(podium: Podium, events: int) -> tuple[float, list[str]]:
    assert podium.amqp is not None
    argv = [
        sys.executable,
        "-m",
        "benchmarks.amqp_ceiling",
        "--url",
        podium.amqp.url,
        "--prefix",
        podium.amqp.prefix,
        "--events",
        str(events),
    ]
    process = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.PIPE)
    out, _ = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError("the aio-pika ceiling failed")
    return float(json.loads(out)["seconds"]), argv
