"""In-process adapters for `podium serve`: the work queue, the stop bus, heartbeats, leadership.

They are real adapters, not test doubles: the work queue keeps order, limits each consumer to its
prefetch, gives a delivery back to the queue when its consumer goes away without acking it, and
parks one given back more than its delivery limit, as RabbitMQ does. Nothing here survives the
process, which `WorkQueue.durable` says.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence

from podium.events.ports import QueueUnavailable
from podium.events.signal import Signal
from podium.events.work import StopNotice, WorkItem, WorkQueueSettings


class _Held:
    """Items queued together, and how often they have been given back."""

    __slots__ = ("items", "returns")

    def __init__(self, items: list[WorkItem]) -> None:
        self.items = items
        self.returns = 0


class MemoryDelivery:
    __slots__ = ("_consumer", "_held")

    def __init__(self, held: _Held, consumer: _Consumer) -> None:
        self._held = held
        self._consumer = consumer

    @property
    def items(self) -> list[WorkItem]:
        return self._held.items

    async def ack(self) -> None:
        self._consumer.settle(self)

    async def release(self) -> None:
        if self._consumer.settle(self):
            self._consumer.give_back(self._held)


class _Consumer:
    def __init__(self, queue: MemoryWorkQueue, prefetch: int, give_back: Callable[[_Held], None]):
        self.queue = queue
        self.prefetch = prefetch
        self.give_back = give_back
        self.unacked: dict[MemoryDelivery, None] = {}

    def settle(self, delivery: MemoryDelivery) -> bool:
        """True if the delivery was still unacked (it is not any more)."""
        if self.unacked.pop(delivery, False) is None:
            self.queue.wake()
            return True
        return False

    def leave(self) -> None:
        """Like a broker: what a departed consumer held unacked is given back, oldest first."""
        for delivery in reversed(list(self.unacked)):
            self.give_back(delivery._held)
        self.unacked.clear()


class MemoryWorkQueue:
    durable = False

    def __init__(self, settings: WorkQueueSettings) -> None:
        self.batch = settings.batch
        self.delivery_limit = settings.delivery_limit
        self._queued: deque[_Held] = deque()
        self._parked: deque[_Held] = deque()
        self._changed = Signal()
        self._closed = False

    async def put(self, items: Sequence[WorkItem]) -> None:
        if self._closed:
            raise QueueUnavailable("the work queue is closed")
        self._queued.extend(
            _Held(list(items[start : start + self.batch]))
            for start in range(0, len(items), self.batch)
        )
        self.wake()

    def wake(self) -> None:
        self._changed.notify()

    def consume(self, prefetch: int) -> AsyncGenerator[MemoryDelivery, None]:
        return self._deliveries(self._queued, prefetch, self._requeue)

    def parked(self) -> AsyncGenerator[MemoryDelivery, None]:
        return self._deliveries(self._parked, 64, self._park)

    def _requeue(self, held: _Held) -> None:
        """Given back: to the head of the queue, or parked once given back too often."""
        held.returns += 1
        if held.returns > self.delivery_limit:
            self._park(held)
        else:
            self._queued.appendleft(held)
        self.wake()

    def _park(self, held: _Held) -> None:
        self._parked.append(held)
        self.wake()

    async def _deliveries(
        self, source: deque[_Held], prefetch: int, give_back: Callable[[_Held], None]
    ) -> AsyncGenerator[MemoryDelivery, None]:
        consumer = _Consumer(self, max(1, prefetch), give_back)
        try:
            while not self._closed:
                if not source or len(consumer.unacked) >= consumer.prefetch:
                    await self._changed.wait()
                    continue
                delivery = MemoryDelivery(source.popleft(), consumer)
                consumer.unacked[delivery] = None
                yield delivery
        finally:
            consumer.leave()

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
    """One process: a beat is heard as it is given, with its own time."""

    def __init__(self) -> None:
        self._seen: dict[str, float] = {}

    async def beat(self, executor: str, at: float) -> None:
        self._seen[executor] = max(at, self._seen.get(executor, at))

    def last_seen(self) -> Mapping[str, float]:
        return self._seen

    async def listen(self) -> None:
        await asyncio.Event().wait()  # nothing to hear: beats are recorded as they are given


class SoleLeader:
    """Leadership when there is only one scheduler: always held."""

    is_leader = True

    async def acquired(self) -> None:
        return None

    async def lost(self) -> None:
        await asyncio.Event().wait()

    async def run(self) -> None:
        await asyncio.Event().wait()
