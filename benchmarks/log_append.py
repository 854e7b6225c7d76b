"""Append throughput of the embedded file log: `python -m benchmarks.log_append [--fsync]`.

Appends batches of NodeRunFinished-sized events one after another through `FileEventLog.append`
(what the producer does) and prints appends/s and events/s as JSON. Run it before and after a
change to the file format on the same machine and compare the ratio, never the raw figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path

from podium.events.filelog import FileEventLog
from podium.events.model import Event, JobReady


def _batch(number: int, size: int) -> list[Event]:
    return [
        JobReady(at=1.0, job=f"{number}-{index}", origin="bench", seq=number * size + index)
        for index in range(size)
    ]


async def _appends(directory: Path, batches: int, size: int, fsync: bool) -> float:
    log = await FileEventLog.open(directory / "events.log", fsync=fsync)
    prepared = [_batch(number, size) for number in range(batches)]
    started = time.perf_counter()
    for batch in prepared:
        await log.append(batch)
    seconds = time.perf_counter() - started
    await log.close()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batches", type=int, default=2000)
    parser.add_argument("--size", type=int, default=100, help="events per batch")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--fsync", action="store_true")
    args = parser.parse_args()
    best = float("inf")
    for _ in range(args.rounds):
        with tempfile.TemporaryDirectory() as directory:
            best = min(
                best, asyncio.run(_appends(Path(directory), args.batches, args.size, args.fsync))
            )
    print(
        json.dumps(
            {
                "batches": args.batches,
                "events_per_batch": args.size,
                "fsync": args.fsync,
                "best_seconds": round(best, 4),
                "appends_per_s": round(args.batches / best),
                "events_per_s": round(args.batches * args.size / best),
            }
        )
    )


if __name__ == "__main__":
    main()
