"""Node-run work on a quorum queue: up to `batch` items per message, competing
consumers, manual acks.

An executor takes a message when it has a slot for every item in it, appends all their starts
at once and acks the message once they are on the log, so a delivery is never held for a whole
run (RabbitMQ closes a channel that holds one past its consumer timeout) and a redelivered
message holds only runs that never started. A message delivered more than `delivery_limit`
times is dead-lettered to the parking queue, which the scheduler drains so that no run is left
waiting for ever.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Sequence
from typing import Final

import structlog
from aio_pika.abc import AbstractIncomingMessage

from podium.events.amqp.broker import (
    AMQP_ERRORS,
    SETUP_TIMEOUT_S,
    Broker,
    consume,
    publish_confirmed,
)
from podium.events.amqp.topology import declare_work
from podium.events.codec import DecodeError, decode_work, encode_work
from podium.events.ports import QueueUnavailable
from podium.events.work import WorkItem, WorkQueueSettings

log = structlog.get_logger(__name__)
_PUBLISH_WINDOW: Final = 500  # concurrent confirmed publishes


class AmqpDelivery:
    __slots__ = ("_message", "items")

    def __init__(self, items: list[WorkItem], message: AbstractIncomingMessage) -> None:
        self.items = items
        self._message = message

    async def ack(self) -> None:
        # If the channel is gone the broker has already put the items back for someone else.
        with contextlib.suppress(*AMQP_ERRORS):
            await self._message.ack()

    async def release(self) -> None:
        # A quorum queue counts this as a delivery: a message released too often is parked.
        with contextlib.suppress(*AMQP_ERRORS):
            await self._message.reject(requeue=True)


class AmqpWorkQueue:
    durable = True

    def __init__(self, broker: Broker, settings: WorkQueueSettings) -> None:
        self._broker = broker
        self.batch = settings.batch
        self.delivery_limit = settings.delivery_limit
        self.attaches = 0  # consumers set up so far (a consumer that lost its queue re-attaches)
        self._closed = asyncio.Event()

    @classmethod
    async def open(cls, broker: Broker, settings: WorkQueueSettings) -> AmqpWorkQueue:
        async with broker.scoped_channel(wait=False) as channel:
            await declare_work(channel, broker.settings, settings.delivery_limit)
        return cls(broker, settings)

    async def put(self, items: Sequence[WorkItem]) -> None:
        name = self._broker.settings.names.work
        bodies = [
            encode_work(items[start : start + self.batch])
            for start in range(0, len(items), self.batch)
        ]
        for start in range(0, len(bodies), _PUBLISH_WINDOW):
            await asyncio.gather(
                *(
                    publish_confirmed(self._broker, body, name, error=QueueUnavailable)
                    for body in bodies[start : start + _PUBLISH_WINDOW]
                )
            )

    def consume(self, prefetch: int) -> AsyncGenerator[AmqpDelivery, None]:
        return self._deliveries(self._broker.settings.names.work, prefetch)

    def parked(self) -> AsyncGenerator[AmqpDelivery, None]:
        """Deliveries the quorum queue dead-lettered (past `x-delivery-limit`)."""
        return self._deliveries(self._broker.settings.names.parked, 64)

    def _deliveries(self, queue_name: str, prefetch: int) -> AsyncGenerator[AmqpDelivery, None]:
        return self._broker.reattaching(
            lambda: self._attach(queue_name, prefetch), queue_name, closed=self._closed
        )

    async def _attach(self, queue_name: str, prefetch: int) -> AsyncGenerator[AmqpDelivery, None]:
        self.attaches += 1
        async with self._broker.scoped_channel() as channel:
            await channel.set_qos(prefetch_count=max(1, prefetch), timeout=SETUP_TIMEOUT_S)
            queue = await channel.get_queue(queue_name, ensure=False)
            async for message in consume(queue, channel, stopping=self._closed):
                try:
                    items = decode_work(message.body)
                except DecodeError as exc:
                    await _refuse(message, queue_name, exc)
                    continue
                yield AmqpDelivery(items, message)

    async def close(self) -> None:
        self._closed.set()


async def _refuse(message: AbstractIncomingMessage, queue_name: str, error: Exception) -> None:
    """A message that is not work: to the parking queue (from there, it is dropped)."""
    log.error(
        "undecodable work message", queue=queue_name, size=len(message.body), error=repr(error)
    )
    with contextlib.suppress(*AMQP_ERRORS):
        await message.reject(requeue=False)
