"""Append throughput of the embedded file log: `python -m benchmarks.log_append [--fsync]`.

Appends batches of small events one after another through `FileEventLog.append`
(what the producer does) and prints appends/s, events/s and the CPU the appends took (best of
`--rounds`) as JSON. Run it before and after a change to the file format on the same machine and
compare the ratio, never the raw figures. `PYTHONPATH=<an older checkout>` measures that one.
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


async def _appends(directory: Path, batches: int, size: int, fsync: bool) -> tuple[float, float]:
    """Wall seconds and CPU seconds (this process, all threads) of the appends."""
    log = await FileEventLog.open(directory / "events.log", fsync=fsync)
    prepared = [_batch(number, size) for number in range(batches)]
    started, cpu = time.perf_counter(), time.process_time()
    for batch in prepared:
        await log.append(batch)
    seconds, cpu_s = time.perf_counter() - started, time.process_time() - cpu
    await log.close()
    return seconds, cpu_s


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batches", type=int, default=2000)
    parser.add_argument("--size", type=int, default=100, help="events per batch")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--fsync", action="store_true")
    args = parser.parse_args()
    best = best_cpu = float("inf")
    for _ in range(args.rounds):
        with tempfile.TemporaryDirectory() as directory:
            seconds, cpu_s = asyncio.run(
                _appends(Path(directory), args.batches, args.size, args.fsync)
            )
            best, best_cpu = min(best, seconds), min(best_cpu, cpu_s)
    print(
        json.dumps(
            {
                "batches": args.batches,
                "events_per_batch": args.size,
                "fsync": args.fsync,
                "best_seconds": round(best, 4),
                "best_cpu_seconds": round(best_cpu, 4),
                "appends_per_s": round(args.batches / best),
                "events_per_s": round(args.batches * args.size / best),
            }
        )
    )


if __name__ == "__main__":
    main()
