"""A 202 means the command will run, a 503 that it will not, even when the api's own fold lags
far behind the log: a command on the log waits for the fold, and an api too far behind its
own commands refuses new ones before recording them. Real parts: a file log, a producer, a
projector held back by not running it yet, and HTTP through aiohttp."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from podium.api.keys import PRODUCER, PROJECTOR, SETTINGS, UNFOLDED
from podium.api.middleware import errors
from podium.api.settings import ApiSettings
from podium.api.submit import Unfolded, submit
from podium.events.filelog import FileEventLog
from podium.events.model import JobReady
from podium.events.producer import Producer
from podium.events.projector import Projector

TIMEOUT_S = 0.3


@dataclass
class Parts:
    client: TestClient[web.Request, web.Application]
    log: FileEventLog
    projector: Projector

    async def post(self, job: str) -> tuple[int, dict[str, str]]:
        answer = await self.client.post("/command", json={"job": job})
        return answer.status, await answer.json()

    async def recorded(self) -> list[str]:
        """The jobs of the events on the log."""
        head = await self.log.head()
        jobs: list[str] = []
        async with asyncio.timeout(10):
            async for record in self.log.subscribe(0):
                jobs += [event.job for event in record.events if isinstance(event, JobReady)]
                if record.offset + 1 >= head.offset:
                    break
        return jobs


async def command(request: web.Request) -> web.Response:
    body = await request.json()
    await submit(request, JobReady(at=1.0, job=body["job"]))
    return web.json_response({"job": body["job"]}, status=202)


@pytest.fixture
async def parts(tmp_path: Path) -> AsyncIterator[Parts]:
    log = await FileEventLog.open(tmp_path / "events.log", fsync=False)
    producer = Producer(log, origin="api")
    producer.start()
    projector = Projector(log)  # not running: the fold lags until a test starts it
    app = web.Application(middlewares=[errors])
    app[SETTINGS] = ApiSettings(submit_timeout_s=TIMEOUT_S)
    app[PRODUCER] = producer
    app[PROJECTOR] = projector
    app[UNFOLDED] = Unfolded()
    app.router.add_post("/command", command)
    async with TestClient(TestServer(app)) as client:
        yield Parts(client, log, projector)
    await producer.close()
    await log.close()


async def test_a_recorded_command_waits_for_the_fold_instead_of_a_503(parts: Parts) -> None:
    answering = asyncio.ensure_future(parts.post("1"))
    await asyncio.sleep(TIMEOUT_S * 3)
    assert not answering.done()  # on the log and not folded: no answer yet, and no 503
    folding = asyncio.ensure_future(parts.projector.run())
    try:
        async with asyncio.timeout(10):
            assert await answering == (202, {"job": "1"})
    finally:
        folding.cancel()
        await asyncio.gather(folding, return_exceptions=True)


async def test_an_api_too_far_behind_refuses_before_recording(parts: Parts) -> None:
    first = asyncio.ensure_future(parts.post("1"))
    await asyncio.sleep(TIMEOUT_S * 2)  # "1" is on the log, not folded, for longer than allowed
    status, answer = await parts.post("2")
    assert status == 503
    assert answer["kind"] == "puppetlabs.orchestrator/broker-unavailable"
    assert "not recorded" in answer["msg"]
    folding = asyncio.ensure_future(parts.projector.run())
    try:
        async with asyncio.timeout(10):
            assert await first == (202, {"job": "1"})
            assert await parts.post("3") == (202, {"job": "3"})  # caught up: accepted again
    finally:
        folding.cancel()
        await asyncio.gather(folding, return_exceptions=True)
    assert await parts.recorded() == ["1", "3"]  # the command answered 503 was never recorded
