"""The HTTP edge as `podium serve` listens: over real sockets, clients that send their request
slowly or never finish it are cut off after the request timeout, requests aiohttp cannot parse
get the api's error format, and links in answers never point where a Host header says unless
that host is ours or allowed."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from podium.engine import Engine
from podium.webserver import app_runner
from tests.conftest import settings_for
from tests.sshd import free_port

TIMEOUT_S = 0.5  # the request timeout these servers run with


@dataclass
class Listening:
    engine: Engine
    port: int
    token: str

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/orchestrator/v1"


async def listening(tmp_path: Path, **overrides: Any) -> AsyncIterator[Listening]:
    settings = settings_for(tmp_path / "data", **{"request_timeout_s": TIMEOUT_S, **overrides})
    engine = await Engine.start(settings)
    assert engine.api.token_path is not None
    runner = app_runner(engine.api.app, settings.api.request_timeout_s)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield Listening(engine, port, engine.api.token_path.read_text().strip())
    finally:
        await runner.cleanup()
        await engine.close()


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Listening]:
    async for served in listening(tmp_path):
        yield served


async def closed_by_server(reader: asyncio.StreamReader) -> bytes:
    """Everything the server sends until it closes; fails if it keeps the connection 20 s."""
    async with asyncio.timeout(20):
        return await reader.read()


async def test_headers_that_never_finish_are_cut_off(server: Listening) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"GET /status/v1/simple HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
    await writer.drain()
    for _ in range(3):  # still dribbling: each byte is no complete head
        await asyncio.sleep(TIMEOUT_S / 2)
        if writer.is_closing():
            break
        writer.write(b"a")
    assert await closed_by_server(reader) == b""
    writer.close()


async def test_a_body_that_never_arrives_is_a_408_and_a_closed_connection(
    server: Listening,
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    head = (
        "POST /orchestrator/v1/command/stop HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"X-Authentication: {server.token}\r\nContent-Type: application/json\r\n"
        "Content-Length: 100\r\n\r\n"
    )
    writer.write(head.encode() + b'{"job": ')
    await writer.drain()
    answer = await closed_by_server(reader)
    writer.close()
    status_line, _, body = answer.partition(b"\r\n\r\n")
    assert status_line.startswith(b"HTTP/1.1 408")
    error = json.loads(body)
    assert error["kind"] == "puppetlabs.orchestrator/validation-error"
    assert f"within {TIMEOUT_S:g} s" in error["msg"]


async def test_headers_over_the_parser_limit_get_the_error_format(server: Listening) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{server.url}/jobs", headers={"X-Big": "x" * 20_000}) as response,
    ):
        assert response.status == 400
        error = await response.json()
    assert error["kind"] == "puppetlabs.orchestrator/validation-error"
    assert error["msg"].startswith("The request could not be read")
    assert error["details"] == {}


async def job_link(server: Listening, host: str) -> str:
    body = {"task": "testmod::echo", "params": {}, "scope": {"nodes": ["sim-1"]}}
    headers = {"X-Authentication": server.token, "Host": host}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{server.url}/command/task", json=body, headers=headers) as response,
    ):
        answer = await response.json()
        assert response.status == 202, answer
    return str(answer["job"]["id"])


async def test_links_ignore_a_host_header_that_is_not_ours(server: Listening) -> None:
    own = f"127.0.0.1:{server.port}"
    assert (await job_link(server, "evil.example.com")).startswith(f"http://{own}/")
    assert (await job_link(server, own)).startswith(f"http://{own}/")


async def test_links_follow_an_allowed_host(tmp_path: Path) -> None:
    async for server in listening(tmp_path, allowed_hosts=("orch.example.com",)):
        link = await job_link(server, "orch.example.com:8143")
        assert link.startswith("http://orch.example.com:8143/orchestrator/v1/jobs/")
        link = await job_link(server, "other.example.com")
        assert link.startswith(f"http://127.0.0.1:{server.port}/")
