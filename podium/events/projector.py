"""The projector: follows the log from an offset and folds each record into one `State`.

It is the only writer of that state in a process. Readers wait on it: `wait_applied` gives the
api read-your-writes (an event it appended is folded before it answers), `wait_change` wakes the
scheduler, and listeners see each folded record (event streams).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections import deque
from collections.abc import Callable
from typing import Final, Protocol

from podium.events.fold import fold
from podium.events.model import Event
from podium.events.ports import EventLog, Head, Record
from podium.events.signal import Signal
from podium.events.state import State

Listener = Callable[[Record, State], None]
_GAPS_KEPT: Final = 1024  # per watched producer: one per batch of it given up on and lost


class ArchiveHook(Protocol):
    """Where ended jobs go (`podium.history.archive.Archive`): it sees each record after the
    listeners, and may hold the fold back while it writes."""

    def on_record(self, record: Record, state: State) -> None: ...

    @property
    def behind(self) -> bool: ...

    async def drained(self) -> None: ...


class Projector:
    def __init__(
        self,
        event_log: EventLog,
        state: State | None = None,
        from_offset: int = 0,
        chain: bytes = b"",
        archive: ArchiveHook | None = None,
    ):
        self.state = State() if state is None else state
        self.archive = archive
        self.folded = 0  # events folded by this projector (copies included)
        self.next_offset = from_offset
        self.chain = chain  # the chain hash of record next_offset - 1, where the log keeps one
        self.version = 0  # records folded by this projector
        self.caught_up = asyncio.Event()
        self._log = event_log
        self._changed = Signal()
        self._listeners: list[Listener] = []
        self._heads: list[tuple[Head, asyncio.Future[None]]] = []
        # The markers folded while a `sync` is under way: a marker may be delivered and folded
        # before the confirm of its publish lets `sync` ask for it (RabbitMQ orders neither
        # first), so every one is kept until no sync waits.
        self._syncs = 0
        self._markers: set[str] = set()
        # origin -> (first seq, last seq) of events a watched producer stamped that were never
        # folded here: a batch given up on that did not land, seen when a later one of it did
        self._gaps: dict[str, deque[tuple[int, int]]] = {}
        # origin -> (seq, ticket, waiter) heaps of wait_applied; tickets break ties in order
        self._applied_waiters: dict[str, list[tuple[int, int, asyncio.Future[None]]]] = {}
        self._tickets = itertools.count()

    def watch(self, origin: str) -> None:
        """Note from now on the events of this producer that are never folded (`landed`)."""
        self._gaps.setdefault(origin, deque(maxlen=_GAPS_KEPT))

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        self._listeners.remove(listener)

    async def run(self) -> None:
        """Fold until the log closes. A fold error is a bug, and it stops the projector."""
        catching_up = asyncio.get_running_loop().create_task(self.sync())
        catching_up.add_done_callback(self._on_caught_up)
        try:
            async for record in self._log.subscribe(self.next_offset):
                self.apply(record)
                if self.archive is not None and self.archive.behind:
                    await self.archive.drained()
        finally:
            catching_up.cancel()

    def _on_caught_up(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is None:
            self.caught_up.set()

    async def sync(self) -> None:
        """Return once everything appended before this call has been folded here.
        Raises LogUnavailable."""
        self._syncs += 1
        try:
            head = await self._log.head()
            if head.marker:
                if head.marker in self._markers:  # folded already, before its confirm came back
                    return
            elif self.next_offset >= head.offset:
                return
            reached = asyncio.get_running_loop().create_future()
            self._heads.append((head, reached))
            await reached
        finally:
            self._syncs -= 1
            if not self._syncs:
                self._markers.clear()

    def apply(self, record: Record) -> None:
        state = self.state
        if self._gaps and record.events:
            self._note_gap(record.events[0])
        for event in record.events:
            fold(state, event)
        self.next_offset = record.offset + 1
        self.chain = record.chain
        self.version += 1
        self.folded += len(record.events)
        for listener in self._listeners:
            listener(record, state)
        if self.archive is not None:
            self.archive.on_record(record, state)
        if record.marker and self._syncs:
            self._markers.add(record.marker)
        if self._heads:
            self._resolve_heads(record)
        if self._applied_waiters:
            self._resolve_applied()
        self._changed.notify()

    def _note_gap(self, first: Event) -> None:
        """Before a record is folded: a record is one producer's events, seqs rising, so one
        look at its first tells whether events of a watched producer were skipped."""
        gaps = self._gaps.get(first.origin)
        mark = self.state.marks.get(first.origin, 0)
        if gaps is not None and first.seq > mark + 1:
            gaps.append((mark + 1, first.seq - 1))

    def _resolve_heads(self, record: Record) -> None:
        waiting = []
        for head, reached in self._heads:
            if not head.reached_by(record):
                waiting.append((head, reached))
            elif not reached.done():
                reached.set_result(None)
        self._heads = waiting

    def applied(self, event: Event) -> bool:
        """Whether the log has been folded past `event`, as stamped by a producer whose appends
        were all confirmed (it was then folded, or was a copy)."""
        return self.state.marks.get(event.origin, 0) >= event.seq

    def landed(self, event: Event) -> bool:
        """Whether `event`, of a watched producer, was folded here: for an event whose append
        may have been lost, since a later event of its producer moves the mark past it either
        way (and a copy of it coming after that is dropped by the fold). Final once the mark
        has passed it: a `ProducerFenced` of its producer folded, say."""
        if not self.applied(event):
            return False
        gaps = self._gaps.get(event.origin, ())
        return not any(first <= event.seq <= last for first, last in gaps)

    async def wait_applied(self, event: Event) -> None:
        """Return once `event` (as stamped by the producer) has been folded. Each waiter is
        woken once, when its own event is folded: an api with many commands in flight would
        otherwise wake every one of them for every record folded."""
        if self.applied(event):
            return
        waiter = asyncio.get_running_loop().create_future()
        entry = (event.seq, next(self._tickets), waiter)
        heap = self._applied_waiters.setdefault(event.origin, [])
        heapq.heappush(heap, entry)
        try:
            await waiter
        except asyncio.CancelledError:
            if entry in heap:  # its caller gave up (a timeout, a shutdown): it leaves now
                heap.remove(entry)
                heapq.heapify(heap)
            raise

    def _resolve_applied(self) -> None:
        marks = self.state.marks
        for origin, heap in list(self._applied_waiters.items()):
            mark = marks.get(origin, 0)
            while heap and heap[0][0] <= mark:
                waiter = heapq.heappop(heap)[2]
                if not waiter.done():
                    waiter.set_result(None)
            if not heap:
                del self._applied_waiters[origin]

    async def wait_change(self, since_version: int) -> None:
        """Return once a record has been folded after `since_version`."""
        while self.version <= since_version:
            await self._changed.wait()
