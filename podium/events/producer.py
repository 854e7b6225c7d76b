"""The one way events reach the log: a producer that batches what its callers have ready.

Many coroutines call `emit`; one flusher appends everything that gathered since the last append
as one batch, so a busy process writes large batches and an idle one writes at once. Events are
stamped with this producer's `origin` and the next `seq` at flush time, in log order: the fold's
copy detection relies on a producer's seqs growing along the log. A batch whose append failed is
retried with the same stamps until `give_up_s` passes; while nothing of it has left the process
(the broker is known to be away), the events of callers that stopped waiting are dropped from it,
so that an api that answered 503 has indeed changed nothing. `max_batch` bounds the events
of one append; 1 turns batching off (one event per append: the benchmarks measure the gain).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Sequence
from typing import Final

import msgspec
import structlog

from podium.events.model import Event
from podium.events.ports import EventLog, LogUnavailable

log = structlog.get_logger(__name__)

_RETRY_FIRST_S: Final = 0.05
_RETRY_MAX_S: Final = 2.0


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
        self._pending: deque[tuple[Sequence[Event], asyncio.Future[list[Event]]]] = deque()
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="producer")

    async def emit(self, events: Sequence[Event]) -> list[Event]:
        """Return the stamped events once they are durable. Raises LogUnavailable. More events
        than `max_batch` go in several appends, in order."""
        if self._closing:
            raise LogUnavailable("the producer is closed")
        if not events:
            return []
        loop = asyncio.get_running_loop()
        size = self._max_batch
        parts: list[asyncio.Future[list[Event]]] = []
        for start in range(0, len(events), size):
            done: asyncio.Future[list[Event]] = loop.create_future()
            self._pending.append((events[start : start + size], done))
            parts.append(done)
        self._wakeup.set()
        if len(parts) == 1:
            return await parts[0]
        results = await asyncio.gather(*parts, return_exceptions=True)
        stamped: list[Event] = []
        for result in results:
            if isinstance(result, BaseException):
                raise result
            stamped += result
        return stamped

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
                await self._flush(self._take())
            if self._closing:
                return

    def _take(self) -> list[tuple[list[Event], asyncio.Future[list[Event]]]]:
        taken: list[tuple[list[Event], asyncio.Future[list[Event]]]] = []
        count = 0
        while self._pending and (not taken or count + len(self._pending[0][0]) <= self._max_batch):
            events, done = self._pending.popleft()
            stamped = [self._stamp(event) for event in events]
            count += len(stamped)
            taken.append((stamped, done))
        return taken

    def _stamp(self, event: Event) -> Event:
        self._seq += 1
        return msgspec.structs.replace(event, origin=self.origin, seq=self._seq)

    async def _flush(self, taken: list[tuple[list[Event], asyncio.Future[list[Event]]]]) -> None:
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

    async def _append_with_retries(
        self, taken: list[tuple[list[Event], asyncio.Future[list[Event]]]]
    ) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._give_up_s
        delay = _RETRY_FIRST_S
        sent = False
        while True:
            if not sent:  # nothing left yet: drop what nobody waits for any more
                taken = [entry for entry in taken if not entry[1].done()]
                if not taken:
                    return
            batch = [event for events, _ in taken for event in events]
            try:
                await self._log.append(batch)
                return
            except LogUnavailable as exc:
                sent = sent or exc.sent
                if loop.time() + delay > deadline or self._closing:
                    raise
                log.warning("append failed, retrying", events=len(batch), error=str(exc))
            await asyncio.sleep(delay)
            delay = min(delay * 2, _RETRY_MAX_S)


def _settle(
    taken: list[tuple[list[Event], asyncio.Future[list[Event]]]], error: BaseException | None
) -> None:
    for events, done in taken:
        if done.done():
            continue
        if error is None:
            done.set_result(events)
        else:
            done.set_exception(error)
