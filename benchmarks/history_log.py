"""Figure 10's synthetic history: `python -m benchmarks.history_log LOG N` writes an embedded log
of about N events, every job ended, shaped like a month of a fleet: task jobs of 10 to 5,000
nodes (`SIZES`, in turn: a 5,000-node run of the whole fleet, ad-hoc jobs of 10 to 1,000 nodes, a
2,500-node half), spread evenly over the `SPAN_DAYS` days before now. Per job: JobRequested;
JobReady with the first NodeRunDispatched; NodeRunDispatched in batches of `DISPATCH_BATCH` (the
scheduler's dispatch bound); per batch of `RUN_BATCH` nodes their NodeRunStarted, then their
NodeRunFinished (with a result); JobFinished. Three events per node run, as `podium serve`
writes them (figure 2: 30,023 events for 10,000 nodes), and records of about the sizes it
appends.

Appended through the file log itself without fsync (no server, no fold), so the log is in
segments with their indexes, as `podium serve` writes it. Prints one JSON line: events, node
runs, jobs, bytes, seconds.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Final, NamedTuple

from podium.events.filelog import FileEventLog
from podium.events.jobspec import JobScope, TaskJob
from podium.events.model import (
    Event,
    JobFinished,
    JobReady,
    JobRequested,
    JobState,
    NodeRunDispatched,
    NodeRunFinished,
    NodeRunStarted,
    NodeState,
    Target,
)
from podium.events.segments import segments_dir
from podium.logs import configure_logging

VERSION: Final = 1  # of what `generate` writes: change it whenever its output changes
SIZES: Final = (5_000, 10, 40, 100, 10, 250, 1_000, 20, 500, 2_500, 10, 60)
SPAN_DAYS: Final = 29  # inside the default retention of 30 days when generated
DISPATCH_BATCH: Final = 500
RUN_BATCH: Final = 100


class Planned(NamedTuple):
    """One job of the history: its name, its nodes, and the event id (log position) of its
    JobRequested; its JobFinished is at `first + 3 * nodes + 2`."""

    name: int
    nodes: int
    first: int

    @property
    def last(self) -> int:
        return self.first + 3 * self.nodes + 2


def layout(events: int) -> list[Planned]:
    """The jobs `generate(path, events)` writes, without writing them."""
    jobs: list[Planned] = []
    written = 0
    while written < events:
        size = SIZES[len(jobs) % len(SIZES)]
        jobs.append(Planned(len(jobs) + 1, size, written + 1))
        written += 3 * size + 3
    return jobs


class _Seqs:
    """Each origin's own sequence numbers, as its producer would stamp them."""

    def __init__(self) -> None:
        self.last: dict[str, int] = {}

    def __call__(self, origin: str) -> int:
        seq = self.last.get(origin, 0) + 1
        self.last[origin] = seq
        return seq


def _batches(job: Planned, at: float, seq: _Seqs) -> Iterator[list[Event]]:
    name = str(job.name)
    nodes = [f"node-{n:05d}" for n in range(job.nodes)]
    spec = TaskJob(
        environment="production",
        scope=JobScope(nodes=nodes),
        task="demo::echo",
        params={"message": "hi"},
    )
    yield [
        JobRequested(
            at=at,
            origin="api",
            seq=seq("api"),
            request_id=f"request-{name}",
            owner="admin",
            spec=spec,
            nodes=nodes,
            targets=[Target("sim", {"sim": {"latency-ms": 0}}, nodes)],
        )
    ]
    ready: list[Event] = [JobReady(at=at, origin="scheduler", seq=seq("scheduler"), job=name)]
    for start in range(0, job.nodes, DISPATCH_BATCH):
        dispatched: list[Event] = [
            NodeRunDispatched(
                at=at, origin="scheduler", seq=seq("scheduler"), job=name, node=node, attempt=1
            )
            for node in nodes[start : start + DISPATCH_BATCH]
        ]
        yield ready + dispatched
        ready = []
    for start in range(0, job.nodes, RUN_BATCH):
        chunk = nodes[start : start + RUN_BATCH]
        yield [
            NodeRunStarted(
                at=at,
                origin="executor",
                seq=seq("executor"),
                job=name,
                node=node,
                attempt=1,
                executor="e",
            )
            for node in chunk
        ]
        yield [
            NodeRunFinished(
                at=at,
                origin="executor",
                seq=seq("executor"),
                job=name,
                node=node,
                attempt=1,
                state=NodeState.FINISHED,
                result={"_output": f"demo::echo ran on {node} (simulated)\n"},
                message=f"Finished task run on {node}",
            )
            for node in chunk
        ]
    yield [
        JobFinished(
            at=at, origin="scheduler", seq=seq("scheduler"), job=name, state=JobState.FINISHED
        )
    ]


def generate(path: Path, events: int, now: float | None = None) -> dict[str, float]:
    """Write the log; what it holds."""
    return asyncio.run(_generate(path, events, time.time() if now is None else now))


async def _generate(path: Path, events: int, end: float) -> dict[str, float]:
    started = time.perf_counter()
    jobs = layout(events)
    step = SPAN_DAYS * 86_400 / len(jobs)
    seq = _Seqs()
    written = 0
    log = await FileEventLog.open(path, fsync=False)
    try:
        for index, job in enumerate(jobs):
            at = end - (len(jobs) - index) * step
            for batch in _batches(job, at, seq):
                await log.append(batch)
                written += len(batch)
    finally:
        await log.close()
    return {
        "events": written,
        "node_runs": sum(job.nodes for job in jobs),
        "jobs": len(jobs),
        "bytes": sum(file.stat().st_size for file in segments_dir(path).iterdir()),
        "seconds": time.perf_counter() - started,
    }


def main() -> None:
    configure_logging("warning")  # a line per segment started says little here
    path, events = Path(sys.argv[1]), int(sys.argv[2])
    path.parent.mkdir(parents=True, exist_ok=True)
    print(json.dumps(generate(path, events)))


if __name__ == "__main__":
    main()
