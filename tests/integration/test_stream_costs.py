"""What a reader of streams and large answers may cost the server: a subscriber that never
reads is cut off instead of holding its events and a handler forever, a client that leaves is
no error, and subscribers replaying the history do not each copy and sort it."""

from __future__ import annotations

import asyncio
import socket
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from podium.api import streams
from podium.jsontypes import Json
from tests.conftest import TERMINAL
from tests.integration.test_http_edge import Listening, listening


class Served:
    """An engine served as `podium serve` serves it (aiohttp's test server would cancel a
    handler whose client leaves; podium's runner lets the handler see it), and a client."""

    def __init__(self, server: Listening, session: aiohttp.ClientSession) -> None:
        self.server, self.session = server, session
        self.engine = server.engine
        self.headers = {"X-Authentication": server.token}

    async def get(self, path: str) -> Json:
        async with self.session.get(f"{self.server.url}{path}", headers=self.headers) as answer:
            assert answer.status == 200
            return await answer.json()


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Served]:
    async for server in listening(tmp_path, request_timeout_s=5.0):
        async with aiohttp.ClientSession() as session:
            yield Served(server, session)


async def big_job(api: Served, nodes: int) -> str:
    """A finished job of `nodes` instant sim nodes (names the inventory lacks run on sim)."""
    body = {
        "task": "testmod::echo",
        "params": {},
        "scope": {"nodes": [f"x{i}" for i in range(nodes)]},
    }
    url = f"{api.server.url}/command/task"
    async with api.session.post(url, json=body, headers=api.headers) as answer:
        assert answer.status == 202
        name = str((await answer.json())["job"]["name"])
    async with asyncio.timeout(240):
        while (await api.get(f"/jobs/{name}"))["state"] not in TERMINAL:
            await asyncio.sleep(0.1)
    return name


async def answers(api: Served, route: str) -> dict[str, int]:
    """How many answers /metrics counts for GET `route`, by status."""
    url = f"http://127.0.0.1:{api.server.port}/metrics"
    async with api.session.get(url, headers=api.headers) as response:
        text = await response.text()
    counted: dict[str, int] = {}
    for line in text.splitlines():
        if line.startswith("podium_http_responses_total") and f'route="{route}"' in line:
            status = line.split('status="')[1].split('"')[0]
            counted[status] = int(line.rsplit(" ", 1)[1])
    return counted


async def raw_request(api: Served, path: str, read_buffer: int = 4096) -> socket.socket:
    """A GET sent over a socket that reads nothing (a tiny receive buffer, never drained)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, read_buffer)
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    await loop.sock_connect(sock, ("127.0.0.1", api.server.port))
    head = (
        f"GET /orchestrator/v1{path} HTTP/1.1\r\nHost: x\r\n"
        f"X-Authentication: {api.server.token}\r\nAccept: text/event-stream\r\n\r\n"
    )
    await loop.sock_sendall(sock, head.encode())
    return sock


async def test_a_subscriber_that_never_reads_is_cut_off_and_one_replaying_copies_nothing(
    api: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(streams, "MAX_BACKLOG", 10_000)  # a smaller job shows the same
    sock = await raw_request(api, "/events")
    try:
        # Many more events than a subscriber may fall behind by, and than socket buffers hold.
        await big_job(api, streams.MAX_BACKLOG * 2)
        async with asyncio.timeout(30):  # the handler has let go: its answer is counted
            while "200" not in await answers(api, "/orchestrator/v1/events"):
                await asyncio.sleep(0.1)
    finally:
        sock.close()

    # A subscriber from the first event: the history (60,000 events) is replayed in place. A
    # sorted copy of it, as before, is about 90 bytes an event (5 MB) before the first byte.
    assert api.engine.projector is not None
    history = api.engine.projector.state.position
    await api.engine.archive.flushed()  # writing the ended job to the projection is not replaying
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        sock = await raw_request(api, "/events?start=1")
        await asyncio.sleep(0.5)  # it has begun its replay, and is stuck on a full socket
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
        sock.close()
    # Half a copy: the process's other work in those 0.5 s (a full run's leftovers) is counted
    # too, and once came to 1.8 MB with a quarter's bound of 1.36 MB.
    assert held < history * 90 / 2, held


async def test_a_client_that_leaves_mid_answer_is_no_error(api: Served) -> None:
    job = await big_job(api, 4_000)
    for path, route in [
        ("/events?start=1", "/orchestrator/v1/events"),
        (f"/jobs/{job}/events", "/orchestrator/v1/jobs/{id}/events"),
        (f"/jobs/{job}/report", "/orchestrator/v1/jobs/{id}/report"),
    ]:
        sock = await raw_request(api, path)
        await asyncio.sleep(0.2)  # the server is writing, the client's buffer is full
        sock.close()
        async with asyncio.timeout(60):  # a stream with nothing to send notices at its keep-alive
            while not await answers(api, route):
                await asyncio.sleep(0.1)
        assert await answers(api, route) == {"200": 1}, path
