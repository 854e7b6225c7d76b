"""Recording what a request decided: append its events, wait until this process has folded
them, so the answer can name what they made and a read right after sees it.

A 503 means the command was not recorded and never will be, so it is given only before the
events are on the log: when the producer could not record them within `--submit-timeout-s`,
or, without trying, when this api has fallen further behind its own commands than that (they
are on the log and not yet folded here), which is how an api refuses more work than it can
fold instead of letting every answer grow late. Once recorded, a command will run, and its
answer waits for this api's fold however long that takes: a 503 then would be a lie.

Between the two lies doubt: events sent to a broker whose confirm never came, and that the
producer gave up retrying, may be on the log or not. The answer then waits until this api has
appended and folded a `ProducerFenced` of its producer (again until the log takes one): from
then on a copy of the doubted events that lands late is dropped by every fold, whatever
connection it took, so whether they were folded before the fence is final. If they were, the
answer is the command's; if not, the 503 is true. One fence at a time settles every doubt
there was before it, and doubts count as being behind: an api whose log is away refuses new
commands before sending them.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from typing import Final

import structlog
from aiohttp import web

from podium.api.errors import Unavailable
from podium.api.keys import PRODUCER, PROJECTOR, SETTINGS, UNFOLDED, Clock
from podium.events.model import Event, ProducerFenced
from podium.events.ports import LogUnavailable, PortError, Unconfirmed
from podium.events.producer import Producer
from podium.events.projector import Projector

log = structlog.get_logger(__name__)


class Unfolded:
    """This api's commands not yet known to be folded here: those on the log and not yet
    folded, oldest first, and those in doubt; each with when it was recorded or given up on
    (loop time). It watches its producer's gaps (`Projector.landed`)."""

    def __init__(self, projector: Projector, producer: Producer, clock: Clock) -> None:
        self._projector, self._producer, self._clock = projector, producer, clock
        self._waiting: deque[tuple[float, Event]] = deque()
        self._doubts: list[tuple[float, Event, asyncio.Future[bool]]] = []
        self._settling: asyncio.Task[None] | None = None
        projector.watch(producer.origin)

    def add(self, event: Event, recorded_at: float) -> None:
        self._waiting.append((recorded_at, event))

    def oldest(self) -> float | None:
        """When the oldest command not yet known to be folded was recorded, or None."""
        waiting = self._waiting
        while waiting and self._projector.applied(waiting[0][1]):
            waiting.popleft()
        times = [at for at, _, future in self._doubts if not future.done()]
        if waiting:
            times.append(waiting[0][0])
        return min(times, default=None)

    async def landed(self, last: Event, since: float) -> bool:
        """Whether events the producer gave up on (ending with `last`) are on the log."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bool] = loop.create_future()
        self._doubts.append((since, last, future))
        if self._settling is None or self._settling.done():
            self._settling = loop.create_task(self._settle(), name="doubts")
        return await future

    async def _settle(self) -> None:
        """Fence the producer and fold the fence: then every doubt there was before it is
        settled for good, since a copy of a doubted event landing later is a copy the fold
        drops. One fence at a time, for all the doubts there are."""
        while self._doubts:
            if all(future.done() for _, _, future in self._doubts):
                self._doubts.clear()  # their callers have gone
                return
            asked = len(self._doubts)
            try:
                fenced = await self._producer.emit([ProducerFenced(at=self._clock())])
                await self._projector.wait_applied(fenced[-1])
            except PortError as exc:  # the log is still away (or the fence is in doubt too)
                log.info("producer not fenced yet; again", error=str(exc))
                await asyncio.sleep(_FENCE_RETRY_S)
                continue
            except Exception:  # a bug: say so, and keep trying, since no answer would be true
                log.exception("fencing the producer failed; again")
                await asyncio.sleep(_FENCE_RETRY_S)
                continue
            settled, self._doubts = self._doubts[:asked], self._doubts[asked:]
            for _, last, future in settled:
                if not future.done():
                    future.set_result(self._projector.landed(last))

    async def context(self, _: web.Application) -> AsyncIterator[None]:
        """For `cleanup_ctx`: a fence still under way at shutdown is let go."""
        yield
        if self._settling is not None:
            self._settling.cancel()
            await asyncio.wait([self._settling])


_FENCE_RETRY_S: Final = 1.0


async def submit(request: web.Request, *events: Event) -> None:
    """Append the events (one record) and wait until they are folded here. Raises
    Unavailable: the events were not recorded and never will be."""
    app = request.app
    timeout_s = app[SETTINGS].submit_timeout_s
    projector, unfolded = app[PROJECTOR], app[UNFOLDED]
    loop = asyncio.get_running_loop()
    oldest = unfolded.oldest()
    behind_s = 0.0 if oldest is None else loop.time() - oldest
    if behind_s > timeout_s:
        raise Unavailable(
            "The command was not recorded: this api has not yet seen folded commands it "
            f"recorded or sent {behind_s:.0f} s ago (more than {timeout_s:g} s); try again later"
        )
    try:
        # The producer keeps the deadline: it withdraws the events only while it can.
        stamped = await app[PRODUCER].emit(list(events), timeout_s=timeout_s, whole=True)
    except Unconfirmed as exc:
        if not await unfolded.landed(exc.events[-1], loop.time()):
            raise Unavailable(f"The command was not recorded: {exc}") from exc
        return  # folded already
    except LogUnavailable as exc:
        raise Unavailable(f"The command was not recorded: {exc}") from exc
    if not projector.applied(stamped[-1]):
        unfolded.add(stamped[-1], loop.time())
        await projector.wait_applied(stamped[-1])
