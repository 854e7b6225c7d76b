"""Deleting the embedded log's old segments, in the process that owns the log (`podium serve`),
once pruning and snapshots allow it. What may go is decided by `podium.events.retention` from
facts gathered here: the jobs and plan jobs still held (in memory, waiting to be written, in the
projection), the projection's checkpoint and the snapshot file's offset, the log's segments and
base snapshots. It runs after the fold applies a `JobsPruned`, and every `every_s` besides.

Order, for crash safety: a base snapshot is written and fsynced when it is saved, long before
it can be chosen; the projection's checkpoint is committed; segments are deleted oldest first,
then the bases older than the first segment left, then the directory is fsynced. A crash
anywhere in between leaves a log that starts at some segment at or before the new start, with
every base from there on: it opens, and a rebuild starts from its oldest base.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Final

import structlog

from podium.events.filelog import FileEventLog
from podium.events.model import JobsPruned
from podium.events.ports import Record
from podium.events.projector import Projector
from podium.events.retention import Retained, deletion
from podium.events.snapshots import FileSnapshots
from podium.events.state import State
from podium.history.archive import Archive

log = structlog.get_logger(__name__)

PRUNE_EVERY_S: Final = 60.0


class SegmentPruner:
    """Owns the loop that deletes segments; `prune` does one round."""

    def __init__(
        self,
        event_log: FileEventLog,
        archive: Archive,
        projector: Projector,
        snapshots: FileSnapshots,
        every_s: float = PRUNE_EVERY_S,
    ) -> None:
        self._log = event_log
        self._archive = archive
        self._projector = projector
        self._snapshots = snapshots
        self._every_s = every_s
        self._due = asyncio.Event()
        projector.add_listener(self._on_record)

    def _on_record(self, record: Record, _: State) -> None:
        if any(isinstance(event, JobsPruned) for event in record.events):
            self._due.set()

    async def run(self) -> None:
        """Prune after each `JobsPruned` and every `every_s`, until cancelled."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._due.wait(), self._every_s)
            self._due.clear()
            try:
                await self.prune()
            except OSError as exc:  # a segment that would not go: the next round tries again
                log.error("log segments not deleted", path=str(self._log.directory), error=str(exc))

    async def prune(self) -> list[int]:
        """Delete what may go now; the first offsets of the segments deleted. Raises OSError,
        ArchiveFailed."""
        if len(self._log.segments()) < 2:
            return []  # only the last segment, which never goes
        await self._archive.checkpoint_now()  # a restart from here on needs no older record
        retained = await self.retained()
        if retained is None:
            return []
        decided = deletion(self._log.segments(), self._log.bases(), retained)
        if decided is None:
            return []
        return await self._log.delete_before(decided.start)

    async def retained(self) -> Retained | None:
        """What must stay, or None while there is no checkpoint or snapshot to restart from."""
        state = self._projector.state
        # Memory first: a job written to the projection meanwhile is found there next.
        jobs = [int(name) for name in (*state.jobs, *self._archive.pending)]
        plans = [int(name) for name in (*state.plan_jobs, *self._archive.pending_plans)]
        store = self._archive.store
        loop = asyncio.get_running_loop()
        first_job, first_plan = await loop.run_in_executor(
            store.readers, store.first_kept, state.pruned_before
        )
        _, checkpoint = await loop.run_in_executor(store.readers, store.applied)
        snapshot = self._snapshots.offset
        if checkpoint is None or snapshot is None:
            return None
        jobs += [first_job] if first_job is not None else []
        plans += [first_plan] if first_plan is not None else []
        return Retained(
            min(jobs, default=None), min(plans, default=None), min(checkpoint, snapshot)
        )
