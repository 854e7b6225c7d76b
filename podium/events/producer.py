"""The one way events reach the log: a producer that batches what its callers have ready.

Many coroutines call `emit`; one flusher appends everything that gathered since the last append
as one batch, so a busy process writes large batches and an idle one writes at once. Events are
stamped with this producer's `origin` and the next `seq` at flush time, in log order: the fold's
copy detection relies on a producer's seqs growing along the log. A batch whose append failed is
retried with the same stamps until `give_up_s` passes. A caller may give a deadline
(`emit(..., timeout_s=)`): once it passes, the caller is told its events were not recorded, and
they are dropped, only if that is true, that is while none of them has left the process (an
append that failed and was rolled back, or a broker known to be away). Otherwise the caller
waits for the append under way and, if it fails having been sent (a confirm that never came),
for the retries: the events may be on the log already, and a retry that lands after the caller
was told "not recorded" would make that a lie. A batch given up on after being sent is
`Unconfirmed` (carrying its stamped events, so the caller can learn from the log whether they
landed); one whose callers were told "not recorded" is never sent again.
`max_batch` bounds the events of one append; 1 turns batching off (one event per append: the
benchmarks measure the gain).
"""

from __future__ import annotations

import asyncio
import functools
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import msgspec
import structlog

from podium.events.model import Event
from podium.events.ports import EventLog, LogUnavailable, Unconfirmed

log = structlog.get_logger(__name__)

_RETRY_FIRST_S: Final = 0.05
_RETRY_MAX_S: Final = 2.0


@dataclass(eq=False, slots=True)
class _Entry:
    """One caller's events on their way to the log."""

    events: Sequence[Event]
    done: asyncio.Future[list[Event]]
    timeout_s: float | None = None
    expired: bool = False  # its caller's deadline passed while it could not be withdrawn
    appending: bool = False  # part of the append under way
    sent: bool = False  # part of an append that may have landed: it can no longer be withdrawn
    error: str = ""  # why the last append of it failed

    def withdrawable(self) -> bool:
        return not (self.appending or self.sent or self.done.done())


class Producer:
    def __init__(
        self,
        event_log: EventLog,
        origin: str,
        *,
        max_batch: int = 5_000,  # events per append at most; 1 turns batching off
        give_up_s: float = 30.0,
    ) -> None:
        self._log = event_log
        self.origin = origin
        self._seq = 0
        self._max_batch = max_batch
        self._give_up_s = give_up_s
        self._pending: deque[_Entry] = deque()
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._failing = ""  # why the append being retried failed last

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="producer")

    async def emit(
        self, events: Sequence[Event], *, timeout_s: float | None = None, whole: bool = False
    ) -> list[Event]:
        """Return the stamped events once they are durable. Raises LogUnavailable: with `sent`
        False, they were not recorded and never will be; `Unconfirmed`, they may have been. More
        events than `max_batch` go in several appends, in order, unless `whole`: then in one,
        so that they land or not together. Past `timeout_s`, events that cannot have landed are
        withdrawn; the others are waited for."""
        if self._closing:
            raise LogUnavailable("the producer is closed", sent=False)
        if not events:
            return []
        loop = asyncio.get_running_loop()
        size = len(events) if whole else self._max_batch
        parts: list[_Entry] = []
        for start in range(0, len(events), size):
            entry = _Entry(events[start : start + size], loop.create_future(), timeout_s)
            self._pending.append(entry)
            parts.append(entry)
            if timeout_s is not None:
                timer = loop.call_later(timeout_s, self._expire, entry)
                entry.done.add_done_callback(functools.partial(_cancel, timer))
        self._wakeup.set()
        if len(parts) == 1:
            return await parts[0].done
        results = await asyncio.gather(*(part.done for part in parts), return_exceptions=True)
        stamped: list[Event] = []
        for result in results:
            if isinstance(result, BaseException):
                raise result
            stamped += result
        return stamped

    def _expire(self, entry: _Entry) -> None:
        """The caller's deadline: withdraw the events if they cannot have been recorded."""
        if entry.done.done():
            return
        if entry.withdrawable():
            error = entry.error or self._failing  # its own attempt's, or the one ahead of it
            why = f" ({error})" if error else ""
            entry.done.set_exception(
                LogUnavailable(f"not recorded within {entry.timeout_s:g} s{why}", sent=False)
            )
        else:
            entry.expired = True  # settled by the outcome of the append under way, or retries

    async def close(self) -> None:
        """Append what is pending, then stop."""
        self._closing = True
        self._wakeup.set()
        if self._task is not None:
            await self._task

    async def _run(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._pending:
                taken = self._take()
                if taken:
                    await self._flush(taken)
            if self._closing:
                return

    def _take(self) -> list[_Entry]:
        """Entries for one append, stamped; those withdrawn already are left out."""
        taken: list[_Entry] = []
        count = 0
        while self._pending and (
            not taken or count + len(self._pending[0].events) <= self._max_batch
        ):
            entry = self._pending.popleft()
            if entry.done.done():
                continue
            entry.events = [self._stamp(event) for event in entry.events]
            count += len(entry.events)
            taken.append(entry)
        return taken

    def _stamp(self, event: Event) -> Event:
        self._seq += 1
        return msgspec.structs.replace(event, origin=self.origin, seq=self._seq)

    async def _flush(self, taken: list[_Entry]) -> None:
        try:
            await self._append_with_retries(taken)
        except LogUnavailable as exc:
            _settle(taken, exc)
        except Exception as exc:  # e.g. an event that cannot be encoded: it fails alone
            if len(taken) == 1:
                log.error("events refused by the log", error=repr(exc))
                _settle(taken, exc)
            else:
                for entry in taken:
                    await self._flush([entry])
        else:
            _settle(taken, None)

    async def _append_with_retries(self, taken: list[_Entry]) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._give_up_s
        delay = _RETRY_FIRST_S
        while True:
            taken[:] = [entry for entry in taken if entry.sent or not entry.done.done()]
            if not taken:
                return
            batch = [event for entry in taken for event in entry.events]
            for entry in taken:
                entry.appending = True
            try:
                await self._log.append(batch)
                self._failing = ""
                return
            except LogUnavailable as exc:
                self._failing = str(exc)
                for entry in taken:
                    entry.sent, entry.error = entry.sent or exc.sent, str(exc)
                    if entry.expired and not entry.sent:  # its caller waited for this outcome
                        _settle([entry], exc)
                if loop.time() + delay > deadline or self._closing:
                    raise
                log.warning("append failed, retrying", events=len(batch), error=str(exc))
            finally:
                for entry in taken:
                    entry.appending = False
            await asyncio.sleep(delay)
            delay = min(delay * 2, _RETRY_MAX_S)


def _cancel(timer: asyncio.TimerHandle, _: object) -> None:
    timer.cancel()  # its entry was settled before its deadline


def _settle(taken: list[_Entry], error: BaseException | None) -> None:
    for entry in taken:
        if entry.done.done():
            continue
        if error is None:
            entry.done.set_result(list(entry.events))
        elif entry.sent:  # an attempt left the process: the events may be on the log
            entry.done.set_exception(Unconfirmed(str(error), entry.events))
        else:
            entry.done.set_exception(error)
