"""Figures 2 and 8: one task job over a sim fleet (zero latency, no concurrency limit,
max-inflight 10,000), node runs per second from the request to `job_finished`; figure 8 is the
same with batching off (`--max-batch 1`: one event per log append, so one per message).

On RabbitMQ the ceiling is raw aio-pika moving the same number of events the job wrote to the log,
in confirmed batches of 100 per message, published and consumed at once; the ratio is the
ceiling's seconds over Podium's.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from pathlib import Path

import aiohttp

from benchmarks.fleet import (
    FLEET,
    JobRun,
    ceiling_seconds,
    deployment,
    fleet_inventory,
    log_state,
    run_job,
    warm_up,
)
from benchmarks.plan import Bench
from benchmarks.procs import Client, node_names, shown
from benchmarks.stats import Figure, Row, Spread, percentile, ratios
from podium.events.model import JobState

EXECUTORS = 2


async def fleet_runs(
    bench: Bench, directory: Path, rabbit: bool, figure: Figure, size: int, **flags: object
) -> tuple[list[JobRun], list[float]]:
    """The job `reps` times on a fresh deployment, with the ceiling after each (RabbitMQ)."""
    plan = bench.plan
    inventory = fleet_inventory(directory, size)
    nodes = node_names(FLEET, size)
    runs: list[JobRun] = []
    ceilings: list[float] = []
    flags = {"max_inflight": plan.max_inflight, **flags}
    async with deployment(directory, inventory, rabbit, EXECUTORS, **flags) as podium:
        figure.commands += podium.commands
        await warm_up(podium)
        for _ in range(plan.reps):
            run = await run_job(podium, nodes)
            runs.append(run)
            if rabbit:
                seconds, argv = await ceiling_seconds(podium, run.events)
                ceilings.append(seconds)
                if len(ceilings) == 1:
                    figure.commands.append(shown(argv))
    return runs, ceilings


def job_rows(label: str, runs: list[JobRun], target: str = "", floor: float = 0.0) -> list[Row]:
    rate = Spread.of([r.runs_per_s for r in runs])
    return [
        Row(
            f"{label}: node runs/s",
            rate,
            "runs/s",
            target=target,
            met=(rate.median >= floor) if target else None,
        ),
        Row(f"{label}: request to 202", Spread.of([r.accepted_s for r in runs]), "s"),
        Row(f"{label}: request to job_finished", Spread.of([r.finished_s for r in runs]), "s"),
        Row(f"{label}: events on the log", Spread.of([float(r.events) for r in runs]), "events"),
    ]


async def figure_2(bench: Bench) -> Figure:
    plan = bench.plan
    work = bench.work / "fig2"
    figure = Figure(2, f"one task job over {plan.fleet_nodes:,} sim nodes: node runs/s")
    size = plan.fleet_nodes
    embedded_runs, _ = await fleet_runs(bench, work / "embedded", False, figure, size)
    figure.rows += job_rows("embedded (fsync on)", embedded_runs, ">= 5,000 runs/s", 5_000)
    figure.rows += cpu_rows("embedded (fsync on)", "podium serve", embedded_runs)
    rabbit_runs, ceilings = await fleet_runs(bench, work / "rabbit", True, figure, size)
    label = f"RabbitMQ, {EXECUTORS} executors"
    rows = job_rows(label, rabbit_runs, ">= 3,000 runs/s", 3_000)
    rows.insert(
        1,
        Row(
            f"{label}: against raw aio-pika",
            Spread.of([c for c in ceilings]),
            "s (ceiling)",
            ratios(ceilings, [r.finished_s for r in rabbit_runs]),
            "raw aio-pika, same events, batches of 100",
        ),
    )
    figure.rows += rows
    figure.rows += cpu_rows(label, f"api + scheduler + {EXECUTORS} executors", rabbit_runs)
    figure.notes += [
        "Scope: every node named in `scope.nodes`; the task is demo::echo on the sim transport "
        "with zero latency; `--max-inflight` is 10,000, executors have the default 64 slots.",
        "The aio-pika ceiling row shows its own seconds to publish and consume the same number "
        "of events; its ratio is ceiling seconds / Podium seconds (higher is better).",
        "CPU per node run: user + system CPU seconds (/proc/<pid>/stat, every thread) of every "
        "Podium process of the deployment over exactly the window the rate is measured on, "
        "from just before the POST to the `at` of JobFinished (read every 10 ms and "
        "interpolated at that moment), divided by the job's node runs. What the processes do "
        "after JobFinished (the archive writing the ended job to SQLite, the last acks) is "
        "outside the window, as it is outside the rate. The broker's `beam.smp` is reported "
        "apart over the same window; the broker is shared with other sessions on this machine, "
        "so its figure includes whatever they sent it meanwhile.",
    ]
    return figure


def cpu_rows(label: str, processes: str, runs: list[JobRun]) -> list[Row]:
    rows = [
        Row(
            f"{label}: CPU per node run, {processes}",
            Spread.of([r.cpu_us_per_run for r in runs]),
            "µs CPU/run",
            summary=True,
        )
    ]
    roles = sorted({role for r in runs for role in r.cpu_s_by_role})
    if len(roles) > 1:
        rows += [
            Row(
                f"{label}: CPU per node run, of which {role}",
                Spread.of([r.cpu_s_by_role.get(role, 0.0) / r.nodes * 1e6 for r in runs]),
                "µs CPU/run",
            )
            for role in roles
        ]
    broker = [r.broker_cpu_us_per_run for r in runs if not math.isnan(r.broker_cpu_s)]
    if broker:
        rows.append(
            Row(
                f"{label}: CPU per node run, RabbitMQ broker (beam.smp)",
                Spread.of(broker),
                "µs CPU/run",
            )
        )
    return rows


async def figure_8(bench: Bench) -> Figure:
    size = bench.plan.unbatched_nodes
    work = bench.work / "fig8"
    figure = Figure(8, f"the batching gain: figure 2's job over {size:,} nodes with --max-batch 1")
    for rabbit in (False, True):
        where = "rabbit" if rabbit else "embedded"
        batched, _ = await fleet_runs(bench, work / f"{where}-batched", rabbit, figure, size)
        single, _ = await fleet_runs(
            bench, work / f"{where}-single", rabbit, figure, size, max_batch=1
        )
        label = f"RabbitMQ, {EXECUTORS} executors" if rabbit else "embedded (fsync on)"
        figure.rows += [
            Row(
                f"{label}, batched (as figure 2): node runs/s",
                Spread.of([r.runs_per_s for r in batched]),
                "runs/s",
            ),
            Row(
                f"{label}, one event per append: node runs/s",
                Spread.of([r.runs_per_s for r in single]),
                "runs/s",
                ratios([r.runs_per_s for r in single], [r.runs_per_s for r in batched]),
                "batched, same size, same run",
                "reported",
            ),
            Row(
                f"{label}, one event per append: request to job_finished",
                Spread.of([r.finished_s for r in single]),
                "s",
            ),
        ]
    figure.notes.append(
        "With `--max-batch 1` every producer appends one event per record (embedded: one "
        "write and fsync per event; RabbitMQ: one confirmed message per event). Work items "
        "are one per message either way. One event per confirmed message is slow on RabbitMQ, "
        "so figure 8 runs a smaller job than figure 2 and measures the batched case at the same "
        "size; repetition i of one is paired with repetition i of the other."
    )
    return figure


async def stop_samples(
    bench: Bench, directory: Path, rabbit: bool, figure: Figure
) -> tuple[list[list[float]], list[list[float]], int]:
    """Per repetition: seconds from POST /command/stop to JobStopping and to JobFinished. Also
    how many jobs ended before their stop arrived (no sample)."""
    plan = bench.plan
    inventory = fleet_inventory(directory, plan.fleet_nodes)
    nodes = node_names(FLEET, plan.fleet_nodes)
    rng = random.Random(6)
    stopping: list[list[float]] = []
    stopped: list[list[float]] = []
    missed = 0
    flags = {"max_inflight": plan.max_inflight}
    async with deployment(directory, inventory, rabbit, EXECUTORS, **flags) as podium:
        figure.commands += podium.commands
        await warm_up(podium)
        async with aiohttp.ClientSession() as session:
            client = Client(session, podium)
            for _ in range(plan.reps):
                sent: dict[str, float] = {}
                for _ in range(plan.stops_per_rep):
                    name = await client.task(nodes)
                    await asyncio.sleep(rng.uniform(0.02, 0.08))
                    sent[name] = time.time()
                    await client.stop(name)
                    await client.wait_job(name, timeout_s=300, poll_s=0.1)
                state = await log_state(podium)
                to_stopping, to_stopped = [], []
                for name, at in sent.items():
                    job = state.jobs[name]
                    entered = {entry.state: entry.enter for entry in job.status}
                    if JobState.STOPPING not in entered or job.finished_at is None:
                        missed += 1
                        continue
                    to_stopping.append(entered[JobState.STOPPING] - at)
                    to_stopped.append(job.finished_at - at)
                stopping.append(to_stopping)
                stopped.append(to_stopped)
    return stopping, stopped, missed


async def figure_4(bench: Bench) -> Figure:
    plan = bench.plan
    work = bench.work / "fig4"
    figure = Figure(4, f"stop during figure 2's job ({plan.fleet_nodes:,} nodes)")
    for rabbit in (False, True):
        where = "rabbit" if rabbit else "embedded"
        stopping, stopped, missed = await stop_samples(bench, work / where, rabbit, figure)
        label = f"RabbitMQ, {EXECUTORS} executors" if rabbit else "embedded (fsync on)"
        p99 = Spread.of([percentile(s, 0.99) * 1000 for s in stopping if s])
        figure.rows += [
            Row(
                f"{label}: to job_stopping, p50",
                Spread.of([percentile(s, 0.5) * 1000 for s in stopping if s]),
                "ms",
            ),
            Row(
                f"{label}: to job_stopping, p99",
                p99,
                "ms",
                target="p99 < 100 ms",
                met=p99.high < 100,
            ),
            Row(
                f"{label}: to stopped, p50",
                Spread.of([percentile(s, 0.5) * 1000 for s in stopped if s]),
                "ms",
            ),
            Row(
                f"{label}: to stopped, p99",
                Spread.of([percentile(s, 0.99) * 1000 for s in stopped if s]),
                "ms",
            ),
        ]
        if missed:
            figure.notes.append(f"{label}: {missed} jobs ended before their stop (no sample).")
    figure.notes += [
        f"{plan.stops_per_rep} stops per repetition, each on a fresh {plan.fleet_nodes:,}-node "
        "job, sent 20-80 ms after its 202; percentiles are per repetition (with this few "
        "samples p99 is close to the maximum), and the target is judged on the worst "
        "repetition. Times run from the harness's clock at the POST to the `at` of "
        "JobStopping and of JobFinished (state stopped) on the log.",
    ]
    return figure
