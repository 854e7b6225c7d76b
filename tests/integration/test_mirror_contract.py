"""One contract for every Mirror adapter (the RabbitMQ topic exchange): job events as clients
see them, routed by job and type, published only while this process leads."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aio_pika

from podium.events.amqp.broker import Broker
from podium.events.amqp.leader import AmqpLeadership
from podium.events.amqp.mirror import TopicMirror
from podium.events.endings import failed, finished, run_ended, run_skipped
from podium.events.fold import fold
from podium.events.memory import SoleLeader
from podium.events.model import Event, NodeRunDispatched
from podium.events.ports import Leadership, Mirror, Record
from podium.events.state import State
from podium.jsontypes import Json
from tests.builders import job_requested

HISTORY: list[Event] = [
    job_requested(["a", "b"], request_id="r1"),
    job_requested(["c"], request_id="r2"),
    NodeRunDispatched(at=2.0, job="1", node="a", attempt=1),
    NodeRunDispatched(at=2.0, job="2", node="c", attempt=1),
    run_ended("1", "a", 1, 3.0, finished({"ok": True}, "")),
    run_ended("2", "c", 1, 3.0, failed(None, "")),
    run_skipped("1", "b", 3.0, "stopped"),
]


@asynccontextmanager
async def subscribed(broker: Broker, key: str) -> AsyncIterator[list[tuple[str, Json]]]:
    """What the topic exchange routes to `key`, as (routing key, body) pairs."""
    got: list[tuple[str, Json]] = []
    channel = await broker.now().channel()
    queue = await channel.declare_queue(exclusive=True)
    await queue.bind(broker.settings.names.topic, routing_key=key)

    async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        got.append((message.routing_key or "", json.loads(message.body)))

    await queue.consume(on_message, no_ack=True)
    try:
        yield got
    finally:
        await channel.close()


@asynccontextmanager
async def mirroring(broker: Broker, leadership: Leadership) -> AsyncIterator[Mirror]:
    mirror = await TopicMirror.open(broker, leadership)
    publishing = asyncio.ensure_future(mirror.run())
    try:
        yield mirror
    finally:
        publishing.cancel()
        await asyncio.gather(publishing, return_exceptions=True)


def replay(mirror: Mirror) -> None:
    state = State()
    for offset, event in enumerate(HISTORY):
        fold(state, event)
        mirror.on_record(Record(offset, [event]), state)


async def test_the_leaders_mirror_routes_job_events_by_job_and_type(broker: Broker) -> None:
    async with mirroring(broker, SoleLeader()) as mirror, subscribed(broker, "job.1.#") as got:
        replay(mirror)
        async with asyncio.timeout(10):
            while len(got) < 2:
                await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)
    assert [key for key, _ in got] == ["job.1.node_finished", "job.1.node_skipped"]
    assert got[0][1] == [
        {
            "id": "5",
            "type": "node_finished",
            "timestamp": "1970-01-01T00:00:03Z",
            "details": {"node": "a", "detail": {"ok": True}},
            "message": "Finished task run on a",
        }
    ]


async def test_a_mirror_whose_process_does_not_lead_publishes_nothing(broker: Broker) -> None:
    standby = AmqpLeadership(broker)  # not contending: it does not lead
    async with mirroring(broker, standby) as mirror, subscribed(broker, "job.#") as got:
        replay(mirror)
        await asyncio.sleep(0.5)
    assert got == []
