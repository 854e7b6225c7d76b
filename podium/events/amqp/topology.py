"""Every queue and exchange of one installation (one prefix), declared in one place."""

from __future__ import annotations

import contextlib

import aio_pika
from aio_pika.abc import AbstractChannel
from pamqp.common import FieldTable

from podium.events.amqp.broker import AMQP_ERRORS, SETUP_TIMEOUT_S, Broker
from podium.events.amqp.settings import AmqpSettings


def work_arguments(settings: AmqpSettings) -> FieldTable:
    return {
        "x-queue-type": "quorum",
        "x-delivery-limit": settings.delivery_limit,
        "x-dead-letter-exchange": "",
        "x-dead-letter-routing-key": settings.parked,
    }


async def declare_fanout(channel: AbstractChannel, name: str) -> aio_pika.abc.AbstractExchange:
    return await channel.declare_exchange(
        name, aio_pika.ExchangeType.FANOUT, durable=True, timeout=SETUP_TIMEOUT_S
    )


async def delete_everything(broker: Broker) -> None:
    """Remove this prefix's queues and exchanges (tests clean up with it)."""
    settings = broker.settings
    channel = await broker.channel(wait=False)
    try:
        for queue in (
            settings.events,
            settings.snapshots,
            settings.work,
            settings.parked,
            settings.lock,
        ):
            with contextlib.suppress(*AMQP_ERRORS):
                await channel.queue_delete(queue)
            if channel.is_closed:
                channel = await broker.channel(wait=False)
        for exchange in (settings.stops, settings.heartbeats, settings.topic):
            with contextlib.suppress(*AMQP_ERRORS):
                await channel.exchange_delete(exchange)
            if channel.is_closed:
                channel = await broker.channel(wait=False)
    finally:
        with contextlib.suppress(*AMQP_ERRORS):
            await channel.close()
