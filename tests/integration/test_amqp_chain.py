"""The per-producer hash chains of the log on RabbitMQ (podium.events.amqp.chain): records two
producers appended, read back from the real stream, check; a record changed, removed or forged
breaks its producer's chain there; a re-sent copy does not; the audit trail names them."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aio_pika

from podium.engine import Engine, Role
from podium.events.amqp.broker import STREAM_OFFSET, Broker, consume
from podium.events.amqp.chain import Break, Link, breaks, chain_hash
from podium.events.amqp.log import AmqpEventLog
from podium.events.amqp.settings import AmqpSettings
from podium.events.codec import encode_batch
from podium.events.model import JobReady
from tests.conftest import open_broker, serving, settings_for

EMPTY = encode_batch([])


def ready(seq: int, origin: str) -> list[JobReady]:
    return [JobReady(at=1.0, job=str(seq), origin=origin, seq=seq)]


async def raw_records(broker: Broker, count: int) -> list[tuple[int, bytes, Link | None]]:
    """The first `count` messages of the events stream as they are stored: offset, body, link."""
    found: list[tuple[int, bytes, Link | None]] = []
    async with broker.scoped_channel(streams=True) as channel:
        await channel.set_qos(prefetch_count=100)
        queue = await channel.get_queue(broker.settings.names.events, ensure=False)
        async with asyncio.timeout(20):
            async for message in consume(queue, channel, arguments={STREAM_OFFSET: "first"}):
                offset = message.headers[STREAM_OFFSET]
                assert isinstance(offset, int)
                found.append((offset, message.body, Link.of(message.headers)))
                await message.ack()
                if len(found) == count:
                    break
    return found


async def test_two_producers_chains_check_and_a_change_breaks_them(
    amqp_settings: AmqpSettings,
) -> None:
    async with (
        open_broker(amqp_settings, "chain-a") as a,
        open_broker(amqp_settings, "chain-b") as b,
    ):
        log_a, log_b = await AmqpEventLog.open(a), await AmqpEventLog.open(b)
        for seq in range(1, 7):
            await (log_a if seq % 2 else log_b).append(ready(seq, "a" if seq % 2 else "b"))
        await log_a.head()  # a marker: no link, no break
        stored = await raw_records(a, 7)
        assert breaks(stored, EMPTY) == []
        producers = {link.producer for _, _, link in stored if link is not None}
        assert len(producers) == 2
        assert stored[-1][2] is None

        # What subscribers see: each record's chain and producer.
        seen = []
        async for record in log_b.subscribe(0):
            seen.append(record)
            if len(seen) == 6:
                break
        for record, (_, _, link) in zip(seen, stored, strict=False):
            assert link is not None
            assert (record.chain, record.producer) == (link.chain, link.producer)

        # A record changed, one removed, and a copy re-sent.
        offset, body, link = stored[2]
        assert link is not None
        changed = [*stored[:2], (offset, body.replace(b"3", b"4"), link), *stored[3:]]
        assert breaks(changed, EMPTY) == [
            Break(offset, link.producer, "its chain hash does not match its body")
        ]
        removed = [*stored[:2], *stored[3:]]
        (after,) = [r for r in stored[3:] if r[2] is not None and r[2].producer == link.producer][
            :1
        ]
        assert breaks(removed, EMPTY) == [
            Break(after[0], link.producer, "it does not follow its producer's previous record")
        ]
        assert breaks([*stored[:3], stored[2], *stored[3:]], EMPTY) == []

        # A record forged onto the real stream: a producer's place taken with another body.
        first = stored[0][2]
        assert first is not None
        forged_body = encode_batch(ready(99, "x"))
        forged = Link(first.producer, first.previous, chain_hash(first.previous, forged_body))
        channel = await a.publisher()
        await channel.default_exchange.publish(
            aio_pika.Message(forged_body, headers=forged.headers()),
            routing_key=amqp_settings.names.events,
        )
        with_forgery = await raw_records(a, 8)
        assert [found.why for found in breaks(with_forgery, EMPTY)] == [
            "it does not follow its producer's previous record"
        ]


async def test_the_audit_trail_on_rabbitmq_names_each_records_producer_and_chain(
    tmp_path: Path, amqp_settings: AmqpSettings
) -> None:
    async with open_broker(amqp_settings, "cleanup"):
        settings = settings_for(tmp_path / "api", amqp=amqp_settings)
        engine = await Engine.start(settings, frozenset({Role.API}))
        try:
            async with serving(engine) as api:
                await api.as_new_user("ann", ["tasks:run:*"])
                items = (await api.ok("/audit"))["items"]
        finally:
            await engine.close()
    assert {"user_created", "role_created", "token_issued"} <= {item["type"] for item in items}
    for item in items:
        assert len(bytes.fromhex(item["chain"])) == 32
        assert item["producer"]
