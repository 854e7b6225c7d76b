"""Figure 11: figure 2's fan-out through the peers, in the same run. One job of N no-op node runs
on Podium (RabbitMQ, 2 executors: figure 2's RabbitMQ case and harness), and N no-op tasks
through Celery and through Dramatiq (same broker, a vhost of their own, results in Redis, 2
worker processes each): runs/s from the submit to the last result stored, and the time to read
how many runs succeeded and failed once it is done.
"""

from __future__ import annotations

import contextlib
import statistics
import time
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from typing import Final, cast

import aiohttp

from benchmarks.fig_fleet import EXECUTORS
from benchmarks.fleet import FLEET, JobRun, deployment, fleet_inventory, run_job, warm_up
from benchmarks.peers.outcome import Outcome, Peer
from benchmarks.peers.workers import DRAMATIQ_THREADS, PROCESSES, PeerRun, peer_workers
from benchmarks.plan import Bench
from benchmarks.procs import Client, Podium, node_names
from benchmarks.stats import Figure, Row, Spread, ratios

COUNT_READS: Final = 3  # Podium's reads per repetition (after one that opens the connection)
WARM_UP_TASKS: Final = 10  # as `warm_up`'s job
PODIUM: Final = f"Podium, RabbitMQ, {EXECUTORS} executors"
PEERS: Final[tuple[Peer, ...]] = ("celery", "dramatiq")


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "?"


LABELS: Final[dict[Peer, str]] = {
    "celery": f"Celery {_version('celery')}, {PROCESSES} workers x prefork -c 1",
    "dramatiq": f"Dramatiq {_version('dramatiq')}, {PROCESSES} processes x {DRAMATIQ_THREADS} "
    "threads",
}


async def count_read_s(podium: Podium, name: str, nodes: int) -> float:
    """The median time of `GET /jobs/<name>`, each answer counting every node finished."""
    async with aiohttp.ClientSession() as session:
        client = Client(session, podium)
        await client.get(f"/jobs/{name}")
        times = []
        for _ in range(COUNT_READS):
            started = time.perf_counter()
            job = await client.get(f"/jobs/{name}")
            times.append(time.perf_counter() - started)
            if job["node_count"] != nodes or job["node_states"] != {"finished": nodes}:
                raise RuntimeError(f"job {name} counts {job['node_states']} of {nodes} nodes")
    return statistics.median(times)


@dataclass
class Measured:
    """What figure 11 measured, repetition by repetition."""

    podium: list[JobRun] = field(default_factory=list)
    podium_reads: list[float] = field(default_factory=list)
    peers: dict[Peer, list[PeerRun]] = field(default_factory=lambda: {p: [] for p in PEERS})


async def podium_rep(podium: Podium, nodes: list[str], measured: Measured) -> None:
    run = await run_job(podium, nodes)
    measured.podium.append(run)
    measured.podium_reads.append(await count_read_s(podium, run.name, len(nodes)))


async def measure(bench: Bench, figure: Figure) -> Measured:
    """Podium and both peers up side by side, one repetition of each in turn (the order
    rotating), so that each repetition sees the same load on a shared machine."""
    plan = bench.plan
    work = bench.work / "fig11"
    inventory = fleet_inventory(work / "podium", plan.fleet_nodes)
    nodes = node_names(FLEET, plan.fleet_nodes)
    measured = Measured()
    async with contextlib.AsyncExitStack() as stack:
        flags = {"max_inflight": plan.max_inflight}
        podium = await stack.enter_async_context(
            deployment(work / "podium", inventory, True, EXECUTORS, **flags)
        )
        figure.commands += podium.commands
        await warm_up(podium)
        workers = {}
        for peer in PEERS:
            workers[peer] = await stack.enter_async_context(peer_workers(peer, work / peer))
            figure.commands += workers[peer].commands
            figure.commands.append(workers[peer].shown(workers[peer].client_argv(len(nodes))))
            await workers[peer].fanout(WARM_UP_TASKS)
        for rep in range(plan.reps):
            for turn in _rotated(["podium", *PEERS], rep):
                if turn == "podium":
                    await podium_rep(podium, nodes, measured)
                else:
                    peer = cast(Peer, turn)
                    measured.peers[peer].append(await workers[peer].measured(len(nodes)))
    return measured


def _rotated(items: list[str], by: int) -> list[str]:
    by %= len(items)
    return items[by:] + items[:by]


def _ms(seconds: list[float]) -> list[float]:
    return [s * 1000 for s in seconds]


def peer_rows(peer: Peer, outcomes: list[Outcome], podium: list[JobRun]) -> list[Row]:
    label = LABELS[peer]
    rates = [o.runs_per_s for o in outcomes]
    return [
        Row(
            f"{label}: runs/s",
            Spread.of(rates),
            "runs/s",
            ratios([r.runs_per_s for r in podium], rates),
            "Podium's runs/s over the peer's",
            "reported",
        ),
        Row(f"{label}: submitting the tasks", Spread.of([o.submit_s for o in outcomes]), "s"),
        Row(f"{label}: submit to last result", Spread.of([o.finished_s for o in outcomes]), "s"),
    ]


def cpu_rows(peer: Peer, runs: list[PeerRun], podium: list[JobRun]) -> list[Row]:
    label = LABELS[peer]
    values = [r.cpu_us_per_run for r in runs]
    return [
        Row(
            f"{label}: CPU per run, workers + client",
            Spread.of(values),
            "µs CPU/run",
            ratios(values, [r.cpu_us_per_run for r in podium]),
            "the peer's CPU per run over Podium's",
        ),
        Row(
            f"{label}: CPU per run, RabbitMQ broker (beam.smp)",
            Spread.of([r.broker_cpu_us_per_run for r in runs]),
            "µs CPU/run",
        ),
        Row(
            f"{label}: CPU per run, Redis (redis-server)",
            Spread.of([r.redis_cpu_us_per_run for r in runs]),
            "µs CPU/run",
        ),
    ]


