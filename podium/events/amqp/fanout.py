"""Broadcasts on fanout exchanges: stop notices to executors, heartbeats to schedulers.

Each listener binds a queue of its own (exclusive, deleted with its connection), so it hears what
is published while it listens, and nothing from before: the scheduler repeats what matters (stop
notices of jobs still stopping) and heartbeats repeat by nature.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Callable, Mapping
from typing import Final

import aio_pika
import msgspec
import structlog

from podium.events.amqp.broker import (
    RECOVERABLE,
    Broker,
    BrokerUnavailable,
    consume,
)
from podium.events.amqp.topology import declare_fanout, declare_listener
from podium.events.codec import decode_stop, encode_stop
from podium.events.ports import QueueUnavailable
from podium.events.work import StopNotice

log = structlog.get_logger(__name__)


class Fanout:
    def __init__(self, broker: Broker, exchange: str) -> None:
        self._broker = broker
        self._exchange = exchange

    async def declare(self) -> None:
        async with self._broker.scoped_channel(wait=False) as channel:
            await declare_fanout(channel, self._exchange)

    async def publish(self, body: bytes) -> None:
        """Raises QueueUnavailable. Nobody listening is fine: the message is simply dropped."""
        try:
            channel = await self._broker.publisher()
            exchange = await channel.get_exchange(self._exchange, ensure=False)
            await exchange.publish(
                aio_pika.Message(body),
                routing_key="",
                mandatory=False,
                timeout=self._broker.settings.confirm_timeout_s,
            )
        except BrokerUnavailable as exc:
            raise QueueUnavailable(str(exc)) from exc
        except RECOVERABLE as exc:
            raise QueueUnavailable(f"broadcast on {self._exchange} failed: {exc!r}") from exc

    def listen(self) -> AsyncGenerator[bytes, None]:
        return self._broker.reattaching(self._attach, self._exchange)

    async def _attach(self) -> AsyncGenerator[bytes, None]:
        async with self._broker.scoped_channel() as channel:
            queue = await declare_listener(channel, self._exchange)
            async for message in consume(queue, channel, no_ack=True):
                yield message.body


class AmqpStopBus:
    def __init__(self, broker: Broker) -> None:
        self._fanout = Fanout(broker, broker.settings.names.stops)

    @classmethod
    async def open(cls, broker: Broker) -> AmqpStopBus:
        bus = cls(broker)
        await bus._fanout.declare()
        return bus

    async def publish(self, notice: StopNotice) -> None:
        await self._fanout.publish(encode_stop(notice))

    async def subscribe(self) -> AsyncGenerator[StopNotice, None]:
        async for body in self._fanout.listen():
            try:
                yield decode_stop(body)
            except msgspec.DecodeError:
                log.error("undecodable stop notice dropped", size=len(body))


class _Beat(msgspec.Struct, array_like=True, frozen=True):
    executor: str
    at: float


_beat_decoder: Final = msgspec.msgpack.Decoder(_Beat)


class AmqpHeartbeats:
    """Executors beat; a scheduler `listen`s in the background and reads `last_seen`."""

    def __init__(self, broker: Broker, clock: Callable[[], float] = time.time) -> None:
        self._fanout = Fanout(broker, broker.settings.names.heartbeats)
        self._seen: dict[str, float] = {}
        self._clock = clock

    @classmethod
    async def open(cls, broker: Broker) -> AmqpHeartbeats:
        beats = cls(broker)
        await beats._fanout.declare()
        return beats

    async def beat(self, executor: str, at: float) -> None:
        await self._fanout.publish(msgspec.msgpack.encode(_Beat(executor, at)))

    def last_seen(self) -> Mapping[str, float]:
        return self._seen

    async def listen(self) -> None:
        async for body in self._fanout.listen():
            try:
                beat = _beat_decoder.decode(body)
            except msgspec.DecodeError:
                continue
            # When the beat arrived, by this process's clock: executors' clocks may disagree.
            self._seen[beat.executor] = self._clock()
