"""One contract for every WorkQueue (with its ParkedWork), StopBus and Heartbeats adapter:
in-process and RabbitMQ."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import AbstractAsyncContextManager, aclosing, asynccontextmanager
from typing import Protocol

import pytest

from podium.events.amqp.fanout import AmqpHeartbeats, AmqpStopBus
from podium.events.amqp.work import AmqpWorkQueue
from podium.events.jobspec import RunSpec
from podium.events.memory import MemoryHeartbeats, MemoryStopBus, MemoryWorkQueue
from podium.events.ports import Delivery, Heartbeats, ParkedWork, StopBus, WorkQueue
from podium.events.work import StopNotice, WorkItem, WorkQueueSettings
from tests.conftest import open_broker


@pytest.fixture(params=["memory", "amqp"])
async def work_queue(request: pytest.FixtureRequest) -> AsyncIterator[WorkQueue]:
    if request.param == "memory":
        memory = MemoryWorkQueue(WorkQueueSettings(batch=2))
        yield memory
        await memory.close()
        return
    async with open_broker(request.getfixturevalue("amqp_settings")) as broker:
        queue = await AmqpWorkQueue.open(broker, WorkQueueSettings(batch=2))
        yield queue
        await queue.close()


WORK_PARKED_AT_TWO = WorkQueueSettings(batch=2, delivery_limit=1)


class ParkingQueue(WorkQueue, ParkedWork, Protocol):
    """A work queue that parks what it gives up on (both adapters are)."""


@pytest.fixture(params=["memory", "amqp"])
async def parking_queue(request: pytest.FixtureRequest) -> AsyncIterator[ParkingQueue]:
    """A work queue that parks a delivery released twice."""
    if request.param == "memory":
        memory = MemoryWorkQueue(WORK_PARKED_AT_TWO)
        yield memory
        await memory.close()
        return
    async with open_broker(request.getfixturevalue("amqp_settings")) as broker:
        queue = await AmqpWorkQueue.open(broker, WORK_PARKED_AT_TWO)
        yield queue
        await queue.close()


@pytest.fixture(params=["memory", "amqp"])
async def heartbeats(request: pytest.FixtureRequest) -> AsyncIterator[Heartbeats]:
    """Heartbeats with their listener running."""
    if request.param == "memory":
        beats: Heartbeats = MemoryHeartbeats()
        listening = asyncio.ensure_future(beats.listen())
        yield beats
    else:
        async with open_broker(request.getfixturevalue("amqp_settings")) as broker:
            beats = await AmqpHeartbeats.open(broker)
            listening = asyncio.ensure_future(beats.listen())
            yield beats
    listening.cancel()
    await asyncio.gather(listening, return_exceptions=True)


@pytest.fixture(params=["memory", "amqp"])
async def stop_bus(request: pytest.FixtureRequest) -> AsyncIterator[StopBus]:
    if request.param == "memory":
        yield MemoryStopBus()
        return
    async with open_broker(request.getfixturevalue("amqp_settings")) as broker:
        yield await AmqpStopBus.open(broker)


def item(node: str) -> WorkItem:
    spec = RunSpec(kind="task", environment="production", task="mod::t")
    return WorkItem(job="1", node=node, attempt=1, transport="sim", config={}, spec=spec)


class Consumer:
    """Pulls deliveries in the background, so a test can look without cancelling the pull."""

    def __init__(self, deliveries: AsyncGenerator[Delivery, None]) -> None:
        self._deliveries = deliveries
        self._inbox: asyncio.Queue[Delivery] = asyncio.Queue()
        self._pump = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        async for delivery in self._deliveries:
            self._inbox.put_nowait(delivery)

    async def take(self, count: int) -> list[Delivery]:
        async with asyncio.timeout(10):
            return [await self._inbox.get() for _ in range(count)]

    async def nothing_more(self, wait_s: float = 0.3) -> bool:
        await asyncio.sleep(wait_s)
        return self._inbox.empty()

    async def leave(self) -> None:
        self._pump.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._pump
        await self._deliveries.aclose()


@asynccontextmanager
async def consumer_of(deliveries: AsyncGenerator[Delivery, None]) -> AsyncIterator[Consumer]:
    pulling = Consumer(deliveries)
    try:
        yield pulling
    finally:
        await pulling.leave()


def consumer(queue: WorkQueue, prefetch: int) -> AbstractAsyncContextManager[Consumer]:
    return consumer_of(queue.consume(prefetch))


def nodes(delivery: Delivery) -> list[str]:
    return [item.node for item in delivery.items]


async def test_items_come_out_in_order_in_deliveries_of_at_most_the_batch(
    work_queue: WorkQueue,
) -> None:
    assert work_queue.batch == 2
    await work_queue.put([item(f"n{i}") for i in range(5)])
    async with consumer(work_queue, prefetch=10) as pulling:
        taken = await pulling.take(3)
        assert [nodes(d) for d in taken] == [["n0", "n1"], ["n2", "n3"], ["n4"]]
        for delivery in taken:
            await delivery.ack()


async def test_a_consumer_gets_no_more_than_its_prefetch_unacked(work_queue: WorkQueue) -> None:
    await work_queue.put([item(f"n{i}") for i in range(6)])
    async with consumer(work_queue, prefetch=2) as pulling:
        first = await pulling.take(2)
        assert await pulling.nothing_more()
        await first[0].ack()
        assert [nodes(d) for d in await pulling.take(1)] == [["n4", "n5"]]


async def test_what_a_departed_consumer_held_unacked_is_delivered_again(
    work_queue: WorkQueue,
) -> None:
    await work_queue.put([item("a"), item("b"), item("c")])
    async with consumer(work_queue, prefetch=2) as pulling:
        held = await pulling.take(2)
        await held[0].ack()  # a and b are done; c is held but never acked
    async with consumer(work_queue, prefetch=2) as pulling:
        again = await pulling.take(1)
        assert [nodes(d) for d in again] == [["c"]]
        await again[0].ack()
        assert await pulling.nothing_more()


async def test_a_released_delivery_is_delivered_again_whole(work_queue: WorkQueue) -> None:
    await work_queue.put([item("a"), item("b"), item("c")])
    async with consumer(work_queue, prefetch=1) as pulling:
        (first,) = await pulling.take(1)
        assert nodes(first) == ["a", "b"]
        await first.release()
        seen = []
        for _ in range(2):
            (delivery,) = await pulling.take(1)
            seen.append(nodes(delivery))
            await delivery.ack()
        assert sorted(seen) == [["a", "b"], ["c"]]  # a and b again, together


async def test_competing_consumers_share_the_deliveries(work_queue: WorkQueue) -> None:
    await work_queue.put([item(f"n{i}") for i in range(8)])
    async with consumer(work_queue, prefetch=2) as first, consumer(work_queue, 2) as second:
        got = await first.take(2) + await second.take(2)
        assert sorted(node for d in got for node in nodes(d)) == [f"n{i}" for i in range(8)]


async def test_every_subscriber_hears_every_notice(stop_bus: StopBus) -> None:
    async with aclosing(stop_bus.subscribe()) as one, aclosing(stop_bus.subscribe()) as two:
        first = asyncio.ensure_future(anext(one))
        second = asyncio.ensure_future(anext(two))
        notice = StopNotice(job="7", force=True)
        async with asyncio.timeout(10):
            # A subscriber hears what is said after it attached; say it until both heard it.
            while not (first.done() and second.done()):
                await stop_bus.publish(notice)
                await asyncio.wait({first, second}, timeout=0.1)
        assert first.result() == second.result() == notice


async def test_a_delivery_released_past_the_limit_is_parked_whole(
    parking_queue: ParkingQueue,
) -> None:
    assert parking_queue.delivery_limit == 1
    await parking_queue.put([item("a"), item("b"), item("c")])
    async with consumer(parking_queue, prefetch=1) as pulling:
        for _ in range(2):  # delivered, released; delivered again, released again: parked
            (delivery,) = await pulling.take(1)
            assert nodes(delivery) == ["a", "b"]
            await delivery.release()
        (rest,) = await pulling.take(1)
        assert nodes(rest) == ["c"]
        await rest.ack()
        assert await pulling.nothing_more()
    parked = parking_queue.parked()
    try:
        async with asyncio.timeout(10):
            settled = await anext(parked)
        assert nodes(settled) == ["a", "b"]
        await settled.ack()
    finally:
        await parked.aclose()


async def test_a_parked_delivery_released_is_parked_again(parking_queue: ParkingQueue) -> None:
    await parking_queue.put([item("a")])
    async with consumer(parking_queue, prefetch=1) as pulling:
        for _ in range(2):
            (delivery,) = await pulling.take(1)
            await delivery.release()
    async with consumer_of(parking_queue.parked()) as parked:
        (first,) = await parked.take(1)
        await first.release()
        (again,) = await parked.take(1)
        assert nodes(again) == ["a"]
        await again.ack()
        assert await parked.nothing_more()


async def test_a_beat_is_seen_at_or_after_its_time(heartbeats: Heartbeats) -> None:
    at = time.time()
    async with asyncio.timeout(10):
        while heartbeats.last_seen().get("e1", 0.0) < at:
            await heartbeats.beat("e1", at)  # the listener hears beats from when it is bound
            await asyncio.sleep(0.05)
    assert "e2" not in heartbeats.last_seen()
