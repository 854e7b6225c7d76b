"""Every queue and exchange of one installation (one prefix), declared in one place.

A redeclare with other arguments is refused by the broker, so each name's arguments are spelled
here once; the adapters call these when they open, and `delete_everything` removes them all.
"""

from __future__ import annotations

import contextlib
from typing import Final

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractQueue
from pamqp.common import FieldTable

from podium.events.amqp.broker import AMQP_ERRORS, SETUP_TIMEOUT_S, Broker
from podium.events.amqp.settings import AmqpSettings

LOCK_ARGUMENTS: Final[FieldTable] = {"x-queue-type": "quorum", "x-single-active-consumer": True}


def _stream_arguments(max_age: str, max_bytes: int, segment_bytes: int) -> FieldTable:
    return {
        "x-queue-type": "stream",
        "x-max-age": max_age,
        "x-max-length-bytes": max_bytes,
        "x-stream-max-segment-size-bytes": segment_bytes,
    }


def work_arguments(settings: AmqpSettings, delivery_limit: int) -> FieldTable:
    """A quorum queue whose messages delivered too often go to the parking queue."""
    return {
        "x-queue-type": "quorum",
        "x-delivery-limit": delivery_limit,
        "x-dead-letter-exchange": "",
        "x-dead-letter-routing-key": settings.names.parked,
    }


async def _declare_queue(
    channel: AbstractChannel, name: str, arguments: FieldTable
) -> AbstractQueue:
    return await channel.declare_queue(
        name, durable=True, arguments=arguments, timeout=SETUP_TIMEOUT_S
    )


async def declare_events(channel: AbstractChannel, settings: AmqpSettings) -> None:
    """The log: a stream, with the retention the settings give."""
    arguments = _stream_arguments(
        settings.log_max_age, settings.log_max_bytes, settings.log_segment_bytes
    )
    await _declare_queue(channel, settings.names.events, arguments)


async def declare_snapshots(channel: AbstractChannel, settings: AmqpSettings) -> None:
    """Snapshots: a small stream of their own, in small segments (retention drops whole ones)."""
    arguments = _stream_arguments(
        settings.log_max_age, settings.snapshot_max_bytes, settings.snapshot_segment_bytes
    )
    await _declare_queue(channel, settings.names.snapshots, arguments)


async def declare_work(
    channel: AbstractChannel, settings: AmqpSettings, delivery_limit: int
) -> None:
    """Node-run work, and the parking queue it dead-letters to (declared first)."""
    await _declare_queue(channel, settings.names.parked, {"x-queue-type": "quorum"})
    await _declare_queue(channel, settings.names.work, work_arguments(settings, delivery_limit))


async def declare_lock(channel: AbstractChannel, settings: AmqpSettings) -> AbstractQueue:
    """The scheduler lock: a single-active-consumer queue."""
    return await _declare_queue(channel, settings.names.lock, LOCK_ARGUMENTS)


async def declare_fanout(channel: AbstractChannel, name: str) -> AbstractExchange:
    """Stop notices or heartbeats."""
    return await channel.declare_exchange(
        name, aio_pika.ExchangeType.FANOUT, durable=True, timeout=SETUP_TIMEOUT_S
    )


async def declare_listener(channel: AbstractChannel, fanout: str) -> AbstractQueue:
    """A listener's own queue on a fanout: it hears what is published while it listens, and
    goes with its connection."""
    exchange = await declare_fanout(channel, fanout)
    queue = await channel.declare_queue(exclusive=True, auto_delete=True, timeout=SETUP_TIMEOUT_S)
    await queue.bind(exchange, timeout=SETUP_TIMEOUT_S)
    return queue


async def declare_topic(channel: AbstractChannel, settings: AmqpSettings) -> AbstractExchange:
    """The mirror of job events for AMQP subscribers."""
    return await channel.declare_exchange(
        settings.names.topic, aio_pika.ExchangeType.TOPIC, durable=True, timeout=SETUP_TIMEOUT_S
    )


async def delete_everything(broker: Broker) -> None:
    """Remove this prefix's queues and exchanges (tests clean up with it)."""
    names = broker.settings.names
    queues = (names.events, names.snapshots, names.work, names.parked, names.lock)
    exchanges = (names.stops, names.heartbeats, names.topic)
    channel = await broker.channel(wait=False)
    try:
        for queue in queues:
            with contextlib.suppress(*AMQP_ERRORS):
                await channel.queue_delete(queue)
            if channel.is_closed:
                channel = await broker.channel(wait=False)
        for exchange in exchanges:
            with contextlib.suppress(*AMQP_ERRORS):
                await channel.exchange_delete(exchange)
            if channel.is_closed:
                channel = await broker.channel(wait=False)
    finally:
        with contextlib.suppress(*AMQP_ERRORS):
            await channel.close()
