"""Rebuilding a projection from the log: what `podium projection rebuild` runs, and what an api
does on its own when its projection is missing, of another schema, or damaged.

`rebuild` is generic over the log port: it folds from `start` (a snapshot of the live state and
the offset it covers) or from record 0, with the archive writing every job that ends on the way.
A log whose start was deleted (the embedded log's pruned segments, a stream's retention) is
rebuilt from the base snapshot the deletion kept (`podium.events.snapshots.start_of`): every job
not pruned either is in that state (live then) or was requested after it, so the fold meets its
whole life. Folding from an empty state at the first record kept would not do: job names, event
ids and the de-duplication of retried events all count from the log's real start.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from podium.events.crashpoints import crash_point
from podium.events.ports import EventLog, Record
from podium.events.projector import Projector
from podium.events.snapshots import Snapshot
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


async def rebuild(
    log: EventLog, path: Path, progress: Progress | None = None, start: Snapshot | None = None
) -> Rebuilt:
    """Build the projection at `path` afresh from `start` (None: record 0) to the log's end;
    return what it holds. Raises LogTruncated when the log no longer holds where it starts."""
    started = time.perf_counter()
    remove_projection(path)
    archive, _ = await Archive.open(path)
    if start is None:
        projector = Projector(log, archive=archive)
    else:
        projector = Projector(log, start.state, start.next_offset, start.chain, archive)
    archive.start(projector.state, projector.next_offset, projector.chain)
    total = (await log.head()).offset

    def tell(record: Record, _: State) -> None:
        crash_point("rebuild-folded")
        if progress is not None:
            progress(record.offset + 1, total)

    projector.add_listener(tell)
    task = asyncio.get_running_loop().create_task(projector.run(), name="rebuild")
    try:
        await _caught_up(projector, task)
        await archive.flushed()
    finally:
        task.cancel()
        await asyncio.wait([task])
        await archive.close()
    seconds = time.perf_counter() - started
    return Rebuilt(projector.state.position, projector.state.job_count, seconds)


async def _caught_up(projector: Projector, task: asyncio.Task[None]) -> None:
    """Return once the projector has folded the log; raise what stopped it first."""
    waiting = asyncio.get_running_loop().create_task(projector.caught_up.wait())
    done, _ = await asyncio.wait([waiting, task], return_when=asyncio.FIRST_COMPLETED)
    if waiting not in done:
        waiting.cancel()
        task.result()  # raises (a truncated log, say); a projector never ends otherwise
        raise RuntimeError("the projector stopped before it caught up")
