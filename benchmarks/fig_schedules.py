"""Figure 9: 10,000 schedules due in the same second, on `podium serve` (embedded, fsync on):
seconds from their time to the last of their jobs on the log (the newest `JobRequested` whose
origin is one of them). Each schedule is a one-off `demo::echo` on one sim node; they are made
through `POST /command/schedule_task` (32 at a time), all for one time far enough ahead that
the last is made before it."""

from __future__ import annotations

import asyncio
import os
import time
from datetime import UTC, datetime
from pathlib import Path

import aiohttp

from benchmarks.fleet import FLEET, deployment, fleet_inventory, log_state, warm_up
from benchmarks.plan import Bench
from benchmarks.procs import TASK, Client, node_names
from benchmarks.stats import Figure, Row, Spread
from podium.events.state import State

CLIENTS = 32
MADE_PER_S = 150  # a pessimistic rate of schedule_task, to pick a time after the last is made


async def _schedule_all(client: Client, count: int, due: float, node: str) -> None:
    body = {
        "task": TASK,
        "params": {"message": "scheduled"},
        "scope": {"nodes": [node]},
        "scheduled_time": datetime.fromtimestamp(due, UTC).isoformat(),
    }
    queue = iter(range(count))

    async def worker() -> None:
        for _ in queue:
            await client.post("/command/schedule_task", body)

    await asyncio.gather(*(worker() for _ in range(CLIENTS)))


def _cpu_s(pid: int) -> float:
    """The CPU seconds (user and system) a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _made(state: State, schedules: set[str]) -> list[float]:
    """When each job of these schedules was made (its JobRequested's `at`)."""
    return [
        job.created_at
        for job in state.jobs.values()
        if job.spec.origin.scheduled_job_id in schedules
    ]


async def figure_9(bench: Bench) -> Figure:
    plan = bench.plan
    count = plan.schedules
    figure = Figure(9, f"{count:,} schedules due in the same second, on podium serve")
    work = bench.work / "fig9"
    inventory = fleet_inventory(work, 10)
    node = node_names(FLEET, 1)[0]
    latest, first, late, cpu = [], [], [], []
    async with deployment(work, inventory, False) as podium:
        figure.commands += podium.commands
        await warm_up(podium)
        async with aiohttp.ClientSession() as session:
            client = Client(session, podium)
            for _ in range(plan.reps):
                before = set((await log_state(podium)).schedules)
                due = float(int(time.time() + count / MADE_PER_S + 5))
                await _schedule_all(client, count, due, node)
                late.append(max(0.0, time.time() - due))  # > 0: made after their time
                state = await log_state(podium)
                schedules = set(state.schedules) - before
                await asyncio.sleep(max(0.0, due - 0.2 - time.time()))
                used = _cpu_s(podium.api.pid)
                while len(made := _made(state, schedules)) < count:
                    await asyncio.sleep(0.5)
                    state = await log_state(podium)
                cpu.append(_cpu_s(podium.api.pid) - used)
                latest.append(max(made) - due)
                first.append(min(made) - due)
                while state.active:  # let their runs end before the next repetition
                    await asyncio.sleep(0.5)
                    state = await log_state(podium)
    figure.rows += [
        Row(
            f"{count:,} schedules: their time to the last job made",
            Spread.of(latest),
            "s",
            target="<= 5 s",
            met=Spread.of(latest).median <= 5.0,
        ),
        Row(f"{count:,} schedules: their time to the first job made", Spread.of(first), "s"),
        Row("the last schedule made after their time by (0: in time)", Spread.of(late), "s"),
        Row(
            "CPU time of podium serve from their time until the harness saw the last job",
            Spread.of(cpu),
            "s",
        ),
    ]
    figure.notes.append(
        "The CPU row is the process's user and system time (/proc/<pid>/stat), an upper bound "
        "of what making the jobs took (the harness polls the log every 0.5 s, and the first "
        "jobs already run meanwhile): on a machine shared with other work, wall time is longer."
    )
    figure.notes.append(
        "The leading scheduler fires every due occurrence in one step (`ScheduleFired` each); "
        "the api makes each fired occurrence's job as its owner, with the checks of "
        "/command/task, up to 250 per append. Times are the `at` of the events on the log."
    )
    return figure
