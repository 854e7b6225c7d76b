"""The event log on a RabbitMQ stream: one confirmed message per batch of events.

Readers follow the stream from an offset with a per-consumer prefetch, ack every delivery (acks
are a stream consumer's credit) only after the record has been taken, never nack or reject
(either closes the connection on a stream), and keep their own position: after any reconnect they
attach again at the next offset they have not yet yielded. A delivery below it is a replay and
is skipped; a first delivery above it means retention dropped what was asked for (LogTruncated).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncGenerator, Sequence
from typing import Final

import aio_pika
import structlog
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage
from pamqp.common import FieldTable

from podium.events.amqp.broker import (
    AMQP_ERRORS,
    RECOVERABLE,
    SETUP_TIMEOUT_S,
    Broker,
    BrokerUnavailable,
    consume,
)
from podium.events.amqp.settings import AmqpSettings
from podium.events.codec import decode_batch, encode_batch
from podium.events.model import Event
from podium.events.ports import Head, LogTruncated, LogUnavailable, PortError, Record

log = structlog.get_logger(__name__)

MARKER_HEADER: Final = "x-podium-marker"
OFFSET_HEADER: Final = "x-stream-offset"
_EMPTY_BATCH: Final = encode_batch([])
_RESUBSCRIBE_S: Final = 0.5


def stream_arguments(max_age: str, max_bytes: int, segment_bytes: int) -> FieldTable:
    """The one place stream arguments are spelled: a redeclare with others is refused."""
    return {
        "x-queue-type": "stream",
        "x-max-age": max_age,
        "x-max-length-bytes": max_bytes,
        "x-stream-max-segment-size-bytes": segment_bytes,
    }


async def declare_stream(channel: AbstractChannel, name: str, arguments: FieldTable) -> None:
    await channel.declare_queue(name, durable=True, arguments=arguments, timeout=SETUP_TIMEOUT_S)


async def publish_confirmed(
    broker: Broker,
    body: bytes,
    routing_key: str,
    headers: FieldTable | None = None,
    *,
    error: type[PortError] = LogUnavailable,
) -> None:
    """Publish to a queue through the default exchange and wait for the broker's confirm.
    Raises `error` when no confirm comes (the message may still have landed)."""
    message = aio_pika.Message(
        body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT, headers=headers or {}
    )
    try:
        channel = await broker.publisher()
        await channel.default_exchange.publish(
            message, routing_key=routing_key, timeout=broker.settings.confirm_timeout_s
        )
    except BrokerUnavailable as exc:
        if error is LogUnavailable:
            raise LogUnavailable(str(exc), sent=False) from exc
        raise error(str(exc)) from exc
    except (*AMQP_ERRORS, aio_pika.exceptions.PublishError) as exc:
        raise error(f"{len(body)} bytes to {routing_key} not confirmed: {exc!r}") from exc


class AmqpEventLog:
    def __init__(self, broker: Broker) -> None:
        self._broker = broker
        self._settings: AmqpSettings = broker.settings
        self._closed = asyncio.Event()

    @classmethod
    async def open(cls, broker: Broker) -> AmqpEventLog:
        settings = broker.settings
        async with broker.scoped_channel(wait=False) as channel:
            await declare_stream(
                channel,
                settings.events,
                stream_arguments(
                    settings.log_max_age, settings.log_max_bytes, settings.log_segment_bytes
                ),
            )
        return cls(broker)

    async def append(self, batch: Sequence[Event]) -> None:
        await publish_confirmed(self._broker, encode_batch(batch), self._settings.events)

    async def head(self) -> Head:
        """The end is learnt by appending an empty marker record: a reader that has seen it has
        seen everything appended before. (A stream cannot tell its end over AMQP 0.9.1.)"""
        marker = uuid.uuid4().hex
        await publish_confirmed(
            self._broker, _EMPTY_BATCH, self._settings.events, {MARKER_HEADER: marker}
        )
        return Head(marker=marker)

    async def subscribe(self, from_offset: int) -> AsyncGenerator[Record, None]:
        position = _Position(from_offset)
        while not self._closed.is_set():
            try:
                async for record in self._attach(position):
                    yield record
            except RECOVERABLE as exc:
                log.warning("log consumer interrupted", error=repr(exc), next=position.next)
                await asyncio.sleep(_RESUBSCRIBE_S)

    async def _attach(self, position: _Position) -> AsyncGenerator[Record, None]:
        """One consumer on one channel, until that channel closes."""
        async with self._broker.scoped_channel(streams=True) as channel:
            await channel.set_qos(
                prefetch_count=self._settings.stream_prefetch, timeout=SETUP_TIMEOUT_S
            )
            queue = await channel.get_queue(self._settings.events, ensure=False)
            requested = position.next
            arguments = {"x-stream-offset": requested}
            async for message in consume(
                queue, channel, stopping=self._closed, arguments=arguments
            ):
                record = _record(message, position, requested)
                if record is not None:
                    yield record
                await _ack(message)

    async def close(self) -> None:
        self._closed.set()


class _Position:
    """The next offset a subscription has not yielded yet, and whether it has seen anything."""

    def __init__(self, next_offset: int) -> None:
        self.next = next_offset
        self.started = False


def _record(message: AbstractIncomingMessage, position: _Position, requested: int) -> Record | None:
    raw = message.headers[OFFSET_HEADER]
    offset = raw if isinstance(raw, int) else int(str(raw))
    if offset < position.next:
        return None  # a replay from the chunk boundary, or after a reconnect
    if offset > position.next and not position.started and offset > requested:
        raise LogTruncated(
            f"asked for offset {position.next}, the stream starts at {offset}: "
            "retention dropped records this reader needs"
        )
    position.next = offset + 1
    position.started = True
    marker = message.headers.get(MARKER_HEADER)
    return Record(offset, decode_batch(message.body), str(marker) if marker else "")


async def _ack(message: AbstractIncomingMessage) -> None:
    with contextlib.suppress(*AMQP_ERRORS):  # a closed channel: the ack does not matter now
        await message.ack()
