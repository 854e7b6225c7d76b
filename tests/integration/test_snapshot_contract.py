"""One contract for every SnapshotStore adapter: a file beside the log, and a RabbitMQ stream."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from podium.events.amqp.snapshots import AmqpSnapshots
from podium.events.fold import fold_all
from podium.events.model import TokenIssued
from podium.events.ports import SnapshotStore
from podium.events.snapshots import FileSnapshots, Snapshot
from tests.conftest import open_broker


@pytest.fixture(params=["file", "amqp"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SnapshotStore]:
    if request.param == "file":
        yield FileSnapshots(tmp_path / "snapshot.bin")
        return
    async with open_broker(request.getfixturevalue("amqp_settings")) as broker:
        yield await AmqpSnapshots.open(broker)


def snapshot(users: int, next_offset: int) -> Snapshot:
    history = [
        TokenIssued(at=1.0, token_sha256=f"t{i}", user_id=f"u{i}", login=f"l{i}", origin="o", seq=i)
        for i in range(1, users + 1)
    ]
    return Snapshot(next_offset=next_offset, state=fold_all(history))


async def test_a_store_with_nothing_saved_has_no_latest(store: SnapshotStore) -> None:
    assert await store.latest() is None


async def test_the_latest_is_the_newest_saved_as_it_was(store: SnapshotStore) -> None:
    older, newer = snapshot(3, next_offset=4), snapshot(5, next_offset=9)
    await store.save(older)
    assert await store.latest() == older
    await store.save(newer)
    assert await store.latest() == newer
