"""The topic exchange that mirrors job events for any AMQP client.

Routing keys are `job.<name>.<type>` with the event types of `/jobs/<id>/events` (`node_running`,
`node_finished`, ..., `job_finished`); bind `job.17.#` for one job or `job.#` for all. Each
message body is a JSON array of the events (in the API's shape, ids included) that one folded
record produced for that key, oldest first. The active scheduler publishes it after folding; it
is a live feed (no confirms, nothing kept for absent subscribers): the log stays the record.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import defaultdict
from typing import Final

import aio_pika
import structlog

from podium.events.amqp.broker import RECOVERABLE, Broker
from podium.events.amqp.topology import declare_topic
from podium.events.ports import Leadership, Record
from podium.events.render import job_event, new_job_events
from podium.events.state import State
from podium.jsontypes import Json

log = structlog.get_logger(__name__)
_MAX_PENDING: Final = 10_000  # messages kept while the broker is away; older ones are dropped


class TopicMirror:
    """Publishes only while `leadership` says this process leads: one mirror per cluster."""

    def __init__(self, broker: Broker, leadership: Leadership) -> None:
        self._broker = broker
        self._leadership = leadership
        self._position = 0
        self._pending: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue(_MAX_PENDING)

    @classmethod
    async def open(cls, broker: Broker, leadership: Leadership) -> TopicMirror:
        async with broker.scoped_channel(wait=False) as channel:
            await declare_topic(channel, broker.settings)
        return cls(broker, leadership)

    def on_record(self, record: Record, state: State) -> None:
        """A projector listener: queue what this record added to jobs' event lists."""
        first, self._position = self._position, state.position
        if not self._leadership.is_leader:
            return
        grouped: dict[str, list[Json]] = defaultdict(list)
        for job, event in new_job_events(record, state, first):
            grouped[f"job.{job.name}.{event.type}"].append(job_event(job, event))
        for key, events in grouped.items():
            with contextlib.suppress(asyncio.QueueFull):
                self._pending.put_nowait((key, json.dumps(events).encode()))

    async def run(self) -> None:
        """Publish what the listener queued, for as long as the process runs."""
        channel = None
        exchange = None
        while True:
            key, body = await self._pending.get()
            try:
                if channel is None or channel.is_closed or exchange is None:
                    channel = await self._broker.channel(publisher_confirms=False)
                    exchange = await channel.get_exchange(self._broker.settings.names.topic)
                message = aio_pika.Message(body, content_type="application/json")
                await exchange.publish(message, routing_key=key, mandatory=False)
            except RECOVERABLE as exc:
                log.warning("mirror publish failed", routing_key=key, error=repr(exc))
                channel = None
