"""What an answer about the past costs: the log folded again from its start (`?as_of=`, `/usage`).

`python -m benchmarks.replay --jobs J --nodes N` writes a file log of J task jobs of N sim nodes
each (requested, ready, and per node dispatched, started, finished; batches of 100 events), then
times, in this one process, reading the whole log without folding it (the ceiling: reading and
decoding) and `replay` through its last event, with and without the usage observer, in wall
and CPU seconds (a busy machine inflates the first). Prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from datetime import date
from pathlib import Path

from podium.api.usage import Usage
from podium.events.filelog import FileEventLog
from podium.events.jobspec import TaskJob
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
from podium.events.replay import replay

BATCH = 100
AT = 1_741_000_000.0


def job_events(name: str, nodes: int) -> list[Event]:
    names = [f"n{i:05d}" for i in range(nodes)]
    spec = TaskJob(environment="production", task="mod::t")
    events: list[Event] = [
        JobRequested(
            at=AT, request_id=f"r{name}", owner="u", spec=spec, nodes=names,
            targets=[Target("sim", {}, names)],
        ),
        JobReady(at=AT, job=name),
    ]  # fmt: skip
    for node in names:
        events.append(NodeRunDispatched(at=AT, job=name, node=node, attempt=1))
        events.append(NodeRunStarted(at=AT, job=name, node=node, attempt=1, executor="e"))
        events.append(
            NodeRunFinished(
                at=AT + 1, job=name, node=node, attempt=1, state=NodeState.FINISHED,
                result={"_output": "ok"},
            )
        )  # fmt: skip
    events.append(JobFinished(at=AT + 2, job=name, state=JobState.FINISHED))
    return events


async def measure(jobs: int, nodes: int, directory: Path) -> dict[str, float | int]:
    log = await FileEventLog.open(directory / "events.log", fsync=False)
    events = [event for n in range(1, jobs + 1) for event in job_events(str(n), nodes)]
    for start in range(0, len(events), BATCH):
        await log.append(events[start : start + BATCH])
    end = (await log.head()).offset
    started, cpu = time.perf_counter(), time.process_time()
    async for record in log.subscribe(0):
        if record.offset >= end - 1:
            break
    read_s, read_cpu_s = time.perf_counter() - started, time.process_time() - cpu
    started, cpu = time.perf_counter(), time.process_time()
    state = await replay(log, len(events))
    replay_s, replay_cpu_s = time.perf_counter() - started, time.process_time() - cpu
    assert state.position == len(events)
    usage = Usage(date(2025, 1, 1), date(2026, 1, 1))
    started, cpu = time.perf_counter(), time.process_time()
    await replay(log, len(events), usage)
    usage_s, usage_cpu_s = time.perf_counter() - started, time.process_time() - cpu
    await log.close()
    return {
        "events": len(events),
        "read_s": round(read_s, 3),
        "replay_s": round(replay_s, 3),
        "replay_with_usage_s": round(usage_s, 3),
        "read_cpu_s": round(read_cpu_s, 3),
        "replay_cpu_s": round(replay_cpu_s, 3),
        "replay_with_usage_cpu_s": round(usage_cpu_s, 3),
        "replay_to_read_cpu": round(replay_cpu_s / read_cpu_s, 2),
        "events_per_cpu_s": round(len(events) / replay_cpu_s),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=100)
    parser.add_argument("--nodes", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        print(json.dumps(asyncio.run(measure(args.jobs, args.nodes, Path(directory)))))


if __name__ == "__main__":
    main()
