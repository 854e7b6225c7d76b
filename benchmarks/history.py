"""Figure 10's processes: `python -m benchmarks.history {project,restart,reads} LOG DIR`.

`project` builds the projection of an embedded log (as `podium projection rebuild` does: fold
it all, ended jobs written to SQLite in the fold's batches) and prints the seconds, the rate,
the peak resident memory and the resident memory at the end. `restart` starts as an api does
with that projection present (open it, take its checkpoint, fold the tail) and prints the
seconds to caught up and the memory. `reads` serves the api from that projection (real HTTP,
in process) and times reads of old jobs: GET /jobs/<id>, a page of GET /jobs far in, and
GET /jobs/<id>/events?start=N, as percentiles in milliseconds (it adds an admin token to the
log). The logs come from `benchmarks.cold_start generate`.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import sys
import time
from pathlib import Path

from podium.events.filelog import FileEventLog
from podium.events.projector import Projector
from podium.history.archive import Archive
from podium.history.rebuild import rebuild
from podium.history.store import PROJECTION_FILE
from podium.logs import configure_logging


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _now_mb() -> float:
    """Resident memory now (not the peak), from /proc."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


async def _project(log_path: Path, directory: Path) -> dict[str, float]:
    log = await FileEventLog.open(log_path, fsync=False)
    try:
        done = await rebuild(log, directory / PROJECTION_FILE)
    finally:
        await log.close()
    return {
        "events": done.events,
        "jobs": done.jobs,
        "seconds": done.seconds,
        "events_per_s": done.events / done.seconds,
        "peak_mb": _peak_mb(),
        "end_mb": _now_mb(),
        "db_mb": (directory / PROJECTION_FILE).stat().st_size / 1e6,
    }


async def _restart(log_path: Path, directory: Path) -> dict[str, float]:
    started = time.perf_counter()
    log = await FileEventLog.open(log_path, fsync=False)
    log_open_s = time.perf_counter() - started
    log_open_peak_mb = _peak_mb()
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
        "log_open_s": log_open_s,  # the file log reads and checks the whole file as it opens
        "log_open_peak_mb": log_open_peak_mb,
        "folded": projector.folded,
        "events": projector.state.position,
        "peak_mb": _peak_mb(),
        "end_mb": _now_mb(),
    }


async def _reads(log_path: Path, directory: Path) -> dict[str, float]:
    from aiohttp.test_utils import TestClient, TestServer

    from benchmarks.stats import percentile
    from podium.api.app import build_app
    from podium.api.settings import ApiSettings
    from podium.api.sources import InventoryHolder, SourceFiles
    from podium.environments import Environments
    from podium.events.producer import Producer
    from podium.settings import EXAMPLE
    from podium.tokens import ensure_admin_token

    log = await FileEventLog.open(log_path, fsync=False)
    archive, checkpoint = await Archive.open(directory / PROJECTION_FILE)
    assert checkpoint is not None, "no projection to read from"
    projector = Projector(log, checkpoint.state, checkpoint.next_offset, checkpoint.chain, archive)
    archive.start(projector.state, projector.next_offset, projector.chain)
    task = asyncio.get_running_loop().create_task(projector.run())
    await projector.caught_up.wait()
    producer = Producer(log, origin="bench-reads")
    producer.start()
    token_path = await ensure_admin_token(directory, projector, producer)
    assert token_path is not None
    sources = InventoryHolder.load(SourceFiles(EXAMPLE.inventory, EXAMPLE.node_groups))
    app = build_app(
        projector,
        producer,
        log,
        Environments(EXAMPLE.environments),
        sources,
        ApiSettings(public_url="https://podium.bench:8143"),
        archive=archive,
    )
    jobs = projector.state.job_count
    headers = {"X-Authentication": token_path.read_text().strip()}
    timings: dict[str, list[float]] = {"job": [], "page": [], "events": []}
    async with TestClient(TestServer(app)) as client:

        async def timed(kind: str, path: str) -> None:
            started = time.perf_counter()
            response = await client.get(f"/orchestrator/v1{path}", headers=headers)
            body = await response.json()
            timings[kind].append((time.perf_counter() - started) * 1000)
            assert response.status == 200, body

        for index in range(200):
            name = 1 + (index * 7919) % max(jobs // 2, 1)  # old jobs, spread out
            await timed("job", f"/jobs/{name}")
            await timed("page", f"/jobs?limit=50&offset={(index * 104_729) % max(jobs - 50, 1)}")
            start = (name - 1) * 303 + 150  # about the middle of the job's events in these logs
            await timed("events", f"/jobs/{name}/events?start={start}")
    await producer.close()
    task.cancel()
    await asyncio.wait([task])
    await archive.close()
    await log.close()
    result: dict[str, float] = {"jobs": jobs}
    for kind, values in timings.items():
        result[f"{kind}_p50_ms"] = percentile(values, 0.5)
        result[f"{kind}_p99_ms"] = percentile(values, 0.99)
    return result


def main() -> None:
    command, log_path, directory = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    directory.mkdir(parents=True, exist_ok=True)
    configure_logging("warning")
    run = {"project": _project, "restart": _restart, "reads": _reads}[command]
    print(json.dumps(asyncio.run(run(log_path, directory))))


if __name__ == "__main__":
    main()
