"""A 202 means the command will run, a 503 that it will not, even when the api's own fold lags
far behind the log: a command on the log waits for the fold, and an api too far behind its
own commands refuses new ones before recording them. Real parts: a file log, a producer, a
projector held back by not running it yet, and HTTP through aiohttp.

And when the broker's confirm never comes: the command may be on the log, so its answer waits
until the log tells. Real parts: RabbitMQ under a memory alarm (it stops reading what its
publishers send, so nothing is confirmed, and takes it all once the alarm clears), and an
operator's `rabbitmqctl close_connection`, which drops what it had not read."""

from __future__ import annotations

import asyncio
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from podium.api.keys import PRODUCER, PROJECTOR, SETTINGS, UNFOLDED
from podium.api.middleware import errors
from podium.api.settings import ApiSettings
from podium.api.submit import Unfolded, submit
from podium.events.amqp.log import AmqpEventLog
from podium.events.amqp.settings import AmqpSettings
from podium.events.filelog import FileEventLog
from podium.events.model import JobReady
from podium.events.ports import EventLog, Record
from podium.events.producer import Producer
from podium.events.projector import Projector
from podium.events.state import State
from tests.conftest import open_broker
from tests.integration.test_amqp import close_connections

TIMEOUT_S = 0.3


@dataclass
class Parts:
    client: TestClient[web.Request, web.Application]
    log: EventLog
    projector: Projector
    folded: list[tuple[str, int]] = field(default_factory=list)  # (job, seq) of each folded
    origin: str = ""  # its producer's

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


@asynccontextmanager
async def serving(
    log: EventLog, producer: Producer, projector: Projector, timeout_s: float = TIMEOUT_S
) -> AsyncIterator[Parts]:
    producer.start()
    app = web.Application(middlewares=[errors])
    app[SETTINGS] = ApiSettings(submit_timeout_s=timeout_s)
    app[PRODUCER] = producer
    app[PROJECTOR] = projector
    app[UNFOLDED] = unfolded = Unfolded(projector, producer, time.time)
    app.cleanup_ctx.append(unfolded.context)
    app.router.add_post("/command", command)
    async with TestClient(TestServer(app)) as client:
        yield Parts(client, log, projector, origin=producer.origin)
    await producer.close()


@pytest.fixture
async def parts(tmp_path: Path) -> AsyncIterator[Parts]:
    log = await FileEventLog.open(tmp_path / "events.log", fsync=False)
    projector = Projector(log)  # not running: the fold lags until a test starts it
    async with serving(log, Producer(log, origin="api"), projector) as served:
        yield served
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


CONFIRM_TIMEOUT_S = 0.5


@asynccontextmanager
async def on_rabbitmq(
    amqp_settings: AmqpSettings, give_up_s: float, timeout_s: float = TIMEOUT_S
) -> AsyncIterator[Parts]:
    """An api's submit on RabbitMQ whose confirms time out after CONFIRM_TIMEOUT_S, with its
    projector running. Its connections' names start with `podium-doubt-`."""
    settings = replace(amqp_settings, confirm_timeout_s=CONFIRM_TIMEOUT_S)
    async with open_broker(settings, f"doubt-{uuid.uuid4().hex[:8]}") as broker:
        log = await AmqpEventLog.open(broker)
        projector = Projector(log)
        folding = asyncio.ensure_future(projector.run())
        producer = Producer(log, origin="api", give_up_s=give_up_s)
        try:
            async with serving(log, producer, projector, timeout_s) as served:

                def on_record(record: Record, _: State) -> None:
                    events = [e for e in record.events if isinstance(e, JobReady)]
                    served.folded += [(e.job, e.seq) for e in events]

                projector.add_listener(on_record)
                yield served
        finally:
            folding.cancel()
            await asyncio.gather(folding, return_exceptions=True)
            await log.close()


def rabbitmqctl(*args: str) -> str:
    return subprocess.run(
        ["rabbitmqctl", *args], capture_output=True, text=True, check=True
    ).stdout.strip()


