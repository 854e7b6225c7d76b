"""Figure 6's processes: `python -m benchmarks.cold_start {generate,fold,decode} LOG [N]`.

`generate` writes an embedded log (in segments) of about N events shaped like real traffic:
task jobs of 100 nodes, each with JobRequested, JobReady, then per node NodeRunDispatched,
NodeRunStarted and NodeRunFinished (with a result), and JobFinished, in batches as the producers
would append them.
`fold` starts cold the way `podium serve` does (open the log, check every record, fold it all
with a projector) and prints the seconds and the peak resident memory. `decode` is the ceiling:
the same records decoded by msgspec alone, from bytes already in memory (every segment read).
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
from pathlib import Path
from typing import Final

import msgspec

from podium.events import logformat
from podium.events.codec import decode_batch
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
from podium.events.projector import Projector
from podium.events.segments import SEGMENT_SUFFIX, segments_dir
from podium.logs import configure_logging

NODES_PER_JOB: Final = 100
_HEADER: Final = logformat.HEADER


def _job(number: int, seq: int, at: float) -> list[list[Event]]:
    """The batches of one job, as api, scheduler and executor would append them."""
    job = str(number)
    nodes = [f"node-{n:04d}" for n in range(NODES_PER_JOB)]
    spec = TaskJob(
        environment="production",
        scope=JobScope(nodes=nodes),
        task="demo::echo",
        params={"message": "hi"},
    )
    requested = JobRequested(
        at=at,
        origin="api",
        seq=seq,
        request_id=f"request-{number}",
        owner="admin",
        spec=spec,
        nodes=nodes,
        targets=[Target("sim", {"sim": {"latency-ms": 0}}, nodes)],
    )
    dispatched: list[Event] = [JobReady(at=at, origin="scheduler", seq=seq, job=job)]
    dispatched += [
        NodeRunDispatched(at=at, origin="scheduler", seq=seq, job=job, node=n, attempt=1)
        for n in nodes
    ]
    started: list[Event] = [
        NodeRunStarted(at=at, origin="executor", seq=seq, job=job, node=n, attempt=1, executor="e")
        for n in nodes
    ]
    finished: list[Event] = [
        NodeRunFinished(
            at=at,
            origin="executor",
            seq=seq,
            job=job,
            node=n,
            attempt=1,
            state=NodeState.FINISHED,
            result={"_output": f"demo::echo ran on {n} (simulated)\n"},
            message=f"Finished task run on {n}",
        )
        for n in nodes
    ]
    done: list[Event] = [
        JobFinished(at=at, origin="scheduler", seq=seq, job=job, state=JobState.FINISHED)
    ]
    return [[requested], dispatched, started[:50], started[50:], finished[:50], finished[50:], done]


def _restamp(batch: list[Event], counters: dict[str, int]) -> list[Event]:
    out = []
    for event in batch:
        counters[event.origin] = counters.get(event.origin, 0) + 1
        out.append(msgspec.structs.replace(event, seq=counters[event.origin]))
    return out


def generate(path: Path, events: int) -> int:
    """Append through the file log itself (no fsync), so the log is in segments with their
    indexes, as `podium serve` writes it."""
    return asyncio.run(_generate(path, events))


async def _generate(path: Path, events: int) -> int:
    counters: dict[str, int] = {}
    written = 0
    number = 0
    at = time.time()
    log = await FileEventLog.open(path, fsync=False)
    try:
        while written < events:
            number += 1
            for batch in _job(number, 0, at):
                stamped = _restamp(batch, counters)
                await log.append(stamped)
                written += len(stamped)
    finally:
        await log.close()
    return written


async def _fold(path: Path) -> tuple[int, int]:
    log = await FileEventLog.open(path, fsync=False)
    projector = Projector(log)
    task = asyncio.get_running_loop().create_task(projector.run())
    await projector.caught_up.wait()
    await log.close()
    await task
    return projector.state.position, len(projector.state.jobs)


def fold(path: Path) -> dict[str, float]:
    base = _rss_mb()
    started = time.perf_counter()
    events, jobs = asyncio.run(_fold(path))
    seconds = time.perf_counter() - started
    return {
        "events": events,
        "jobs": jobs,
        "seconds": seconds,
        "rss_mb": _rss_mb(),
        "base_mb": base,
    }


def decode(path: Path) -> dict[str, float]:
    files = sorted(segments_dir(path).glob(f"*{SEGMENT_SUFFIX}"))
    datas = [file.read_bytes() for file in files]
    base = _rss_mb()
    started = time.perf_counter()
    count = 0
    for data in datas:
        starts, _ = _starts(data)
        view = memoryview(data)
        for start in starts:
            count += len(decode_batch(logformat.payload_at(view, start)))
    seconds = time.perf_counter() - started
    return {"events": count, "seconds": seconds, "rss_mb": _rss_mb(), "base_mb": base}


def _starts(data: bytes) -> tuple[list[int], int]:
    """Record offsets from the length prefixes alone (no checksums: decoding is the ceiling),
    after the segment's header."""
    starts, pos = [], logformat.SEGMENT_HEADER.size if data[:4] == logformat.SEGMENT_MAGIC else 0
    while pos < len(data):
        starts.append(pos)
        pos += _HEADER.size + _HEADER.unpack_from(data, pos)[1]
    return starts, pos


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    configure_logging("warning")  # stdout carries the result alone (no line per segment)
    command, path = sys.argv[1], Path(sys.argv[2])
    if command == "generate":
        result: dict[str, float] = {"events": generate(path, int(sys.argv[3]))}
        result["bytes"] = sum(f.stat().st_size for f in segments_dir(path).iterdir())
    elif command == "fold":
        result = fold(path)
    else:
        result = decode(path)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
