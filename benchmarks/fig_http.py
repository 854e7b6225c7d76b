"""Figure 1: `POST /command/task` with a one-node scope at 32 connections, against a bare aiohttp
handler answering the same 202 body, with the same load generator (wrk) on the same machine.

Each repetition measures the ceiling, then Podium, back to back, and the ratio is taken per
repetition. After each Podium run the harness waits until the jobs the requests created have
finished, so that no leftover work runs during the next measurement.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from benchmarks import wrk
from benchmarks.plan import Bench
from benchmarks.procs import (
    TASK,
    Client,
    Podium,
    Proc,
    cluster,
    embedded,
    free_port,
    shown,
    start,
    write_inventory,
)
from benchmarks.stats import Figure, Row, Spread, ratios

PATH = "/command/task"
BODY = {"task": TASK, "params": {"message": "hi"}, "scope": {"nodes": ["node-00000"]}}


@dataclass
class Runs:
    rate: list[float] = field(default_factory=list)
    p50: list[float] = field(default_factory=list)
    p99: list[float] = field(default_factory=list)
    non_2xx: int = 0

    def add(self, result: wrk.WrkResult) -> None:
        self.rate.append(result.requests_per_s)
        self.p50.append(result.p50_s * 1000)
        self.p99.append(result.p99_s * 1000)
        self.non_2xx += result.non_2xx


@dataclass(frozen=True, slots=True)
class Variant:
    label: str
    uvloop: bool
    target: float | None
    open: Callable[[Path], AbstractAsyncContextManager[Podium]]


@contextlib.asynccontextmanager
async def bare(directory: Path, use_uvloop: bool) -> AsyncIterator[tuple[str, Proc]]:
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    argv = [sys.executable, "-m", "benchmarks.bare_http", "--port", str(port)]
    argv += ["--uvloop"] if use_uvloop else []
    proc = await start("bare", argv, directory / f"bare-{port}.log", {})
    try:
        await proc.wait_for("bare aiohttp is serving")
        await asyncio.sleep(0.3)  # run_app binds after printing
        yield f"http://127.0.0.1:{port}/orchestrator/v1{PATH}", proc
    finally:
        await proc.stop()


async def drain(podium: Podium) -> None:
    """Wait until the newest job has ended: jobs run oldest first, so all have."""
    async with aiohttp.ClientSession() as session:
        client = Client(session, podium)
        items = (await client.get("/jobs?order_by=name&order=desc&limit=1"))["items"]
        if isinstance(items, list) and items:
            await client.wait_job(str(items[0]["name"]), timeout_s=300, poll_s=0.1)
    await asyncio.sleep(0.5)


def variants(inventory: Path, all_variants: bool) -> list[Variant]:
    def serve(
        use_uvloop: bool, fsync: bool
    ) -> Callable[[Path], AbstractAsyncContextManager[Podium]]:
        return lambda d: embedded(d, inventory, fsync=fsync, uvloop=use_uvloop)

    def on_rabbitmq(directory: Path) -> AbstractAsyncContextManager[Podium]:
        return cluster(directory, inventory, executors=1)

    core = [
        Variant("embedded, fsync on", False, 0.5, serve(False, True)),
        Variant("RabbitMQ: api + scheduler + 1 executor", False, 0.35, on_rabbitmq),
    ]
    if not all_variants:
        return core
    return [
        core[0],
        Variant("embedded, fsync on, uvloop", True, None, serve(True, True)),
        Variant("embedded, fsync off", False, None, serve(False, False)),
        core[1],
    ]


async def figure_1(bench: Bench) -> Figure:
    plan = bench.plan
    work = bench.work / "fig1"
    work.mkdir(parents=True, exist_ok=True)
    inventory = write_inventory(work / "inventory.yaml", {"node": (1, "{latency-ms: 0}")})
    figure = Figure(1, f"POST /command/task, one-node scope, {plan.connections} connections")
    for index, variant in enumerate(variants(inventory, plan.http_variants)):
        async with bare(work, variant.uvloop) as (url, bare_proc):
            runs, ceiling, commands = await _measure_variant(
                bench, work / f"v{index}", variant, url
            )
            figure.commands += [shown(bare_proc.argv), *commands]
        ceiling_label = "bare aiohttp handler" + (", uvloop" if variant.uvloop else "")
        _rows(figure, f"{ceiling_label} (ceiling of the next)", ceiling, None, None)
        _rows(figure, variant.label, runs, ceiling, variant.target)
    script = work / "post.lua"
    figure.commands.append(
        shown(wrk.argv("<url>", script, plan.connections, plan.wrk_s))
        + f"  (script: POST {PATH} with {BODY} and the admin token)"
    )
    figure.notes.append(
        "Each Podium repetition is paired with a ceiling repetition run just before it, on a "
        "bare server with the same event loop; the ratio is taken per pair. Podium answers 202 "
        "only once the JobRequested event is durable and folded, and in the embedded process "
        "the same core also runs the scheduler and the executor for every job created."
    )
    return figure


async def _measure_variant(
    bench: Bench, directory: Path, variant: Variant, ceiling_url: str
) -> tuple[Runs, Runs, list[str]]:
    plan = bench.plan
    runs, ceiling = Runs(), Runs()
    bare_script = wrk.write_script(directory.parent / "bare.lua", BODY, {})
    async with variant.open(directory) as podium:
        bench_url = f"{podium.url}{PATH}"
        script = wrk.write_script(directory / "post.lua", BODY, {"X-Authentication": podium.token})
        await wrk.run(wrk.argv(bench_url, script, plan.connections, 1))  # warm-up
        await drain(podium)
        for _ in range(plan.reps):
            ceiling.add(
                await wrk.run(wrk.argv(ceiling_url, bare_script, plan.connections, plan.wrk_s))
            )
            runs.add(await wrk.run(wrk.argv(bench_url, script, plan.connections, plan.wrk_s)))
            await drain(podium)
        commands = list(podium.commands)
    return runs, ceiling, commands


def _rows(
    figure: Figure, label: str, runs: Runs, ceiling: Runs | None, target: float | None
) -> None:
    ratio = ratios(runs.rate, ceiling.rate) if ceiling is not None else None
    met = None if target is None or ratio is None else ratio.median >= target
    figure.rows += [
        Row(
            f"{label}: requests/s",
            Spread.of(runs.rate),
            "req/s",
            ratio,
            "bare aiohttp, same loop, same run" if ratio else "",
            f">= {target} of the ceiling" if target else "",
            met,
        ),
        Row(f"{label}: p50 latency", Spread.of(runs.p50), "ms"),
        Row(f"{label}: p99 latency", Spread.of(runs.p99), "ms"),
    ]
    if runs.non_2xx:
        figure.notes.append(f"{label}: {runs.non_2xx} answers were not 2xx.")