@contextmanager
def memory_alarm() -> Iterator[None]:
    """The broker blocks every publishing connection until the block ends."""
    before = rabbitmqctl("eval", "vm_memory_monitor:get_vm_memory_high_watermark().")
    rabbitmqctl("set_vm_memory_high_watermark", "0")
    try:
        yield
    finally:  # the term as it was, whatever its form (0.4, {absolute,1073741824}, ...)
        rabbitmqctl("eval", f"vm_memory_monitor:set_vm_memory_high_watermark({before}).")


async def given_up_on(served: Parts, job: str) -> asyncio.Future[tuple[int, dict[str, str]]]:
    """Post `job` while the broker holds what it is sent (under `memory_alarm`): on return,
    the producer (`give_up_s=1`) has given up on it, and its answer is still to come."""
    answering = asyncio.ensure_future(served.post(job))
    await asyncio.sleep(3)
    assert not answering.done()
    return answering


async def test_a_command_whose_confirm_never_came_is_answered_by_where_it_landed(
    amqp_settings: AmqpSettings,
) -> None:
    async with on_rabbitmq(amqp_settings, give_up_s=30) as served:
        with memory_alarm():
            answering = asyncio.ensure_future(served.post("1"))
            await asyncio.sleep(CONFIRM_TIMEOUT_S * 4)  # past the deadline and a lost confirm
            assert not answering.done()  # it may be on the log: no 503 yet
        async with asyncio.timeout(20):  # the broker reads what it held, and the command lands
            assert await answering == (202, {"job": "1"})
            await served.projector.sync()
        assert set(served.folded) == {("1", 1)}  # retries land as copies, which the fold drops


async def test_a_command_given_up_on_that_landed_later_is_answered_202(
    amqp_settings: AmqpSettings,
) -> None:
    async with on_rabbitmq(amqp_settings, give_up_s=1) as served:
        with memory_alarm():
            answering = await given_up_on(served, "1")
        async with asyncio.timeout(20):  # the broker reads what it held: the command first
            assert await answering == (202, {"job": "1"})
        assert {job for job, _ in served.folded} == {"1"}


async def test_a_command_given_up_on_and_never_landed_is_answered_503(
    amqp_settings: AmqpSettings,
) -> None:
    async with on_rabbitmq(amqp_settings, give_up_s=1, timeout_s=10) as served:
        with memory_alarm():
            answering = await given_up_on(served, "1")
            # What the broker had not read (every copy of "1", the first of the fence that
            # settles it) is dropped with the connections: "1" never lands.
            assert close_connections("podium-doubt-") >= 1
            await asyncio.sleep(0.4)
        # A command of the same producer sent while "1" is in doubt (for less than the submit
        # timeout) is taken, and lands, with or before the fence: either moves the producer's
        # mark past "1", which is still not on the log.
        async with asyncio.timeout(20):
            assert await served.post("2") == (202, {"job": "2"})
            status, answer = await answering
        assert (status, answer["kind"]) == (503, "puppetlabs.orchestrator/broker-unavailable")
        assert "not recorded" in answer["msg"]
        assert {job for job, _ in served.folded} == {"2"}  # the one answered 503 is not there


async def test_a_command_answered_503_in_doubt_cannot_land_later(
    amqp_settings: AmqpSettings,
) -> None:
    async with on_rabbitmq(amqp_settings, give_up_s=1) as served:
        with memory_alarm():
            answering = await given_up_on(served, "1")
            assert close_connections("podium-doubt-") >= 1  # "1" is dropped unread
            await asyncio.sleep(0.5)
        async with asyncio.timeout(20):
            status, _ = await answering
        assert status == 503
        # The producer was fenced before the 503, though nothing else of it was folded: a copy
        # of "1" still on its way (a broker under an alarm keeps a blocked connection's unread
        # bytes, heartbeats or not) is dropped by every fold.
        position = served.projector.state.position
        late = JobReady(at=1.0, job="1", origin=served.origin, seq=1)
        await served.log.append([late])
        async with asyncio.timeout(10):
            await served.projector.sync()
        assert served.projector.state.position == position
        assert not served.projector.landed(late)
        assert {job for job, _ in served.folded} == {"1"}  # folded as a copy: changed nothing
