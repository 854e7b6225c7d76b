"""Figure 1: `POST /command/task` with a one-node scope. The target is latency under load: jobs
offered at a constant rate (open loop, `benchmarks.openloop`), each timed from when it was due
to its 202. The closed-loop rate (wrk, 32 connections) against a bare aiohttp handler answering
the same 202 body is kept as a reported ratio.

Each repetition runs the load generator on the bare handler first (the generator's own ceiling
at that rate on this machine, now), then on Podium, back to back. After each Podium run the
harness waits until the jobs the requests created have finished, so that no leftover work runs
during the next measurement, and at the end checks on the log that every accepted job finished.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import msgspec

from benchmarks import wrk
from benchmarks.cpu import CpuTrace
from benchmarks.fleet import log_state
from benchmarks.openloop import SLOW_MS, Result
from benchmarks.plan import Bench, Plan
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
from podium.events.model import JobState

PATH = "/command/task"
BODY = {"task": TASK, "params": {"message": "hi"}, "scope": {"nodes": ["node-00000"]}}


@dataclass
class Runs:
    """Closed-loop (wrk) repetitions."""

    rate: list[float] = field(default_factory=list)
    p50: list[float] = field(default_factory=list)
    p99: list[float] = field(default_factory=list)
    non_2xx: int = 0

    def add(self, result: wrk.WrkResult) -> None:
        self.rate.append(result.requests_per_s)
        self.p50.append(result.p50_s * 1000)
        self.p99.append(result.p99_s * 1000)
        self.non_2xx += result.non_2xx


@dataclass
class OpenRuns:
    """Open-loop repetitions, and Podium's CPU per request in each one's measured window."""

    results: list[Result] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)
    finished: int = 0  # accepted jobs the log shows finished
    load: list[float] = field(default_factory=list)  # 1-minute load average before each

    def of(self, value: Callable[[Result], float]) -> Spread:
        return Spread.of([value(r) for r in self.results])

    @property
    def accepted(self) -> int:
        return sum(len(r.names) for r in self.results)


@dataclass(frozen=True, slots=True)
class Variant:
    label: str
    uvloop: bool
    p99_target_ms: float | None  # open loop; None: closed loop only
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
        Variant("embedded, fsync on", False, 25.0, serve(False, True)),
        Variant("RabbitMQ: api + scheduler + 1 executor", False, 40.0, on_rabbitmq),
    ]
    if not all_variants:
        return core
    return [
        core[0],
        Variant("embedded, fsync on, uvloop", True, None, serve(True, True)),
        Variant("embedded, fsync off", False, None, serve(False, False)),
        core[1],
    ]


def openloop_argv(plan: Plan, url: str, body: Path, token: str | None) -> list[str]:
    argv = [sys.executable, "-m", "benchmarks.openloop", "--url", url, "--body-file", str(body)]
    argv += ["--rate", str(plan.open_rate), "--duration-s", str(plan.open_s)]
    argv += ["--warmup-s", str(plan.open_warmup_s)]
    return argv + (["--header", f"X-Authentication: {token}"] if token else [])


async def openloop(argv: list[str]) -> Result:
    process = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.PIPE)
    out, _ = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"{shown(argv)} failed")
    return msgspec.json.decode(out, type=Result)


async def figure_1(bench: Bench) -> Figure:
    plan = bench.plan
    work = bench.work / "fig1"
    work.mkdir(parents=True, exist_ok=True)
    inventory = write_inventory(work / "inventory.yaml", {"node": (1, "{latency-ms: 0}")})
    body = work / "body.json"
    body.write_text(json.dumps(BODY))
    figure = Figure(
        1,
        f"POST /command/task, one-node scope: {plan.open_rate:,.0f} jobs/s offered "
        f"(open loop), and the closed-loop rate at {plan.connections} connections",
    )
    for index, variant in enumerate(variants(inventory, plan.http_variants)):
        async with bare(work, variant.uvloop) as (url, bare_proc):
            measured = await _measure_variant(bench, work / f"v{index}", variant, url, body)
            figure.commands += [shown(bare_proc.argv), *measured.commands]
        ceiling_label = "bare aiohttp handler" + (", uvloop" if variant.uvloop else "")
        if variant.p99_target_ms is not None:
            figure.rows += _open_ceiling_rows(ceiling_label, measured.open_ceiling)
            figure.rows += _open_rows(variant, measured.open_runs)
            figure.notes += _open_notes(variant.label, measured.open_runs)
        _rows(figure, f"{ceiling_label}, closed loop (ceiling of the next)", measured.ceiling, None)
        _rows(figure, f"{variant.label}, closed loop", measured.runs, measured.ceiling)
    script = work / "post.lua"
    figure.commands += [
        shown(openloop_argv(plan, "<url>", body, "<token>")) + f"  (body: {BODY})",
        shown(wrk.argv("<url>", script, plan.connections, plan.wrk_s))
        + f"  (script: POST {PATH} with {BODY} and the admin token)",
    ]
    figure.notes += [
        f"Open loop: request i is due at start + i / {plan.open_rate:,.0f} s and is sent then "
        "whether or not earlier ones were answered (a connection is opened when none is idle), "
        "and its latency runs from its due time, so a slow answer is not hidden by the requests "
        f"it held back. {plan.open_warmup_s:g} s of warm-up, then {plan.open_s:g} s measured, "
        "per repetition. The same generator (Python, uvloop, its own process) on the bare "
        "handler shows what it can hold on this machine: its p99 and how late it got to its "
        "requests are the ceiling rows. The p99 target is judged on the median of the repetitions' "
        f"p99s; 'none slower than {SLOW_MS:.0f} ms' on every request of every repetition.",
        "Closed loop: each Podium repetition is paired with a ceiling repetition run just "
        "before it, on a bare server with the same event loop; the ratio is taken per pair and "
        "is reported without a target (the target is the open-loop latency). Podium answers 202 "
        "only once the JobRequested event is durable and folded, and in the embedded process "
        "the same core also runs the scheduler and the executor for every job created.",
    ]
    return figure


@dataclass
class Measured:
    runs: Runs = field(default_factory=Runs)
    ceiling: Runs = field(default_factory=Runs)
    open_runs: OpenRuns = field(default_factory=OpenRuns)
    open_ceiling: OpenRuns = field(default_factory=OpenRuns)
    commands: list[str] = field(default_factory=list)


async def _measure_variant(
    bench: Bench, directory: Path, variant: Variant, ceiling_url: str, body: Path
) -> Measured:
    plan = bench.plan
    measured = Measured()
    bare_script = wrk.write_script(directory.parent / "bare.lua", BODY, {})
    async with variant.open(directory) as podium:
        bench_url = f"{podium.url}{PATH}"
        script = wrk.write_script(directory / "post.lua", BODY, {"X-Authentication": podium.token})
        await wrk.run(wrk.argv(bench_url, script, plan.connections, 1))  # warm-up
        await drain(podium)
        for _ in range(plan.reps if variant.p99_target_ms is not None else 0):
            await _open_rep(plan, podium, ceiling_url, body, measured)
        for _ in range(plan.reps):
            measured.ceiling.add(
                await wrk.run(wrk.argv(ceiling_url, bare_script, plan.connections, plan.wrk_s))
            )
            measured.runs.add(
                await wrk.run(wrk.argv(bench_url, script, plan.connections, plan.wrk_s))
            )
            await drain(podium)
        if measured.open_runs.results:
            measured.open_runs.finished = await _finished(podium, measured.open_runs)
        measured.commands = list(podium.commands)
    return measured


async def _open_rep(
    plan: Plan, podium: Podium, ceiling_url: str, body: Path, measured: Measured
) -> None:
    measured.open_ceiling.load.append(os.getloadavg()[0])
    measured.open_ceiling.results.append(
        await openloop(openloop_argv(plan, ceiling_url, body, None))
    )
    trace = CpuTrace([proc.pid for proc in podium.procs], interval_s=0.1)
    trace.read()
    sampling = asyncio.ensure_future(trace.sample())
    measured.open_runs.load.append(os.getloadavg()[0])
    try:
        result = await openloop(openloop_argv(plan, f"{podium.url}{PATH}", body, podium.token))
    finally:
        sampling.cancel()
    trace.read()
    cpu_s = trace.used(result.window_start_unix, result.window_end_unix)
    measured.open_runs.results.append(result)
    measured.open_runs.cpu_ms.append(cpu_s / result.requests * 1000)
    await drain(podium)


async def _finished(podium: Podium, runs: OpenRuns) -> int:
    """How many of the jobs the open-loop runs had accepted the log shows finished."""
    jobs = (await log_state(podium)).jobs
    names = [str(name) for result in runs.results for name in result.names]
    return sum(1 for name in names if name in jobs and jobs[name].state == JobState.FINISHED)


def _open_ceiling_rows(label: str, runs: OpenRuns) -> list[Row]:
    label = f"{label}, open loop (the generator's ceiling)"
    return [
        Row(f"{label}: p99 to 202", runs.of(lambda r: r.p99_ms), "ms", summary=True),
        Row(f"{label}: slowest", runs.of(lambda r: r.max_ms), "ms"),
        Row(f"{label}: generator late, p99", runs.of(lambda r: r.late_p99_ms), "ms"),
    ]


def _open_rows(variant: Variant, runs: OpenRuns) -> list[Row]:
    label = f"{variant.label}, open loop"
    target = variant.p99_target_ms
    assert target is not None
    p99 = runs.of(lambda r: r.p99_ms)
    slowest = runs.of(lambda r: r.max_ms)
    slow = runs.of(lambda r: float(r.slow))
    finished = Spread.of([runs.finished / runs.accepted if runs.accepted else 0.0])
    return [
        Row(f"{label}: p50 to 202", runs.of(lambda r: r.p50_ms), "ms", summary=True),
        Row(
            f"{label}: p99 to 202",
            p99,
            "ms",
            target=f"p99 < {target:.0f} ms",
            met=p99.median < target,
        ),
        Row(f"{label}: p99.9 to 202", runs.of(lambda r: r.p999_ms), "ms"),
        Row(
            f"{label}: slowest",
            slowest,
            "ms",
            target=f"none > {SLOW_MS:.0f} ms",
            met=slow.high == 0,
        ),
        Row(f"{label}: requests slower than {SLOW_MS:.0f} ms", slow, "requests"),
        Row(f"{label}: answered", runs.of(lambda r: r.answered_per_s), "req/s"),
        Row(
            f"{label}: accepted jobs finished",
            finished,
            "share",
            target="all",
            met=runs.accepted > 0 and runs.finished == runs.accepted,
        ),
        Row(f"{label}: Podium CPU per request", Spread.of(runs.cpu_ms), "ms CPU/req", summary=True),
        Row(f"{label}: generator late, p99", runs.of(lambda r: r.late_p99_ms), "ms"),
    ]


def _open_notes(label: str, runs: OpenRuns) -> list[str]:
    results = runs.results
    statuses: dict[str, int] = {}
    for result in results:
        for status, count in result.statuses.items():
            statuses[status] = statuses.get(status, 0) + count
    loads = ", ".join(f"{load:.2f}" for load in runs.load)
    return [
        f"{label}, open loop: {sum(r.requests for r in results):,} requests measured, answers "
        f"by status {statuses}; {runs.finished:,} of {runs.accepted:,} accepted jobs (warm-ups "
        f"included) finished on the log; the generator used "
        f"{max(r.generator_cpu_share for r in results):.0%} of a core at most, had "
        f"{max(r.connections for r in results)} connections at most, got to each request at "
        f"most {max(r.late_max_ms for r in results):.1f} ms after it was due, and a request "
        f"waited at most {max(r.connect_wait_max_ms for r in results):.1f} ms for a new "
        "connection (counted in its latency); 1-minute load average before "
        f"each repetition: {loads}.",
    ]


def _rows(figure: Figure, label: str, runs: Runs, ceiling: Runs | None) -> None:
    ratio = ratios(runs.rate, ceiling.rate) if ceiling is not None else None
    figure.rows += [
        Row(
            f"{label}: requests/s",
            Spread.of(runs.rate),
            "req/s",
            ratio,
            "bare aiohttp, same loop, same run" if ratio else "",
            "reported" if ratio else "",
        ),
        Row(f"{label}: p50 latency", Spread.of(runs.p50), "ms"),
        Row(f"{label}: p99 latency", Spread.of(runs.p99), "ms"),
    ]
    if runs.non_2xx:
        figure.notes.append(f"{label}: {runs.non_2xx} answers were not 2xx.")
