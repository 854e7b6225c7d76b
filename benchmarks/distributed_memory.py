"""Resident memory of the processes that follow the log on RabbitMQ after N finished jobs:
`python -m benchmarks.distributed_memory cluster|serve DIR --jobs N --nodes K`.

`cluster` runs a `podium scheduler`, a `podium api` and one executor; `serve` runs one
`podium serve --amqp-url`. Both under a fresh prefix on the broker of PODIUM_AMQP_URL (the local
one by default). It submits N task jobs of K sim nodes (8 clients), waits until the last one has
ended and the log has settled, and prints one JSON line: each process's VmRSS (from
/proc/<pid>/status) once started, and after the jobs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from pathlib import Path

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


async def run_jobs(podium: Podium, jobs: int, nodes: list[str]) -> float:
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

        await asyncio.gather(*(submitter() for _ in range(CLIENTS)))
        for name in sorted(names, key=int)[-CLIENTS:]:
            await client.wait_job(name, timeout_s=900, poll_s=0.2)
    await asyncio.sleep(5)  # the last events folded everywhere, a snapshot or checkpoint taken
    return round(time.monotonic() - started, 1)


async def measure(podium: Podium, jobs: int, nodes: list[str]) -> dict[str, object]:
    rss = {p.role: rss_mb(p.pid) for p in podium.procs if p.role != "executor"}
    seconds = await run_jobs(podium, jobs, nodes)
    after = {p.role: rss_mb(p.pid) for p in podium.procs if p.role != "executor"}
    return {
        "jobs": jobs,
        "nodes_per_job": len(nodes),
        "seconds": seconds,
        "rss_mb_started": rss,
        "rss_mb_after": after,
        "commands": podium.commands,
    }


async def in_cluster(directory: Path, jobs: int, nodes: list[str]) -> dict[str, object]:
    inventory = write_inventory(directory / "inventory.yaml", {"fast": (len(nodes), "{}")})
    async with cluster(directory, inventory, 1, executor_flags={"slots": 64}) as podium:
        return await measure(podium, jobs, nodes)


async def in_serve(directory: Path, jobs: int, nodes: list[str]) -> dict[str, object]:
    inventory = write_inventory(directory / "inventory.yaml", {"fast": (len(nodes), "{}")})
    amqp = AmqpSettings(url=AMQP_URL, prefix=f"bench-{uuid.uuid4().hex[:10]}")
    port = free_port()
    argv = podium_argv("serve", _http_flags(directory, inventory, port) | _amqp_flags(amqp))
    proc = await start("serve", argv, directory / "serve.log", _env())
    try:
        await proc.wait_for("Podium is serving")
        token = (directory / "data" / "admin.token").read_text().strip()
        url = f"http://127.0.0.1:{port}/orchestrator/v1"
        podium = Podium(directory, url, token, [proc], amqp, [shown(argv)])
        return await measure(podium, jobs, nodes)
    finally:
        await proc.stop()
        await _delete_queues(amqp)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("mode", choices=("cluster", "serve"))
    parser.add_argument("directory", type=Path)
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--nodes", type=int, default=20)
    args = parser.parse_args()
    nodes = node_names("fast", args.nodes)
    run = in_cluster if args.mode == "cluster" else in_serve
    print(json.dumps(asyncio.run(run(args.directory, args.jobs, nodes))), flush=True)


if __name__ == "__main__":
    main()
