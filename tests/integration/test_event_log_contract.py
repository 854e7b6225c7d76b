"""One contract for every EventLog adapter: the embedded file and the RabbitMQ stream."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from pathlib import Path

import pytest

from podium.events.amqp.log import AmqpEventLog
from podium.events.amqp.settings import AmqpSettings
from podium.events.filelog import FileEventLog
from podium.events.model import Event, JobReady
from podium.events.ports import EventLog, Head, Record
from podium.events.projector import Projector
from tests.conftest import open_broker


@pytest.fixture(params=["file", "amqp"])
async def event_log(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[EventLog]:
    if request.param == "file":
        file_log = await FileEventLog.open(tmp_path / "events.log", fsync=False)
        yield file_log
        await file_log.close()
        return
    settings: AmqpSettings = request.getfixturevalue("amqp_settings")
    async with open_broker(settings) as broker:
        amqp_log = await AmqpEventLog.open(broker)
        yield amqp_log
        await amqp_log.close()


def ready(seq: int) -> JobReady:
    return JobReady(at=1.0, job=str(seq), origin="contract", seq=seq)


def jobs(record: Record) -> list[str]:
    return [event.job for event in record.events if isinstance(event, JobReady)]


async def take(stream: AsyncIterator[Record], count: int) -> list[Record]:
    """The next `count` records that carry events (marker records are skipped)."""
    records: list[Record] = []
    async with asyncio.timeout(10):
        async for record in stream:
            if record.events:
                records.append(record)
            if len(records) == count:
                break
    return records


async def test_read_returns_batches_in_append_order(event_log: EventLog) -> None:
    batches: list[list[Event]] = [[ready(1), ready(2)], [ready(3)], [ready(4), ready(5), ready(6)]]
    for batch in batches:
        await event_log.append(batch)
    records = await take(event_log.subscribe(0), 3)
    assert [jobs(r) for r in records] == [["1", "2"], ["3"], ["4", "5", "6"]]
    assert [r.offset for r in records] == sorted({r.offset for r in records})


async def test_a_subscription_from_an_offset_starts_there(event_log: EventLog) -> None:
    for seq in range(1, 6):
        await event_log.append([ready(seq)])
    first = await take(event_log.subscribe(0), 5)
    third_on = await take(event_log.subscribe(first[2].offset), 3)
    assert [jobs(r) for r in third_on] == [["3"], ["4"], ["5"]]


async def test_a_live_subscription_sees_later_appends_once_each(event_log: EventLog) -> None:
    await event_log.append([ready(1)])
    stream = event_log.subscribe(0)
    assert [jobs(r) for r in await take(stream, 1)] == [["1"]]
    await event_log.append([ready(2)])
    await event_log.append([ready(3)])
    assert [jobs(r) for r in await take(stream, 2)] == [["2"], ["3"]]


async def test_a_projector_syncs_to_the_head_of_the_log(event_log: EventLog) -> None:
    for seq in range(1, 4):
        await event_log.append([ready(seq)])
    projector = Projector(event_log)
    running = asyncio.create_task(projector.run())
    try:
        async with asyncio.timeout(10):
            await projector.caught_up.wait()
        assert projector.state.position == 3
        await event_log.append([ready(4)])
        async with asyncio.timeout(10):
            await projector.sync()
        assert projector.state.position == 4
        assert projector.state.marks == {"contract": 4}
    finally:
        running.cancel()


async def test_an_empty_log_is_caught_up_at_once(event_log: EventLog) -> None:
    projector = Projector(event_log)
    running = asyncio.create_task(projector.run())
    try:
        async with asyncio.timeout(10):
            await projector.caught_up.wait()
        assert projector.state.position == 0
    finally:
        running.cancel()


async def test_each_waiter_returns_once_its_own_event_is_folded(event_log: EventLog) -> None:
    projector = Projector(event_log)
    running = asyncio.create_task(projector.run())
    try:
        waiting = {
            seq: asyncio.create_task(projector.wait_applied(ready(seq))) for seq in (3, 1, 5)
        }
        given_up = asyncio.create_task(projector.wait_applied(ready(9)))
        await asyncio.sleep(0)
        given_up.cancel()  # as a caller's timeout does: its event never comes
        for seq in range(1, 4):
            await event_log.append([ready(seq)])
        async with asyncio.timeout(10):
            await asyncio.gather(waiting[1], waiting[3])
        assert not waiting[5].done()
        await event_log.append([ready(4), ready(5)])
        async with asyncio.timeout(10):
            await waiting[5]
        assert projector.state.marks == {"contract": 5}
        assert given_up.cancelled()
        await projector.wait_applied(ready(2))  # folded already: at once
    finally:
        running.cancel()


class LateHead:
    """The log, but `head` returns only once its reader has folded the end it names: a
    confirm that comes back after the record itself was delivered (RabbitMQ gives no order
    between a publisher's confirm and a consumer's delivery)."""

    def __init__(self, event_log: EventLog) -> None:
        self.event_log = event_log
        self.taken: list[Record] = []
        self.markers = 0  # a marker's head returns only once this many markers were folded

    async def append(self, batch: Sequence[Event]) -> None:
        await self.event_log.append(batch)

    async def subscribe(self, from_offset: int) -> AsyncGenerator[Record, None]:
        async for record in self.event_log.subscribe(from_offset):
            yield record
            self.taken.append(record)  # the reader asks for the next once it has folded this

    async def head(self) -> Head:
        head = await self.event_log.head()
        async with asyncio.timeout(10):
            while not any(head.reached_by(record) for record in self.taken):
                await asyncio.sleep(0.01)
            while head.marker and sum(1 for r in self.taken if r.marker) < self.markers:
                await asyncio.sleep(0.01)
        return head

    async def close(self) -> None:
        await self.event_log.close()


async def test_sync_returns_when_its_end_was_folded_before_head_returned(
    event_log: EventLog,
) -> None:
    projector = Projector(LateHead(event_log))
    await event_log.append([ready(1)])
    running = asyncio.create_task(projector.run())
    try:
        async with asyncio.timeout(15):
            await projector.caught_up.wait()
            await event_log.append([ready(2)])
            await projector.sync()
        assert projector.state.marks == {"contract": 2}
    finally:
        running.cancel()


async def test_many_syncs_at_once_each_return_though_their_ends_came_first(
    event_log: EventLog,
) -> None:
    late = LateHead(event_log)
    projector = Projector(late)
    await event_log.append([ready(1)])  # the file log's end moves only with a record
    running = asyncio.create_task(projector.run())
    try:
        async with asyncio.timeout(30):
            await projector.caught_up.wait()
            late.markers = 100  # each sync learns its end only once all 100 were folded
            await asyncio.gather(*(projector.sync() for _ in range(100)))
    finally:
        running.cancel()


async def test_an_event_given_up_on_is_landed_only_if_it_was_folded(event_log: EventLog) -> None:
    """A batch lost between two of its producer's: the mark passes it, it is not landed, and a
    copy that comes after the later batch is dropped by the fold and still not landed."""
    projector = Projector(event_log)
    projector.watch("contract")
    running = asyncio.create_task(projector.run())
    try:
        await event_log.append([ready(1)])
        await event_log.append([ready(4), ready(5)])  # 2 and 3 were given up on, never sent
        await event_log.append([ready(2), ready(3)])  # or sent, and landed late: a copy
        async with asyncio.timeout(15):
            await projector.sync()
        assert [projector.applied(ready(seq)) for seq in range(1, 7)] == [True] * 5 + [False]
        assert [projector.landed(ready(seq)) for seq in range(1, 7)] == [
            True, False, False, True, True, False
        ]  # fmt: skip
        assert projector.state.position == 3
    finally:
        running.cancel()
