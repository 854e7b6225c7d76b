"""In-process adapters for `podium serve`: the work queue, the stop bus and heartbeats.

They are real adapters, not test doubles: the work queue keeps order, limits each consumer to its
prefetch, and gives an item back to the queue when its consumer goes away without acking it,
as RabbitMQ does. Nothing here survives the process, which `WorkQueue.durable` says.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncGenerator, Mapping, Sequence

from podium.events.ports import QueueUnavailable
from podium.events.signal import Signal
from podium.events.work import StopNotice, WorkItem


class MemoryDelivery:
    __slots__ = ("_consumer", "items")

    def __init__(self, items: list[WorkItem], consumer: _Consumer) -> None:
        self.items = items
        self._consumer = consumer

    async def ack(self) -> None:
        self._consumer.settle(self)

    async def release(self) -> None:
        if self._consumer.settle(self):
            self._consumer.queue.requeue(self.items)


class _Consumer:
    def __init__(self, queue: MemoryWorkQueue, prefetch: int) -> None:
        self.queue = queue
        self.prefetch = prefetch
        self.unacked: dict[MemoryDelivery, None] = {}

    def settle(self, delivery: MemoryDelivery) -> bool:
        """True if the delivery was still unacked (it is not any more)."""
        if self.unacked.pop(delivery, False) is None:
            self.queue.wake()
            return True
        return False


class MemoryWorkQueue:
    durable = False

    def __init__(self, batch: int = 16) -> None:
        self.batch = batch
        self._items: deque[list[WorkItem]] = deque()
        self._changed = Signal()
        self._closed = False

    async def put(self, items: Sequence[WorkItem]) -> None:
        if self._closed:
            raise QueueUnavailable("the work queue is closed")
        self._items.extend(
            list(items[start : start + self.batch]) for start in range(0, len(items), self.batch)
        )
        self.wake()

    def requeue(self, items: list[WorkItem]) -> None:
        """Put released items back at the head of the queue."""
        self._items.appendleft(items)
        self.wake()

    def wake(self) -> None:
        self._changed.notify()

    async def consume(self, prefetch: int) -> AsyncGenerator[MemoryDelivery, None]:
        consumer = _Consumer(self, max(1, prefetch))
        try:
            while not self._closed:
                if not self._items or len(consumer.unacked) >= consumer.prefetch:
                    await self._changed.wait()
                    continue
                delivery = MemoryDelivery(self._items.popleft(), consumer)
                consumer.unacked[delivery] = None
                yield delivery
        finally:
            # Like a broker: what a departed consumer held goes back to the head of the queue.
            self._items.extendleft(reversed([d.items for d in consumer.unacked]))
            consumer.unacked.clear()
            if self._items:
                self.wake()

    async def close(self) -> None:
        self._closed = True
        self.wake()


class MemoryStopBus:
    def __init__(self) -> None:
        self._subscribers: set[asyncio.Queue[StopNotice]] = set()

    async def publish(self, notice: StopNotice) -> None:
        for queue in self._subscribers:
            queue.put_nowait(notice)

    async def subscribe(self) -> AsyncGenerator[StopNotice, None]:
        queue: asyncio.Queue[StopNotice] = asyncio.Queue()
        self._subscribers.add(queue)
        try:
            while True:
                yield await queue.get()
        finally:
            self._subscribers.discard(queue)


class MemoryHeartbeats:
    def __init__(self) -> None:
        self._seen: dict[str, float] = {}

    async def beat(self, executor: str, at: float) -> None:
        self._seen[executor] = max(at, self._seen.get(executor, at))

    def last_seen(self) -> Mapping[str, float]:
        return self._seen


class SoleLeader:
    """Leadership when there is only one scheduler: always held."""

    is_leader = True

    async def acquired(self) -> None:
        return None

    async def lost(self) -> None:
        await asyncio.Event().wait()

    async def run(self) -> None:
        await asyncio.Event().wait()
