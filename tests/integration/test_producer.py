"""The producer's batching bound (`max_batch` events per append at most, in order), and its
deadlines: an append under way decides the answer, and withdrawn events are never sent."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from podium.events.filelog import FileEventLog
from podium.events.model import Event, JobReady
from podium.events.ports import LogUnavailable
from podium.events.producer import Producer
from tests.integration.test_filelog import read_all


def readies(count: int) -> list[Event]:
    return [JobReady(at=1.0, job=str(n)) for n in range(1, count + 1)]


async def test_more_events_than_max_batch_go_in_several_appends_in_order(tmp_path: Path) -> None:
    log = await FileEventLog.open(tmp_path / "events.log", fsync=False)
    producer = Producer(log, origin="p", max_batch=2)
    producer.start()
    stamped = await producer.emit(readies(5))
    await producer.close()
    records = await read_all(log)
    await log.close()
    assert [len(record.events) for record in records] == [2, 2, 1]
    assert [event.seq for record in records for event in record.events] == [1, 2, 3, 4, 5]
    assert [event.seq for event in stamped] == [1, 2, 3, 4, 5]


async def test_a_max_batch_of_one_appends_each_event_alone(tmp_path: Path) -> None:
    log = await FileEventLog.open(tmp_path / "events.log", fsync=False)
    producer = Producer(log, origin="p", max_batch=1)
    producer.start()
    await producer.emit(readies(3))
    await producer.emit(readies(1))
    await producer.close()
    records = await read_all(log)
    await log.close()
    assert [len(record.events) for record in records] == [1, 1, 1, 1]


class HeldLog(FileEventLog):
    """A file log whose next append waits until released, then lands or fails as told: a real
    disk cannot be made to hold an append across a caller's deadline on cue."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.entered = asyncio.Event()
        self.release = asyncio.Event()
        self.fail_once = False
        self.held = True

    async def append(self, batch: Sequence[Event]) -> None:
        if self.held:
            self.held = False
            self.entered.set()
            await self.release.wait()
            if self.fail_once:
                raise LogUnavailable("held and failed", sent=False)
        await super().append(batch)


async def held_log(path: Path) -> HeldLog:
    log = await FileEventLog.open(path, fsync=False)
    await log.close()
    opened = await asyncio.to_thread(HeldLog._open, path, False)
    assert isinstance(opened, HeldLog)
    return opened


@pytest.mark.parametrize("lands", [True, False])
async def test_an_append_under_way_at_the_deadline_decides_the_answer(
    tmp_path: Path, lands: bool
) -> None:
    log = await held_log(tmp_path / "events.log")
    log.fail_once = not lands
    producer = Producer(log, origin="api")
    producer.start()
    caller = asyncio.create_task(producer.emit(readies(1), timeout_s=0.05))
    await log.entered.wait()
    await asyncio.sleep(0.2)  # past the caller's deadline, with its append under way
    assert not caller.done()
    log.release.set()
    if lands:
        assert [event.seq for event in await caller] == [1]
    else:
        with pytest.raises(LogUnavailable, match="held and failed"):
            await caller
    await producer.emit(readies(1), timeout_s=5)
    await asyncio.sleep(0.3)  # past the first retry delay: a resend would have landed by now
    await producer.close()
    records = await read_all(log)
    await log.close()
    assert [[e.seq for e in r.events] for r in records] == ([[1], [2]] if lands else [[2]])
