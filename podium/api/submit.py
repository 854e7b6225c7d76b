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
    then nothing is promised, though the events may still land (each carries its id)."""
    timeout_s = request.app[SETTINGS].submit_timeout_s
    try:
        async with asyncio.timeout(timeout_s):
            stamped = await request.app[PRODUCER].emit(list(events))
            await request.app[PROJECTOR].wait_applied(stamped[-1])
    except LogUnavailable as exc:
        raise Unavailable(f"The command was not recorded: {exc}") from exc
    except TimeoutError as exc:
        raise Unavailable(f"The command was not confirmed within {timeout_s:g} s") from exc
