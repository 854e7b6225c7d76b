"""Recording what a request decided: append its events, wait until this process has folded
them, so the answer can name what they made and a read right after sees it."""

from __future__ import annotations

import asyncio

from aiohttp import web

from podium.api.errors import Unavailable
from podium.api.keys import PRODUCER, PROJECTOR, SETTINGS
from podium.events.model import Event
from podium.events.ports import LogUnavailable


async def submit(request: web.Request, *events: Event) -> None:
    """Append the events (one batch) and wait until they are folded here. Raises Unavailable:
    the events were not recorded and never will be, except where the log could not tell
    (a broker's confirm that never came: then they may still land, each with its id)."""
    timeout_s = request.app[SETTINGS].submit_timeout_s
    try:
        # The producer keeps the deadline: it withdraws the events only while it can.
        stamped = await request.app[PRODUCER].emit(list(events), timeout_s=timeout_s)
    except LogUnavailable as exc:
        raise Unavailable(f"The command was not recorded: {exc}") from exc
    projector = request.app[PROJECTOR]
    if projector.applied(stamped[-1]):
        return
    try:
        async with asyncio.timeout(timeout_s):
            await projector.wait_applied(stamped[-1])
    except TimeoutError as exc:
        raise Unavailable(f"The command was not confirmed within {timeout_s:g} s") from exc
