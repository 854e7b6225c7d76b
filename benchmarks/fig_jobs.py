"""Figure 3: many small jobs (2,000 jobs of 5 nodes) submitted by 32 concurrent clients (a
separate aiohttp process), jobs/s from the first submission until every job has finished
(the newest `JobFinished` on the log). Embedded, fsync on."""

from __future__ import annotations

import asyncio
import json
import sys

import aiohttp

from benchmarks.fleet import FLEET, deployment, fleet_inventory, log_state, warm_up
from benchmarks.plan import Bench
from benchmarks.procs import Client, Podium, node_names, shown
from benchmarks.stats import Figure, Row, Spread


async def _submit(
    podium: Podium, jobs: int, clients: int, nodes: list[str]
) -> tuple[dict[str, float], list[str]]:
    argv = [
        sys.executable,
        "-m",
        "benchmarks.submitter",
        "--url",
        podium.url,
        "--token",
        podium.token,
        "--jobs",
        str(jobs),
        "--clients",
        str(clients),
        "--nodes",
        ",".join(nodes),
    ]
    process = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.PIPE)
    out, _ = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError("the submitter failed")
    result: dict[str, float] = json.loads(out)
    return result, [*argv[:8], "<token>", *argv[9:]]


async def figure_3(bench: Bench) -> Figure:
    plan = bench.plan
    work = bench.work / "fig3"
    figure = Figure(
        3, f"{plan.jobs:,} jobs x {plan.job_nodes} nodes from {plan.clients} clients: jobs/s"
    )
    inventory = fleet_inventory(work, plan.job_nodes)
    nodes = node_names(FLEET, plan.job_nodes)
    rates, submit_rates, latest = [], [], []
    async with deployment(work, inventory, False) as podium:
        figure.commands += podium.commands
        await warm_up(podium)
        async with aiohttp.ClientSession() as session:
            client = Client(session, podium)
            for rep in range(plan.reps):
                result, argv = await _submit(podium, plan.jobs, plan.clients, nodes)
                if rep == 0:
                    figure.commands.append(shown(argv))
                await client.wait_job(str(int(result["last"])), timeout_s=600, poll_s=0.1)
                state = await log_state(podium)
                jobs = [
                    state.jobs[str(n)] for n in range(int(result["first"]), int(result["last"]) + 1)
                ]
                while any(job.finished_at is None for job in jobs):
                    await asyncio.sleep(0.2)
                    state = await log_state(podium)
                    jobs = [state.jobs[job.name] for job in jobs]
                end = max(job.finished_at or 0.0 for job in jobs)
                rates.append(len(jobs) / (end - result["started"]))
                submit_rates.append(len(jobs) / (result["ended"] - result["started"]))
                latest.append(end - result["ended"])
    figure.rows += [
        Row(
            "embedded (fsync on): jobs/s, first POST to last job_finished",
            Spread.of(rates),
            "jobs/s",
            target=">= 300 jobs/s",
            met=Spread.of(rates).median >= 300,
        ),
        Row("embedded (fsync on): submissions accepted/s", Spread.of(submit_rates), "jobs/s"),
        Row("embedded (fsync on): last 202 to last job_finished", Spread.of(latest), "s"),
    ]
    figure.notes.append(
        "Each job is demo::echo over the same 5 sim nodes (zero latency) with the default "
        "max-inflight of 250. The end is the latest `at` of the JobFinished events on the log."
    )
    return figure