def podium_cpu_rows(podium: list[JobRun]) -> list[Row]:
    return [
        Row(
            f"{PODIUM}: CPU per run, api + scheduler + {EXECUTORS} executors",
            Spread.of([r.cpu_us_per_run for r in podium]),
            "µs CPU/run",
            summary=True,
        ),
        Row(
            f"{PODIUM}: CPU per run, RabbitMQ broker (beam.smp)",
            Spread.of([r.broker_cpu_us_per_run for r in podium]),
            "µs CPU/run",
        ),
    ]


def read_rows(
    celery: list[Outcome], dramatiq: list[Outcome], podium_reads: list[float]
) -> list[Row]:
    podium_ms = _ms(podium_reads)
    against = "the peer's read over Podium's"
    reads = [
        (f"{LABELS['celery']}: states of all results, one MGET (get_many)", celery, False),
        (f"{LABELS['celery']}: states one by one (AsyncResult.state)", celery, True),
        (f"{LABELS['dramatiq']}: results one by one (Message.get_result)", dramatiq, False),
    ]
    rows = [
        Row(
            f"{PODIUM}: node-state counts (GET /jobs/<id>)",
            Spread.of(podium_ms),
            "ms",
            summary=True,
        )
    ]
    for label, outcomes, each in reads:
        values = _ms([(o.count_read_each_s or 0.0) if each else o.count_read_s for o in outcomes])
        rows.append(Row(label, Spread.of(values), "ms", ratios(values, podium_ms), against))
    return rows


async def figure_11(bench: Bench) -> Figure:
    plan = bench.plan
    figure = Figure(11, f"figure 2's fan-out ({plan.fleet_nodes:,} no-op runs) against the peers")
    measured = await measure(bench, figure)
    podium, runs = measured.podium, measured.peers
    celery, dramatiq = ([r.outcome for r in runs[p]] for p in PEERS)
    figure.rows += [
        Row(
            f"{PODIUM}: node runs/s",
            Spread.of([r.runs_per_s for r in podium]),
            "runs/s",
            summary=True,
        ),
        *peer_rows("celery", celery, podium),
        *peer_rows("dramatiq", dramatiq, podium),
        *read_rows(celery, dramatiq, measured.podium_reads),
        *podium_cpu_rows(podium),
        *cpu_rows("celery", runs["celery"], podium),
        *cpu_rows("dramatiq", runs["dramatiq"], podium),
    ]
    figure.notes += NOTES
    return figure


NOTES: Final = [
    "Podium: figure 2's RabbitMQ job (demo::echo on sim nodes with zero latency, 2 executors "
    "of 64 slots), from the POST to the `at` of JobFinished on the log. Peers: a task that "
    "returns `time.time()`, submitted from one client process (Celery: `group(...)."
    "apply_async()`; Dramatiq: `group(...).run()`), from just before the first publish to the "
    "latest time a task returned (its result stored right after); the client sees the end "
    "when the Redis database holds every result.",
    "Each peer runs 2 worker processes on the same broker in a vhost of its own, deleted "
    "afterwards, with results in Redis database 15, flushed (only it) around every fan-out. "
    "Celery: two `celery worker --pool prefork -c 1` (its default pool, one task process per "
    "worker as one executor per process), prefetch 64 per worker (the executors' 64 slots; "
    "Celery advises a high multiplier for short tasks), no gossip, mingle, events or remote "
    "control. Dramatiq: `dramatiq --processes 2 --threads 8` (its default threads; prefetch "
    "16 per process), no retries. Measured by hand at 3,000 tasks on a loaded machine, "
    "Celery with `--pool solo` x2 or one worker `-c 2` was no faster, nor Dramatiq with 32 "
    "threads (benchmarks/NOTES.md).",
    "Durability is not alike: Podium has RabbitMQ confirm every work message and every log "
    "append; the peers publish persistent messages without publisher confirms (their "
    "defaults), Celery acks a message before its task runs (its default; Dramatiq after), "
    "and this Redis keeps nothing on disk.",
    "Counts: Podium's median of 3 `GET /jobs/<id>` (node_count, node_states) after one that "
    "opens the connection; each peer's read once per repetition in its client process, "
    "through its own result API from a fresh connection, every state counted and checked "
    "(Celery: `backend.get_many`, one MGET as `join_native` does, and `AsyncResult.state` "
    "one GET per result as `completed_count()` does; Dramatiq: `Message.get_result` per "
    "message, as `group.get_results` does; its Redis backend has no bulk read). Ratios pair "
    "repetition i of each side.",
    "CPU per run: user + system CPU (/proc/<pid>/stat, every thread) over each side's measured "
    "window, read every 10 ms and interpolated at its ends, divided by the runs. Podium: its "
    "api, scheduler and executors, as figure 2. A peer: its worker processes (a Celery "
    "worker's prefork child, the processes `dramatiq` forks) plus its client's own CPU from "
    "the first publish until it saw every result stored (`time.process_time`). RabbitMQ's "
    "beam.smp apart, and the peers' redis-server apart too; the broker is shared with other "
    "sessions, so its figure includes their traffic.",
    "Podium and both peers run side by side; each repetition runs Podium's job, then "
    "Celery's and Dramatiq's fan-outs, one after another (the order rotating by one each "
    "repetition), so that the three see the same load on a shared machine; the others' "
    "processes stay up, idle, meanwhile.",
]
