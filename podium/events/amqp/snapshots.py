"""Snapshots on a small stream of their own.

A snapshot can be larger than a message should be (RabbitMQ 4 lowers the limit to 16 MiB), so it
goes as numbered parts sharing an id. Reading finds the newest complete one: read the stream from
its first retained message up to a marker appended for the purpose. Retention keeps the stream
small; its segments are small too, because retention drops whole segments only.
"""

from __future__ import annotations

import asyncio
import uuid
import zlib
from collections.abc import Mapping
from typing import Final

import msgspec
import structlog
from pamqp.common import FieldTable

from podium.events.amqp.broker import (
    MARKER_HEADER,
    SETUP_TIMEOUT_S,
    STREAM_OFFSET,
    Broker,
    BrokerUnavailable,
    consume,
    publish_confirmed,
    publish_marker,
)
from podium.events.amqp.topology import declare_snapshots
from podium.events.snapshots import Snapshot, decode_snapshot, encode_snapshot

log = structlog.get_logger(__name__)
PART_BYTES: Final = 4 * 1024 * 1024
_ID, _PART, _PARTS = "x-snapshot-id", "x-part", "x-parts"
_NEXT = "x-next-offset"  # of the snapshot: the first log record it does not cover
_READ_TIMEOUT_S: Final = 60.0


class AmqpSnapshots:
    def __init__(self, broker: Broker) -> None:
        self._broker = broker

    @classmethod
    async def open(cls, broker: Broker) -> AmqpSnapshots:
        async with broker.scoped_channel(wait=False) as channel:
            await declare_snapshots(channel, broker.settings)
        return cls(broker)

    async def save(self, snapshot: Snapshot) -> None:
        data = encode_snapshot(snapshot)
        snapshot_id = uuid.uuid4().hex
        parts = [data[i : i + PART_BYTES] for i in range(0, len(data), PART_BYTES)] or [b""]
        for index, part in enumerate(parts):
            headers: FieldTable = {
                _ID: snapshot_id,
                _PART: str(index),
                _PARTS: str(len(parts)),
                _NEXT: str(snapshot.next_offset),
            }
            await publish_confirmed(
                self._broker, part, self._broker.settings.names.snapshots, headers
            )
        log.info("snapshot saved", next_offset=snapshot.next_offset, bytes=len(data))

    async def latest(self) -> Snapshot | None:
        marker = uuid.uuid4().hex
        await publish_marker(self._broker, b"", self._broker.settings.names.snapshots, marker)
        async with asyncio.timeout(_READ_TIMEOUT_S):
            data = await self._newest_until(marker)
        if data is None:
            return None
        try:
            return decode_snapshot(data)
        except (zlib.error, msgspec.DecodeError) as exc:
            log.warning("snapshot unreadable; folding the log instead", error=repr(exc))
            return None

    async def covering(self, first_offset: int) -> Snapshot | None:
        """The oldest snapshot from which the log can still be folded: the first whose
        `next_offset` is `first_offset` (the log's first record) or later. None when there is
        none. A replica without a projection folds from it to build its history
        (docs/history.md); snapshots are small (live state), so each one read on the way
        costs little."""
        marker = uuid.uuid4().hex
        await publish_marker(self._broker, b"", self._broker.settings.names.snapshots, marker)
        async with asyncio.timeout(_READ_TIMEOUT_S):
            return await self._first_covering(marker, first_offset)

    async def _first_covering(self, marker: str, first_offset: int) -> Snapshot | None:
        async with self._broker.scoped_channel(streams=True) as channel:
            await channel.set_qos(prefetch_count=8, timeout=SETUP_TIMEOUT_S)
            queue = await channel.get_queue(self._broker.settings.names.snapshots, ensure=False)
            assembly = _Assembly(first_offset)
            messages = consume(queue, channel, arguments={STREAM_OFFSET: "first"})
            async for message in messages:
                await message.ack()
                if message.headers.get(MARKER_HEADER) == marker:
                    return None
                if assembly.add(message.headers, message.body) and assembly.newest is not None:
                    try:
                        snapshot = decode_snapshot(assembly.newest)
                    except (zlib.error, msgspec.DecodeError) as exc:
                        log.warning("snapshot unreadable; trying the next", error=repr(exc))
                        continue
                    if snapshot.next_offset >= first_offset:
                        return snapshot
        raise BrokerUnavailable("the snapshot stream's channel closed while it was being read")

    async def _newest_until(self, marker: str) -> bytes | None:
        async with self._broker.scoped_channel(streams=True) as channel:
            await channel.set_qos(prefetch_count=8, timeout=SETUP_TIMEOUT_S)
            queue = await channel.get_queue(self._broker.settings.names.snapshots, ensure=False)
            assembly = _Assembly()
            messages = consume(queue, channel, arguments={STREAM_OFFSET: "first"})
            async for message in messages:
                await message.ack()
                if message.headers.get(MARKER_HEADER) == marker:
                    return assembly.newest
                assembly.add(message.headers, message.body)
        raise BrokerUnavailable("the snapshot stream's channel closed while it was being read")


class _Assembly:
    """Parts gathered by snapshot id; the newest complete snapshot wins. Parts of snapshots
    that say they cover less than `first_offset` are not kept."""

    def __init__(self, first_offset: int = 0) -> None:
        self.parts: dict[str, dict[int, bytes]] = {}
        self.newest: bytes | None = None
        self._first = first_offset

    def add(self, headers: Mapping[str, object], body: bytes) -> bool:
        """True when this part completed a snapshot (then `newest`)."""
        snapshot_id = headers.get(_ID)
        if not isinstance(snapshot_id, str):
            return False  # a marker of another reader
        said = headers.get(_NEXT)  # absent from the snapshots of earlier versions
        if said is not None and int(str(said)) < self._first:
            return False
        index, count = int(str(headers[_PART])), int(str(headers[_PARTS]))
        parts = self.parts.setdefault(snapshot_id, {})
        parts[index] = body
        if len(parts) == count:
            self.newest = b"".join(parts[i] for i in range(count))
            del self.parts[snapshot_id]
            return True
        return False
