"""The archive: moves the jobs the fold has ended out of the folded state into the store, in the
fold's batches, and checkpoints the live state so that a restart folds only the log's tail.

The projector hands it each record after folding it and running its listeners. A job its
`JobFinished` ended leaves `State.jobs` for `pending` (reads find it there) and is queued; one
task writes what is queued as one transaction on the store's writer thread, and lets go of the
pending jobs that transaction wrote. Whatever is folded meanwhile goes into the next one.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Final

import structlog

from podium.events.fold import is_pruned
from podium.events.model import JOB_TERMINAL, JobFinished, JobsPruned, PlanFinished, PlanResumed
from podium.events.planfold import is_plan_pruned
from podium.events.ports import Record
from podium.events.state import PLAN_TERMINAL, Job, PlanJob, State
from podium.history.store import Checkpoint, HistoryStore, Write, encode_checkpoint

log = structlog.get_logger(__name__)

RETRY_S: Final = 1.0  # a write that failed (a full disk) is tried again this often
CHECKPOINT_EVENTS: Final = 50_000  # folded events between two checkpoints of the live state
MAX_PENDING_ROWS: Final = 200_000  # node runs and job events queued before the fold waits


class ArchiveFailed(RuntimeError):
    """Raised to the projector when the store could not be written: folding on would hold
    every ended job in memory."""


class Archive:
    """Open with `await Archive.open(path)`, `start` it with the state the projector starts
    from, and `close` it once the projector has stopped."""

    def __init__(self, store: HistoryStore, checkpoint_events: int = CHECKPOINT_EVENTS) -> None:
        self.store = store
        self.pending: dict[str, Job] = {}  # ended, not yet written
        self.pending_plans: dict[str, PlanJob] = {}  # the same, of plan jobs
        self._held: dict[str, list[str]] = {}  # plan job -> its ended jobs, kept for its steps
        self._checkpoint_events = checkpoint_events
        self._queued: Write | None = None
        self._rows = 0  # node runs and events queued or being written
        self._room = asyncio.Event()
        self._room.set()
        self._wake = asyncio.Event()
        self._settled = asyncio.Event()  # nothing queued, nothing being written
        self._settled.set()
        self._state = State()
        self._next_offset = 0
        self._chain = b""  # of record _next_offset - 1
        self._checkpointed_at = 0  # state.position of the last checkpoint
        self._task: asyncio.Task[None] | None = None
        self._failure: BaseException | None = None

    @classmethod
    async def open(
        cls, path: Path, checkpoint_events: int = CHECKPOINT_EVENTS
    ) -> tuple[Archive, Checkpoint | None]:
        store, checkpoint = await asyncio.to_thread(HistoryStore.open, path)
        return cls(store, checkpoint_events), checkpoint

    def start(self, state: State, next_offset: int, chain: bytes = b"") -> None:
        """Begin from the state the projector starts with; ended jobs it holds (a snapshot
        taken by a process without an archive) are archived at once."""
        self._task = asyncio.get_running_loop().create_task(self._run(), name="archive")
        self.begin_again(state, next_offset, chain)

    def begin_again(self, state: State, next_offset: int, chain: bytes = b"") -> None:
        """Begin from another state, nothing having been folded since the last beginning (the
        log had dropped where that one was to be folded from). What that one archived stays:
        writing a job again replaces it."""
        self._state, self._next_offset, self._chain = state, next_offset, chain
        self._checkpointed_at = state.position
        for name in [name for name, job in state.jobs.items() if job.state in JOB_TERMINAL]:
            self._archive(state, name)
        ended = [name for name, plan in state.plan_jobs.items() if plan.state in PLAN_TERMINAL]
        for name in ended:
            self._archive_plan(state, name)
        self._kick()

    def on_record(self, record: Record, state: State) -> None:
        self._state, self._next_offset, self._chain = state, record.offset + 1, record.chain
        for event in record.events:
            if isinstance(event, JobFinished):
                self._archive(state, event.job)
            elif isinstance(event, PlanFinished):
                self._archive_plan(state, event.plan_job)
            elif isinstance(event, PlanResumed) and event.plan_job in state.plan_jobs:
                self.pending_plans.pop(event.plan_job, None)  # live again: memory has it
            elif isinstance(event, JobsPruned):
                self._prune(state.pruned_before)
        if self._held:
            self._release(state)
        if state.position - self._checkpointed_at >= self._checkpoint_events:
            self._checkpoint()
        self._kick()

    def _kick(self) -> None:
        """Have what is queued written."""
        if self._queued is not None:
            self._queued.next_offset = self._next_offset
            self._settled.clear()
            self._wake.set()

    @property
    def behind(self) -> bool:
        return not self._room.is_set()

    async def drained(self) -> None:
        """Return once the store has room again. Raises ArchiveFailed."""
        await self._room.wait()
        if self._failure is not None:
            raise ArchiveFailed(f"the projection could not be written: {self._failure!r}")

    async def flushed(self) -> None:
        """Return once everything folded so far that the store keeps is written. Raises
        ArchiveFailed."""
        await self._settled.wait()
        if self._failure is not None:
            raise ArchiveFailed(f"the projection could not be written: {self._failure!r}")

    async def close(self, *, checkpoint: bool = True) -> None:
        """Write what is queued with a checkpoint of the state now (unless not `checkpoint`:
        nothing more is written), then let go of the store."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait([self._task])
        try:
            if self._failure is None and checkpoint:
                self._checkpoint()
                write = self._take()
                if write is not None:
                    await asyncio.get_running_loop().run_in_executor(
                        self.store.writer, self.store.write, write
                    )
        finally:
            await asyncio.to_thread(self.store.close)

    async def abandon(self) -> None:
        """Let go of the store without writing what is queued, as a killed process would."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait([self._task])
        await asyncio.to_thread(self.store.close)

    def _queue(self) -> Write:
        if self._queued is None:
            self._queued = Write(self._next_offset)
        return self._queued

    def _archive(self, state: State, name: str) -> None:
        job = state.jobs.get(name)
        if job is None or job.state not in JOB_TERMINAL:
            return
        plan = job.spec.origin.plan_job
        if plan is not None and plan in state.active_plans:
            self._held.setdefault(plan, []).append(name)  # its next step reads the results
            return
        del state.jobs[name]
        self.pending[name] = job
        self._queue().jobs.append(job)
        self._rows += len(job.nodes) + len(job.events)
        if self._rows > MAX_PENDING_ROWS:
            self._room.clear()

    def _archive_plan(self, state: State, name: str) -> None:
        plan = state.plan_jobs.get(name)
        if plan is None or plan.state not in PLAN_TERMINAL:
            return
        del state.plan_jobs[name]
        self.pending_plans[name] = plan
        self._queue().plans.append(plan)
        self._rows += len(plan.events)

    def _release(self, state: State) -> None:
        """The jobs of plan jobs that have ended go the way of every ended job."""
        for plan in [plan for plan in self._held if plan not in state.active_plans]:
            for name in self._held.pop(plan):
                self._archive(state, name)

    def _prune(self, before: float) -> None:
        for name in [name for name, job in self.pending.items() if is_pruned(job, before)]:
            del self.pending[name]
        plans = self.pending_plans
        for name in [name for name, plan in plans.items() if is_plan_pruned(plan, before)]:
            del plans[name]
        write = self._queue()
        kept = [job for job in write.jobs if not is_pruned(job, before)]
        for job in write.jobs:
            if is_pruned(job, before):
                self._rows -= len(job.nodes) + len(job.events)
        write.jobs = kept
        for plan in write.plans:
            if is_plan_pruned(plan, before):
                self._rows -= len(plan.events)
        write.plans = [plan for plan in write.plans if not is_plan_pruned(plan, before)]
        write.pruned_before = before

    async def checkpoint_now(self) -> int:
        """Write a checkpoint of the state now, with everything queued; return the offset it
        covers once it is committed. Raises ArchiveFailed."""
        self._checkpoint()
        offset = self._next_offset
        self._kick()
        await self.flushed()
        return offset

    def _checkpoint(self) -> None:
        state = self._state
        self._queue().checkpoint = (encode_checkpoint(state), self._next_offset, self._chain)
        self._checkpointed_at = state.position

    def _take(self) -> Write | None:
        write, self._queued = self._queued, None
        if write is not None:
            write.next_offset = self._next_offset
        return write

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            self._wake.clear()
            while (write := self._take()) is not None:
                try:
                    await loop.run_in_executor(self.store.writer, self.store.write, write)
                except sqlite3.OperationalError as exc:  # a full disk, say: it may pass
                    log.warning(
                        "projection not written; retrying in a second",
                        path=str(self.store.path),
                        error=str(exc),
                    )
                    self._queued = _joined(write, self._queued)  # nothing of it was applied
                    await asyncio.sleep(RETRY_S)
                    continue
                except Exception as exc:
                    log.error("projection not written", path=str(self.store.path), error=repr(exc))
                    self._failure = exc
                    self._room.set()  # who waits on it raises ArchiveFailed
                    self._settled.set()
                    raise
                for job in write.jobs:
                    if self.pending.get(job.name) is job:
                        del self.pending[job.name]
                    self._rows -= len(job.nodes) + len(job.events)
                for plan in write.plans:
                    if self.pending_plans.get(plan.name) is plan:
                        del self.pending_plans[plan.name]
                    self._rows -= len(plan.events)
                if self._rows <= MAX_PENDING_ROWS:
                    self._room.set()
            self._settled.set()


def _joined(first: Write, then: Write | None) -> Write:
    """One write doing what `first` and then `then` do."""
    if then is None:
        return first
    pruned = [p for p in (first.pruned_before, then.pruned_before) if p is not None]
    return Write(
        then.next_offset,
        first.jobs + then.jobs,
        max(pruned) if pruned else None,
        then.checkpoint or first.checkpoint,
        first.plans + then.plans,
    )
