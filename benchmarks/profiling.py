"""The profiles of the report: py-spy on the processes of figures 1 and 2 while they work.

Profiled runs are separate from the measured ones (sampling slows a process a little).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp

from benchmarks import wrk
from benchmarks.fig_http import BODY, PATH, drain
from benchmarks.fleet import FLEET, deployment, fleet_inventory, warm_up
from benchmarks.plan import Bench
from benchmarks.procs import Client, Podium, Proc, embedded, node_names, shown, write_inventory
from benchmarks.profiles import record, summarise
from benchmarks.report import Profile


async def _sampled(proc: Proc, seconds: float, out: Path, title: str) -> Profile | None:
    if not await record(proc.pid, seconds, out):
        return None
    command = f"py-spy record --pid <{proc.role}> --duration {round(seconds)} --format raw"
    return Profile(f"{title}: {proc.role}", command, summarise(out.read_text()))


async def _profile_http(bench: Bench, directory: Path) -> list[Profile]:
    inventory = write_inventory(directory / "inventory.yaml", {"node": (1, "{latency-ms: 0}")})
    async with embedded(directory / "serve", inventory) as podium:
        url = f"{podium.url}{PATH}"
        script = wrk.write_script(directory / "post.lua", BODY, {"X-Authentication": podium.token})
        seconds = bench.plan.profile_s
        load = asyncio.ensure_future(wrk.run(wrk.argv(url, script, 32, seconds + 2)))
        await asyncio.sleep(1)
        profile = await _sampled(podium.api, seconds, directory / "http.txt", "figure 1, embedded")
        await load
        await drain(podium)
    return [profile] if profile else []


async def _jobs_while(podium: Podium, nodes: list[str], until: float) -> None:
    async with aiohttp.ClientSession() as session:
        client = Client(session, podium)
        while time.monotonic() < until:
            name = await client.task(nodes)
            await client.wait_job(name, timeout_s=300, poll_s=0.05)


async def _profile_fleet(bench: Bench, directory: Path, rabbit: bool) -> list[Profile]:
    plan = bench.plan
    inventory = fleet_inventory(directory, plan.fleet_nodes)
    nodes = node_names(FLEET, plan.fleet_nodes)
    title = "figure 2, " + ("RabbitMQ" if rabbit else "embedded")
    profiles: list[Profile] = []
    async with deployment(
        directory, inventory, rabbit, 2, max_inflight=plan.max_inflight
    ) as podium:
        await warm_up(podium)
        seconds = plan.profile_s
        targets = [p for p in podium.procs if p.role in ("serve", "scheduler", "executor")][:2]
        jobs = asyncio.ensure_future(_jobs_while(podium, nodes, time.monotonic() + seconds + 1))
        sampled = await asyncio.gather(
            *(
                _sampled(proc, seconds, directory / f"{proc.role}-{i}.txt", title)
                for i, proc in enumerate(targets)
            )
        )
        await jobs
        profiles += [p for p in sampled if p is not None]
    return profiles


async def profiles_of(bench: Bench) -> list[Profile]:
    directory = bench.work / "profiles"
    directory.mkdir(parents=True, exist_ok=True)
    print("profiles...", flush=True)
    profiles = await _profile_http(bench, directory / "http")
    profiles += await _profile_fleet(bench, directory / "embedded", rabbit=False)
    profiles += await _profile_fleet(bench, directory / "rabbit", rabbit=True)
    return profiles


__all__ = ["profiles_of", "shown"]
