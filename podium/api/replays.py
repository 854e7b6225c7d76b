"""The log folded again from its start for one request (time travel, usage), its errors in the
API's format: the api's live state is never touched."""

from __future__ import annotations

from aiohttp import web

from podium.api.errors import HistoryGone, Unavailable
from podium.api.keys import EVENT_LOG
from podium.events.ports import LogCorrupted, LogTruncated, LogUnavailable
from podium.events.replay import Observer, replay
from podium.events.state import State


async def replay_log(request: web.Request, through: int, observe: Observer | None = None) -> State:
    """The state just after event `through`. Raises HistoryGone when the log no longer holds
    its start, Unavailable when it cannot be read (or a record read is damaged)."""
    try:
        return await replay(request.app[EVENT_LOG], through, observe)
    except LogTruncated as exc:
        raise HistoryGone(f"The log no longer holds the events this needs: {exc}") from exc
    except (LogUnavailable, LogCorrupted) as exc:  # a record read back failed its checksum
        raise Unavailable(f"The log cannot be read now: {exc}") from exc
