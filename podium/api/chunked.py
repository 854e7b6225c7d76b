"""Large JSON answers written in slices, so that building one never holds the event loop.

A job of 100,000 nodes has a report, a node list and an event list of tens of megabytes; built
at once they held the loop for seconds, and every other request (health checks included)
waited. Past STREAM_FROM items an answer is rendered and written in slices of about SLICE_S of
work each (measured, so a busy machine gets smaller slices), with the loop free between them.
Each item is rendered when its slice is written: of a running job, an item is as it was then.
A client that leaves mid-answer is no error.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Final, TypeVar

import msgspec
import structlog
from aiohttp import web

from podium.jsontypes import Json

log = structlog.get_logger(__name__)
SLICE_S: Final = 0.005  # work between two turns of the loop
STREAM_FROM: Final = 2_000  # smaller answers are built at once, with a Content-Length
Item = TypeVar("Item")
_encode: Final = msgspec.json.Encoder().encode


async def items_answer(
    request: web.Request,
    items: Sequence[Item],
    render: Callable[[Item], Json],
    *,
    head: Mapping[str, Json] | None = None,
    tail: Mapping[str, Json] | None = None,
) -> web.StreamResponse:
    """`{**head, "items": [render(item), ...], **tail}`, in slices when there are many."""
    head, tail = head or {}, tail or {}
    if len(items) < STREAM_FROM:
        return json_answer({**head, "items": [render(item) for item in items], **tail})
    response = web.StreamResponse(headers={"Content-Type": "application/json; charset=utf-8"})
    try:
        await response.prepare(request)
        async for part in _parts(items, render, head, tail):
            await response.write(part)
        await response.write_eof()
    except ConnectionResetError as exc:
        log.debug("client left during an answer", path=request.path, error=str(exc))
    return response


def json_answer(body: Json, status: int = 200) -> web.Response:
    """A JSON answer encoded by msgspec, as the sliced answers are: the standard library's
    encoder (aiohttp's `json_response`) was a third of the time of a GET /jobs page whose jobs
    name thousands of nodes each."""
    return web.Response(
        body=_encode(body), status=status, content_type="application/json", charset="utf-8"
    )


class LoopShare:
    """Work done on the loop in slices: `due()` says when a slice's time is spent, `give()`
    lets the loop serve others before the next one."""

    def __init__(self, slice_s: float = SLICE_S) -> None:
        self._slice_s = slice_s
        self._until = time.perf_counter() + slice_s

    def due(self) -> bool:
        return time.perf_counter() >= self._until

    async def give(self) -> None:
        await asyncio.sleep(0)
        self._until = time.perf_counter() + self._slice_s


async def _parts(
    items: Sequence[Item],
    render: Callable[[Item], Json],
    head: Mapping[str, Json],
    tail: Mapping[str, Json],
) -> AsyncIterator[bytes]:
    yield _encode(dict(head))[:-1] + (b',"items":[' if head else b'"items":[')
    share, batch, separator = LoopShare(), [], b""
    for index, item in enumerate(items):
        batch.append(render(item))
        if index % 32 == 31 and share.due():
            yield separator + _encode(batch)[1:-1]
            separator, batch = b",", []
            await share.give()
    if batch:
        yield separator + _encode(batch)[1:-1]
    yield b"]" + (b"," + _encode(dict(tail))[1:] if tail else b"}")
