"""Resident memory of the processes that follow the log on RabbitMQ after N finished jobs:
`python -m benchmarks.distributed_memory cluster|serve DIR --jobs N --nodes K [--rounds R]`.

`cluster` runs a `podium scheduler`, a `podium api` and one executor; `serve` runs one
`podium serve --amqp-url`. Both under a fresh prefix on the broker of PODIUM_AMQP_URL (the local
one by default). Each of R rounds submits N task jobs of K sim nodes from 8 clients; it waits
until the last one has ended and the log has settled, and prints one JSON line: each process's
VmRSS (from /proc/<pid>/status) once started and after each round. With `--closed`, each
client waits for its job to end before it sends the next (at most 8 jobs live: what grows is
history, not a backlog).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from pathlib import Path
from typing import NamedTuple

import aiohttp

from benchmarks.procs import (
    AMQP_URL,
    Client,
    Podium,
    _amqp_flags,
    _delete_queues,
    _env,
    _http_flags,
    cluster,
    free_port,
    node_names,
    podium_argv,
    shown,
    start,
    write_inventory,
)
from podium.events.amqp.settings import AmqpSettings

CLIENTS = 8


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    raise RuntimeError(f"no VmRSS for {pid}")


async def run_jobs(podium: Podium, jobs: int, nodes: list[str], closed: bool) -> float:
    """Submit `jobs` jobs from CLIENTS clients, wait for the last; return the seconds taken."""
    started = time.monotonic()
    names: list[str] = []
    remaining = jobs
    async with aiohttp.ClientSession() as session:
        client = Client(session, podium)

        async def submitter() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                names.append(await client.task(nodes))
                if closed:
                    await client.wait_job(names[-1], timeout_s=900, poll_s=0.05)

        await asyncio.gather(*(submitter() for _ in range(CLIENTS)))
        for name in sorted(names, key=int)[-CLIENTS:]:
            await client.wait_job(name, timeout_s=900, poll_s=0.2)
    await asyncio.sleep(5)  # the last events folded everywhere, a snapshot or checkpoint taken
    return round(time.monotonic() - started, 1)


class Load(NamedTuple):
    jobs: int
    nodes: list[str]
    rounds: int
    closed: bool


async def measure(podium: Podium, load: Load) -> dict[str, object]:
    def rss() -> dict[str, float]:
        return {p.role: rss_mb(p.pid) for p in podium.procs if p.role != "executor"}

    started = rss()
    rounds = []
    for done in range(1, load.rounds + 1):
        seconds = await run_jobs(podium, load.jobs, load.nodes, load.closed)
        rounds.append({"jobs_ended": done * load.jobs, "seconds": seconds, "rss_mb": rss()})
    return {
        "jobs_per_round": load.jobs,
        "nodes_per_job": len(load.nodes),
        "closed_loop": load.closed,
        "rss_mb_started": started,
        "rounds": rounds,
        "commands": podium.commands,
    }


async def in_cluster(directory: Path, load: Load) -> dict[str, object]:
    inventory = write_inventory(directory / "inventory.yaml", {"fast": (len(load.nodes), "{}")})
    async with cluster(directory, inventory, 1, executor_flags={"slots": 64}) as podium:
        return await measure(podium, load)


async def in_serve(directory: Path, load: Load) -> dict[str, object]:
    inventory = write_inventory(directory / "inventory.yaml", {"fast": (len(load.nodes), "{}")})
    amqp = AmqpSettings(url=AMQP_URL, prefix=f"bench-{uuid.uuid4().hex[:10]}")
    port = free_port()
    argv = podium_argv("serve", _http_flags(directory, inventory, port) | _amqp_flags(amqp))
    proc = await start("serve", argv, directory / "serve.log", _env())
    try:
        await proc.wait_for("Podium is serving")
        token = (directory / "data" / "admin.token").read_text().strip()
        url = f"http://127.0.0.1:{port}/orchestrator/v1"
        podium = Podium(directory, url, token, [proc], amqp, [shown(argv)])
        return await measure(podium, load)
    finally:
        await proc.stop()
        await _delete_queues(amqp)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("mode", choices=("cluster", "serve"))
    parser.add_argument("directory", type=Path)
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--nodes", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--closed", action="store_true")
    args = parser.parse_args()
    load = Load(args.jobs, node_names("fast", args.nodes), args.rounds, args.closed)
    run = in_cluster if args.mode == "cluster" else in_serve
    print(json.dumps(asyncio.run(run(args.directory, load))), flush=True)


if __name__ == "__main__":
    main()
