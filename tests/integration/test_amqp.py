"""The RabbitMQ adapters beyond the port contracts: two contenders for leadership, snapshots
and retention, recovery from a killed connection."""

from __future__ import annotations

import asyncio
import itertools
import json
import subprocess
from dataclasses import replace
from typing import Any

import pytest

from podium.events.amqp import broker as broker_module
from podium.events.amqp.broker import Broker
from podium.events.amqp.leader import AmqpLeadership
from podium.events.amqp.log import AmqpEventLog
from podium.events.amqp.settings import AmqpSettings
from podium.events.amqp.snapshots import PART_BYTES, AmqpSnapshots
from podium.events.amqp.work import AmqpWorkQueue
from podium.events.fold import fold_all
from podium.events.jobspec import RunSpec
from podium.events.model import (
    JobReady,
    TokenIssued,
)
from podium.events.ports import LogTruncated, LogUnavailable, Record
from podium.events.projector import Projector
from podium.events.snapshots import Snapshot
from podium.events.work import WorkItem, WorkQueueSettings
from tests.conftest import open_broker


def close_connections(name_part: str) -> int:
    """Kill the broker connections whose client name contains `name_part`, as an operator
    (or a network fault) would."""
    listing = subprocess.run(
        [
            "rabbitmqctl",
            "list_connections",
            "pid",
            "client_properties",
            "--no-table-headers",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    killed = 0
    for line in listing.splitlines():
        if name_part in line:
            pid = line.split()[0]
            subprocess.run(
                ["rabbitmqctl", "close_connection", pid, "test: connection killed"],
                capture_output=True,
                check=True,
            )
            killed += 1
    return killed


async def until(predicate: object, timeout_s: float = 15.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not predicate():  # type: ignore[operator]
            await asyncio.sleep(0.05)


async def test_exactly_one_scheduler_leads_and_a_standby_takes_over(
    amqp_settings: AmqpSettings,
) -> None:
    async with open_broker(amqp_settings, "leader-cleanup"):
        first_broker = await Broker.open(amqp_settings, "leader-a")
        second_broker = await Broker.open(amqp_settings, "leader-b")
        first, second = AmqpLeadership(first_broker), AmqpLeadership(second_broker)
        tasks = [asyncio.ensure_future(first.run()), asyncio.ensure_future(second.run())]
        try:
            await until(lambda: first.is_leader or second.is_leader)
            await asyncio.sleep(0.5)
            assert first.is_leader != second.is_leader
            leader_broker, standby = (
                (first_broker, second) if first.is_leader else (second_broker, first)
            )
            await leader_broker.close()  # the leader goes away
            await until(lambda: standby.is_leader, timeout_s=10)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await first_broker.close()
            await second_broker.close()


async def test_a_snapshot_larger_than_a_part_comes_back_whole(broker: Broker) -> None:
    store = await AmqpSnapshots.open(broker)
    assert await store.latest() is None
    history = [
        TokenIssued(
            at=1.0,
            token_sha256=f"{i:064x}",  # one token per user
            user_id=f"user-{i}",
            login=f"login-{i}" * 40,
            origin="s",
            seq=i + 1,
        )
        for i in range(40_000)
    ]
    state = fold_all(history)
    big = Snapshot(next_offset=12, state=state)
    await store.save(Snapshot(next_offset=3, state=fold_all(history[:10])))
    await store.save(big)
    latest = await store.latest()
    assert latest == big
    assert len(json.dumps([u.login for u in state.users.values()])) > PART_BYTES  # several parts


async def test_a_reader_resumes_after_its_connection_is_killed(amqp_settings: AmqpSettings) -> None:
    settings = amqp_settings
    async with open_broker(settings, "resume-writer") as writer:
        log = await AmqpEventLog.open(writer)
        reader = f"resume-reader-{settings.prefix}"  # no other test run's connection has it
        reader_broker = await Broker.open(settings, reader)
        try:
            reader_log = await AmqpEventLog.open(reader_broker)
            seen: list[Record] = []

            async def read() -> None:
                async for record in reader_log.subscribe(0):
                    seen.append(record)

            reading = asyncio.ensure_future(read())
            for seq in range(1, 51):
                await log.append([JobReady(at=1.0, job=str(seq), origin="w", seq=seq)])
            await until(lambda: len(seen) == 50)
            assert close_connections(f"podium-{reader}-streams") == 1
            for seq in range(51, 101):
                await log.append([JobReady(at=1.0, job=str(seq), origin="w", seq=seq)])
            await until(lambda: len(seen) == 100)
            await asyncio.sleep(0.3)
            offsets = [record.offset for record in seen]
            assert offsets == list(range(offsets[0], offsets[0] + 100))  # no gap, no repeat
            reading.cancel()
        finally:
            await reader_broker.close()


async def test_retention_is_survived_by_starting_from_a_snapshot(
    amqp_settings: AmqpSettings,
) -> None:
    tiny = replace(amqp_settings, log_max_bytes=60_000, log_segment_bytes=20_000)
    async with open_broker(tiny, "retention") as broker:
        log = await AmqpEventLog.open(broker)
        store = await AmqpSnapshots.open(broker)
        writer = Projector(log)
        following = asyncio.ensure_future(writer.run())
        seq = 0
        for batch in range(40):
            events = []
            for node in range(30):
                seq += 1
                events.append(
                    TokenIssued(
                        at=float(seq),
                        token_sha256=f"{seq:064d}",
                        user_id=f"u{batch}",
                        login=f"n{node}",
                        origin="w",
                        seq=seq,
                    )
                )
            await log.append(events)
            if batch == 29:  # a snapshot part way, as the scheduler takes them
                await writer.sync()
                await store.save(Snapshot(writer.next_offset, writer.state))
        await writer.sync()
        following.cancel()

        fresh = Projector(log)  # from the beginning: those records are gone
        with pytest.raises(LogTruncated):
            await asyncio.wait_for(fresh.run(), timeout=10)

        snapshot = await store.latest()
        assert snapshot is not None
        restored = Projector(log, snapshot.state, snapshot.next_offset)
        running = asyncio.ensure_future(restored.run())
        await asyncio.wait_for(restored.caught_up.wait(), timeout=10)
        assert restored.state == writer.state
        assert restored.state.position == 1200
        running.cancel()


async def test_a_reader_resumes_after_any_message_across_segment_boundaries(
    amqp_settings: AmqpSettings,
) -> None:
    """RabbitMQ numbers the tracking chunk that starts each segment in the offset sequence, so
    the offset after a segment's last message holds no message. A reader resuming there (a
    snapshot or a checkpoint taken after that message) gets the next record, not a claim that
    retention dropped what it needs."""
    small = replace(amqp_settings, log_segment_bytes=2_000)
    async with open_broker(small, "segments") as broker:
        log = await AmqpEventLog.open(broker)
        for seq in range(1, 41):
            await log.append([JobReady(at=1.0, job=f"{seq:0200d}", origin="w", seq=seq)])
        records: list[Record] = []
        async with asyncio.timeout(20):
            async for record in log.subscribe(0):
                records.append(record)
                if len(records) == 40:
                    break
        offsets = [record.offset for record in records]
        assert offsets != list(range(40))  # the segments' tracking chunks left gaps
        for before, after in itertools.pairwise(records):
            async with asyncio.timeout(10):
                resumed = await anext(log.subscribe(before.offset + 1))
            assert resumed.offset == after.offset
            assert resumed.events == after.events


async def test_a_consumer_the_broker_cancels_attaches_again(broker: Broker) -> None:
    """Deleting a queue makes RabbitMQ cancel its consumers (as a restarting queue leader does)
    while the channel stays open: the consumer must notice and attach again."""
    queue = await AmqpWorkQueue.open(broker, WorkQueueSettings())
    got: list[str] = []

    async def pull() -> None:
        async for delivery in queue.consume(prefetch=4):
            got.extend(item.node for item in delivery.items)
            await delivery.ack()

    pulling = asyncio.ensure_future(pull())
    await queue.put([work_item("before")])
    await until(lambda: got == ["before"])
    assert queue.attaches == 1
    async with broker.scoped_channel() as channel:
        await channel.queue_delete(broker.settings.names.work)
    await until(lambda: queue.attaches > 1)  # it saw the cancel and tries to attach again
    await AmqpWorkQueue.open(broker, WorkQueueSettings())  # the queue comes back, empty
    await queue.put([work_item("after")])
    await until(lambda: got == ["before", "after"])
    pulling.cancel()
    await queue.close()


def work_item(node: str) -> WorkItem:
    spec = RunSpec(kind="task", environment="production", task="mod::t")
    return WorkItem(job="1", node=node, attempt=1, transport="sim", config={}, spec=spec)


async def test_a_marker_the_broker_refuses_is_published_again(
    broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """RabbitMQ 3.10 once refused the first publish to a stream declared a moment before
    (INTERNAL_ERROR: its writer not yet known) when two api replicas started at once, and the
    second failed to start. That race cannot be made on demand, so the refusal is injected
    once; the marker then goes to the real broker again and reading the latest snapshot ends."""
    store = await AmqpSnapshots.open(broker)
    real = broker_module.publish_confirmed
    calls: list[bytes] = []

    async def refused_once(*args: Any, **kwargs: Any) -> None:
        calls.append(args[1])
        if len(calls) == 1:
            raise LogUnavailable("0 bytes not confirmed: ConnectionInternalError('INTERNAL_ERROR')")
        await real(*args, **kwargs)

    monkeypatch.setattr(broker_module, "publish_confirmed", refused_once)
    assert await store.latest() is None
    assert calls == [b"", b""]  # the marker, refused, then again
