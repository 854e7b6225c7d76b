"""Rebuilding a projection from the log: what `podium projection rebuild` runs, and what an api
does on its own when its projection is missing, of another schema, or damaged."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from podium.events.ports import EventLog, Record
from podium.events.projector import Projector
from podium.events.state import State
from podium.history.archive import Archive

Progress = Callable[[int, int], None]  # records folded, records in the log


@dataclass(frozen=True, slots=True)
class Rebuilt:
    events: int
    jobs: int
    seconds: float


def remove_projection(path: Path) -> None:
    """The projection and its WAL files: the next start builds it again."""
    for name in (path.name, f"{path.name}-wal", f"{path.name}-shm"):
        (path.parent / name).unlink(missing_ok=True)


async def rebuild(log: EventLog, path: Path, progress: Progress | None = None) -> Rebuilt:
    """Build the projection at `path` afresh from the whole log; return what it holds."""
    started = time.perf_counter()
    remove_projection(path)
    archive, _ = await Archive.open(path)
    projector = Projector(log, archive=archive)
    archive.start(projector.state, projector.next_offset)
    if progress is not None:
        total = (await log.head()).offset

        def tell(record: Record, _: State) -> None:
            progress(record.offset + 1, total)

        projector.add_listener(tell)
    task = asyncio.get_running_loop().create_task(projector.run(), name="rebuild")
    try:
        await projector.caught_up.wait()
        await archive.flushed()
    finally:
        task.cancel()
        await asyncio.wait([task])
        await archive.close()
    seconds = time.perf_counter() - started
    return Rebuilt(projector.state.position, projector.state.job_count, seconds)
