"""Figure 10's processes: `python -m benchmarks.history {project,restart} LOG DIR`.

`project` builds the projection of an embedded log in DIR (as `podium projection rebuild` does:
fold it all, ended jobs written to SQLite in the fold's batches) and prints the seconds, the
rate, the peak resident memory and the resident memory at the end. `restart` starts as an api
does with that projection present (open the log and the projection, take its checkpoint, fold
the tail) and prints the seconds to caught up and the memory. Peaks are given whole and with
the file log's open apart (`open_peak_mb`, then `after_open_peak_mb`: the peak from the end of
the open on). The logs come from `benchmarks.history_log`; `benchmarks.history_serve` serves
them with `podium serve`.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
from pathlib import Path

from benchmarks import rss
from podium.events.filelog import FileEventLog
from podium.events.projector import Projector
from podium.history.archive import Archive
from podium.history.rebuild import rebuild
from podium.history.store import PROJECTION_FILE
from podium.logs import configure_logging


async def _opened(log_path: Path) -> tuple[FileEventLog, float, float]:
    """The log, the seconds its open took and the peak up to then; the peak is reset after."""
    started = time.perf_counter()
    log = await FileEventLog.open(log_path, fsync=False)
    seconds = time.perf_counter() - started
    open_peak_mb = rss.peak_mb()
    rss.reset_peak()
    return log, seconds, open_peak_mb


def _cpu_s() -> float:
    """CPU seconds of this process, every thread, user and system."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _project(log_path: Path, directory: Path) -> dict[str, float]:
    cpu = _cpu_s()
    log, open_s, open_peak_mb = await _opened(log_path)
    try:
        done = await rebuild(log, directory / PROJECTION_FILE)
    finally:
        await log.close()
    seconds = done.seconds + open_s  # the rebuild's rate counts the log's open
    cpu_s = _cpu_s() - cpu  # on a busy machine, what the wall-clock rate hides
    return {
        "events": done.events,
        "jobs": done.jobs,
        "seconds": seconds,
        "events_per_s": done.events / seconds,
        "cpu_s": cpu_s,
        "events_per_cpu_s": done.events / cpu_s,
        "log_open_s": open_s,
        "peak_mb": max(open_peak_mb, rss.peak_mb()),
        "open_peak_mb": open_peak_mb,
        "after_open_peak_mb": rss.peak_mb(),
        "end_mb": rss.now_mb(),
        "db_mb": (directory / PROJECTION_FILE).stat().st_size / 1e6,
    }


async def _restart(log_path: Path, directory: Path) -> dict[str, float]:
    started = time.perf_counter()
    log, log_open_s, open_peak_mb = await _opened(log_path)
    archive, checkpoint = await Archive.open(directory / PROJECTION_FILE)
    assert checkpoint is not None, "no projection to restart from"
    projector = Projector(log, checkpoint.state, checkpoint.next_offset, checkpoint.chain, archive)
    archive.start(projector.state, projector.next_offset, projector.chain)
    task = asyncio.get_running_loop().create_task(projector.run())
    await projector.caught_up.wait()
    seconds = time.perf_counter() - started
    task.cancel()
    await asyncio.wait([task])
    await archive.close()
    await log.close()
    return {
        "seconds": seconds,
        "log_open_s": log_open_s,
        "folded": projector.folded,
        "events": projector.state.position,
        "peak_mb": max(open_peak_mb, rss.peak_mb()),
        "open_peak_mb": open_peak_mb,
        "after_open_peak_mb": rss.peak_mb(),
        "end_mb": rss.now_mb(),
    }


def main() -> None:
    command, log_path, directory = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    directory.mkdir(parents=True, exist_ok=True)
    configure_logging("warning")
    run = {"project": _project, "restart": _restart}[command]
    print(json.dumps(asyncio.run(run(log_path, directory))))


if __name__ == "__main__":
    main()
