"""Figure 1's open-loop measurement on two builds of Podium, alternating, for a before/after:
`python -m benchmarks.compare_builds --before DIR --after DIR [--rate 1000] [--seconds 10]
[--rounds 3] [--rabbitmq]`. Each DIR is a checkout (a `git worktree add --detach` of the commit
before a change, say) whose `podium` the Podium processes import (PYTHONPATH); the harness and
the load generator are this checkout's. Each round starts a fresh deployment per build.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
from contextlib import AbstractAsyncContextManager
from dataclasses import replace
from pathlib import Path

from benchmarks.cpu import CpuTrace
from benchmarks.fig_http import BODY, PATH, drain, openloop, openloop_argv
from benchmarks.plan import FULL
from benchmarks.procs import Podium, cluster, embedded, write_inventory


async def _once(source: Path, rate: float, seconds: float, rabbit: bool, work: Path) -> str:
    os.environ["PYTHONPATH"] = str(source)  # the processes started from here inherit it
    plan = replace(FULL, open_rate=rate, open_s=seconds)
    inventory = write_inventory(work / "inventory.yaml", {"node": (1, "{latency-ms: 0}")})
    body = work / "body.json"
    body.write_text(json.dumps(BODY))
    deployment: AbstractAsyncContextManager[Podium] = (
        cluster(work / "cluster", inventory, executors=1)
        if rabbit
        else embedded(work / "serve", inventory)
    )
    async with deployment as podium:
        trace = CpuTrace([proc.pid for proc in podium.procs], interval_s=0.1)
        trace.read()
        sampling = asyncio.ensure_future(trace.sample())
        load = os.getloadavg()[0]
        try:
            result = await openloop(openloop_argv(plan, f"{podium.url}{PATH}", body, podium.token))
        finally:
            sampling.cancel()
        trace.read()
        cpu_ms = trace.used(result.window_start_unix, result.window_end_unix) * 1000
        await drain(podium)
    return (
        f"load {load:5.2f}  CPU/request {cpu_ms / result.requests:.3f} ms  "
        f"p50 {result.p50_ms:7.1f}  p99 {result.p99_ms:7.1f}  max {result.max_ms:7.1f} ms  "
        f"over 250 ms {result.slow:5d}  sends late p99 {result.late_p99_ms:6.1f} ms  "
        f"{result.statuses}"
    )


async def _compare(args: argparse.Namespace) -> None:
    for _ in range(args.rounds):
        for label, source in (("before", args.before), ("after", args.after)):
            with tempfile.TemporaryDirectory(prefix="podium-compare-") as work:
                line = await _once(source, args.rate, args.seconds, args.rabbitmq, Path(work))
                print(f"{label:6s} {line}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.compare_builds", description=__doc__
    )
    parser.add_argument("--before", type=Path, required=True)
    parser.add_argument("--after", type=Path, required=True)
    parser.add_argument("--rate", type=float, default=1_000.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rabbitmq", action="store_true")
    asyncio.run(_compare(parser.parse_args()))


if __name__ == "__main__":
    main()
