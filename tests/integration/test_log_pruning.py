"""Pruning deletes the embedded log's old segments, and what is left still restarts and
rebuilds: a real engine with small segments, jobs pruned by a `JobsPruned`, the projection
removed and built again from the base snapshot the deletion kept."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from contextlib import AbstractAsyncContextManager
from dataclasses import replace
from pathlib import Path
from typing import Any, Final

from podium.engine import Engine
from podium.events.crashpoints import CRASH_VARIABLE
from podium.events.filelog import FileEventLog
from podium.events.model import JobsPruned
from podium.events.segments import SEGMENT_SUFFIX, segment_name, segments_dir
from podium.history.rebuild import remove_projection
from podium.history.store import PROJECTION_FILE
from podium.jsontypes import Json
from tests.conftest import Api, serving, settings_for
from tests.conftest import running as engine_running

SEGMENT_BYTES: Final = 6_000
OVERRIDES: Final[dict[str, Any]] = {
    "log_segment_bytes": SEGMENT_BYTES,
    "snapshot_interval_s": 0.1,
    "snapshot_min_events": 1,
    "public_url": "https://podium.test:8143",  # answers name one host whatever the port
}
NODES: Final = ["n-01", "n-02", "n-03"]


def running(data: Path) -> AbstractAsyncContextManager[tuple[Engine, Api]]:
    """An engine with small segments and frequent snapshots, and a client for its api."""
    return engine_running(data, **OVERRIDES)


async def rebuild_process(data: Path, crash_at: str = "") -> tuple[int, str, str]:
    """`podium projection rebuild` of a data dir (dying at a crash point if one is named):
    its exit code, stdout and stderr."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "podium.cli", "projection", "rebuild", "--data-dir", str(data)),
        env={**os.environ, CRASH_VARIABLE: crash_at} if crash_at else None,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def file_log(engine: Engine) -> FileEventLog:
    log = engine.adapters.file_log
    assert log is not None
    return log


def log_bytes(data: Path) -> int:
    return sum(
        f.stat().st_size for f in segments_dir(data / "events.log").glob(f"*{SEGMENT_SUFFIX}")
    )


async def answers(api: Api, names: list[str]) -> list[Json]:
    return [[await api.ok(f"/jobs/{name}"), await api.ok(f"/jobs/{name}/events")] for name in names]


async def eventually(check: Any, what: str, timeout_s: float = 30.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not check():
            await asyncio.sleep(0.05)
    assert check(), what


async def pruned_history(data: Path) -> tuple[list[str], list[str], list[Json]]:
    """Old jobs, then new ones after a base snapshot was kept; the old ones pruned and the
    segments before the base deleted. Returns both lists of names and the new jobs' answers."""
    async with running(data) as (engine, api):
        log = file_log(engine)
        old = [await api.run_task(NODES) for _ in range(8)]
        for name in old:
            await api.wait_job(name)
        await eventually(
            lambda: any(base.job_count <= 8 for base in log.bases()), "a base after the old jobs"
        )
        cut = time.time()
        new = [await api.run_task(NODES) for _ in range(3)]
        for name in new:
            await api.wait_job(name)
        kept = await answers(api, new)
        before = log_bytes(data)
        files = {first: log.directory / segment_name(first) for first, _ in log.segments()}
        await log.append([JobsPruned(at=time.time(), origin="retention-test", seq=1, before=cut)])
        await eventually(lambda: log.first_offset > 0, "old segments deleted")
        gone = {first for first, path in files.items() if not path.exists()}
        assert gone == {first for first in files if first < log.first_offset}
        for name in old:
            status, _ = await api.get(f"/jobs/{name}")
            assert status == 404
        assert await answers(api, new) == kept
        assert log_bytes(data) < before
    return old, new, kept


async def test_pruning_deletes_old_segments_and_a_restart_serves_what_is_kept(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    old, new, kept = await pruned_history(data)
    async with running(data) as (engine, api):
        assert file_log(engine).first_offset > 0
        assert await answers(api, new) == kept
        assert await api.run_task(["n-01"]) == str(len(old) + len(new) + 1)  # names go on


async def test_a_projection_lost_after_pruning_is_rebuilt_from_the_base_kept(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    old, new, kept = await pruned_history(data)
    remove_projection(data / PROJECTION_FILE)
    async with running(data) as (engine, api):
        assert engine.projector.folded < engine.projector.state.position  # not from record 0
        assert await answers(api, new) == kept
        for name in old:
            status, _ = await api.get(f"/jobs/{name}")
            assert status == 404
        later = await api.run_task(["n-01"])
        assert later == str(len(old) + len(new) + 1)
        await api.wait_job(later)


async def test_podium_projection_rebuild_works_on_a_pruned_log(tmp_path: Path) -> None:
    data = tmp_path / "data"
    _, new, kept = await pruned_history(data)
    code, out, err = await rebuild_process(data)
    assert code == 0, err
    assert ", 11 jobs in " in out  # jobs named so far, pruned ones included
    async with running(data) as (_, api):
        assert await answers(api, new) == kept


async def test_the_schedulers_own_pruning_deletes_segments(tmp_path: Path) -> None:
    """Retention of one second, pruned every 0.2 s by the scheduler: the segments holding the
    ended jobs go without anyone appending `JobsPruned` by hand."""
    data = tmp_path / "data"
    settings = settings_for(data, job_retention_days=1 / 86_400, **OVERRIDES)
    settings = replace(settings, scheduler=replace(settings.scheduler, prune_every_s=0.2))
    engine = await Engine.start(settings)
    try:
        async with serving(engine) as api:
            for _ in range(10):
                await api.wait_job(await api.run_task(NODES))
            log = file_log(engine)
            await eventually(lambda: log.first_offset > 0, "segments deleted by retention", 60)
            status, _ = await api.get("/jobs/1")
            assert status == 404
            assert await api.run_task(["n-01"]) == "11"
    finally:
        await engine.close()
