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
folded past a marker appended after them (`Projector.sync`, again until the log takes it):
if the events were folded before the marker they landed, and the answer is the command's;
if not, they never will, and the 503 is true.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Final

from aiohttp import web

from podium.api.errors import Unavailable
from podium.api.keys import PRODUCER, PROJECTOR, SETTINGS, UNFOLDED
from podium.events.model import Event
from podium.events.ports import LogUnavailable, Unconfirmed
from podium.events.projector import Projector


class Unfolded:
    """This api's commands that are on the log and not yet folded here, oldest first, with
    when each was recorded (loop time)."""

    def __init__(self) -> None:
        self._waiting: deque[tuple[float, Event]] = deque()

    def add(self, event: Event, recorded_at: float) -> None:
        self._waiting.append((recorded_at, event))

    def oldest(self, projector: Projector) -> float | None:
        """When the oldest command not yet folded was recorded, or None."""
        waiting = self._waiting
        while waiting and projector.applied(waiting[0][1]):
            waiting.popleft()
        return waiting[0][0] if waiting else None


_SYNC_RETRY_S: Final = 1.0


async def submit(request: web.Request, *events: Event) -> None:
    """Append the events (one batch) and wait until they are folded here. Raises Unavailable:
    the events were not recorded and never will be."""
    app = request.app
    timeout_s = app[SETTINGS].submit_timeout_s
    projector, unfolded = app[PROJECTOR], app[UNFOLDED]
    loop = asyncio.get_running_loop()
    oldest = unfolded.oldest(projector)
    behind_s = 0.0 if oldest is None else loop.time() - oldest
    if behind_s > timeout_s:
        raise Unavailable(
            "The command was not recorded: this api has not yet folded commands it recorded "
            f"{behind_s:.0f} s ago (more than {timeout_s:g} s); try again later"
        )
    try:
        # The producer keeps the deadline: it withdraws the events only while it can.
        stamped = await app[PRODUCER].emit(list(events), timeout_s=timeout_s)
    except Unconfirmed as exc:
        if not await _landed(projector, exc.events[-1]):
            raise Unavailable(f"The command was not recorded: {exc}") from exc
        stamped = list(exc.events)
    except LogUnavailable as exc:
        raise Unavailable(f"The command was not recorded: {exc}") from exc
    if not projector.applied(stamped[-1]):
        unfolded.add(stamped[-1], loop.time())
        await projector.wait_applied(stamped[-1])


async def _landed(projector: Projector, last: Event) -> bool:
    """Whether events the producer gave up on are on the log: folded once this api has folded
    a marker appended after them (a batch is one record: all of it landed, or none)."""
    while not projector.applied(last):
        try:
            await projector.sync()
        except LogUnavailable:
            await asyncio.sleep(_SYNC_RETRY_S)  # the log is still away: the doubt stays
            continue
        return projector.applied(last)
    return True
