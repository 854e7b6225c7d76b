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

import structlog
from aio_pika.abc import AbstractIncomingMessage

from podium.events.amqp.broker import (
    AMQP_ERRORS,
    MARKER_HEADER,
    SETUP_TIMEOUT_S,
    STREAM_OFFSET,
    Broker,
    consume,
    publish_confirmed,
    publish_marker,
)
from podium.events.amqp.chain import Link, ProducerChain
from podium.events.amqp.settings import AmqpSettings
from podium.events.amqp.topology import declare_events
from podium.events.codec import decode_batch, encode_batch
from podium.events.model import Event
from podium.events.ports import Head, LogTruncated, LogUnavailable, Record

log = structlog.get_logger(__name__)

_EMPTY_BATCH: Final = encode_batch([])


class AmqpEventLog:
    def __init__(self, broker: Broker) -> None:
        self._broker = broker
        self._settings: AmqpSettings = broker.settings
        self._closed = asyncio.Event()
        self._chain = ProducerChain(uuid.uuid4().hex)
        self._appending = asyncio.Lock()  # the chain follows the stream's order of our records

    @classmethod
    async def open(cls, broker: Broker) -> AmqpEventLog:
        async with broker.scoped_channel(wait=False) as channel:
            await declare_events(channel, broker.settings)
        return cls(broker)

    async def append(self, batch: Sequence[Event]) -> None:
        """One at a time (the producer's loop appends so anyway), so that this producer's
        chain follows the order its records have on the stream."""
        body = encode_batch(batch)
        async with self._appending:
            link = self._chain.next(body)
            await publish_confirmed(self._broker, body, self._settings.names.events, link.headers())
            self._chain.confirmed(link)

    async def head(self) -> Head:
        """The end is learnt by appending an empty marker record: a reader that has seen it has
        seen everything appended before. (A stream cannot tell its end over AMQP 0.9.1.)"""
        marker = uuid.uuid4().hex
        await publish_marker(self._broker, _EMPTY_BATCH, self._settings.names.events, marker)
        return Head(marker=marker)

    async def first_offset(self) -> int:
        """The offset of the first record the stream still holds (retention drops the oldest
        segments): a reader can start there or later, not before. Appends a marker to learn
        it, so an empty stream answers the marker's own."""
        marker = uuid.uuid4().hex
        await publish_marker(self._broker, _EMPTY_BATCH, self._settings.names.events, marker)
        async with self._broker.scoped_channel(streams=True) as channel:
            await channel.set_qos(prefetch_count=1, timeout=SETUP_TIMEOUT_S)
            queue = await channel.get_queue(self._settings.names.events, ensure=False)
            arguments = {STREAM_OFFSET: "first"}
            async for message in consume(queue, channel, arguments=arguments):
                await _ack(message)
                return _offset(message)
        raise LogUnavailable("the log's channel closed before its first record was read")

    async def subscribe(self, from_offset: int) -> AsyncGenerator[Record, None]:
        position = _Position(from_offset)
        async for record in self._broker.reattaching(
            lambda: self._attach(position),
            "log",
            closed=self._closed,
            context=lambda: {"next": position.next},
        ):
            yield record

    async def _attach(self, position: _Position) -> AsyncGenerator[Record, None]:
        """One consumer on one channel, until that channel closes."""
        async with self._broker.scoped_channel(streams=True) as channel:
            await channel.set_qos(
                prefetch_count=self._settings.stream_prefetch, timeout=SETUP_TIMEOUT_S
            )
            queue = await channel.get_queue(self._settings.names.events, ensure=False)
            # Attach at the last message folded, not at the next offset: RabbitMQ numbers
            # entries that are not messages in the same sequence (the tracking chunk at the
            # start of each segment), and a reader asking for one gets the next message, which
            # looks just like a gap retention made. The last message folded is delivered
            # again and skipped; delivered first is something after it only if retention
            # dropped it (then maybe more: the reader's state is behind the stream).
            anchor = max(position.next - 1, 0)
            first = not position.started
            async for message in consume(
                queue, channel, stopping=self._closed, arguments={STREAM_OFFSET: anchor}
            ):
                if first and _offset(message) > anchor:
                    raise LogTruncated(
                        f"asked for offset {anchor}, the stream starts at "
                        f"{_offset(message)}: retention dropped records this reader needs"
                    )
                first = False
                record = _record(message, position)
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


def _offset(message: AbstractIncomingMessage) -> int:
    raw = message.headers[STREAM_OFFSET]
    return raw if isinstance(raw, int) else int(str(raw))


def _record(message: AbstractIncomingMessage, position: _Position) -> Record | None:
    offset = _offset(message)
    if offset < position.next:
        return None  # the anchor, a replay from the chunk boundary, or after a reconnect
    position.next = offset + 1
    position.started = True
    marker = message.headers.get(MARKER_HEADER)
    link = Link.of(message.headers)
    events = decode_batch(message.body)
    if link is None:
        return Record(offset, events, str(marker) if marker else "")
    return Record(offset, events, chain=link.chain, producer=link.producer)


async def _ack(message: AbstractIncomingMessage) -> None:
    with contextlib.suppress(*AMQP_ERRORS):  # a closed channel: the ack does not matter now
        await message.ack()
